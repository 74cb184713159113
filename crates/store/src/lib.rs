//! The keyspace: every database's keys, split into independently locked stripes.
//!
//! A request runs on the worker that received it; it hashes its key once
//! ([`Keyspace::hash`]), locks that key's stripe ([`Keyspace::stripe`]), executes, and unlocks.
//! With at least 64 stripes per worker two workers rarely want the same stripe, and a lock is
//! held for the few hundred nanoseconds of one command, so striping costs an uncontended
//! futex pair per command and no thread hand-off.
//!
//! Commands with several keys lock their stripes in ascending index order
//! ([`Keyspace::lock_stripes`]), which rules out deadlock between two such commands.
//!
//! Time is passed in by the caller (Unix milliseconds), never read here: the server reads the
//! clock once per loop turn, and tests drive expiry with any clock they like.

mod glob;
mod hash;
mod held;
mod set;
mod stripe;
mod value;
mod zset;

pub use glob::glob_match;
pub use hash::{Hash, PackLimits};
pub use held::StripeGuard;
pub use set::Set;
pub use stripe::{Evict, RemovalHook, Stripe};
pub use value::{AccessPolicy, Entry, Str, Value, LFU_INIT};
pub use zset::{format_score, Score, ZSet};

use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard};

/// All databases of a node.
pub struct Keyspace {
    stripes: Box<[Mutex<Stripe>]>,
    mask: usize,
    hasher: foldhash::fast::FixedState,
    databases: usize,
    /// The snapshot in progress, if any: it is given each stripe once, before anyone changes
    /// that stripe (see [`Keyspace::begin_snapshot`]).
    snapshot: Mutex<Option<SnapshotSink>>,
}

/// Receives each stripe of a snapshot in progress, exactly once, as it was when the snapshot
/// began.
pub type SnapshotSink = Box<dyn FnMut(&Stripe) + Send>;

/// Samples per database per stripe in one active-expiry round (Redis's
/// `ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP` is 20).
const EXPIRE_SAMPLES: usize = 20;

impl Keyspace {
    /// A keyspace of `databases` databases with at least `min_stripes` stripes (rounded up to
    /// a power of two, so a stripe is picked with a mask).
    pub fn new(databases: usize, min_stripes: usize) -> Self {
        let n = min_stripes.max(1).next_power_of_two();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        let hasher = foldhash::fast::FixedState::with_seed(seed);
        let stripes = (0..n)
            .map(|i| Mutex::new(Stripe::new(databases, seed ^ ((i as u64 + 1) * 0x9e37_79b9))))
            .collect();
        Keyspace { stripes, mask: n - 1, hasher, databases, snapshot: Mutex::new(None) }
    }

    pub fn databases(&self) -> usize {
        self.databases
    }

    pub fn stripe_count(&self) -> usize {
        self.stripes.len()
    }

    /// The key's hash, used both to choose its stripe and to probe that stripe's table.
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Index of the stripe that holds keys with this hash. The table inside a stripe indexes
    /// by the low bits, so the stripe is chosen from the high bits to keep the two independent.
    pub fn stripe_index(&self, hash: u64) -> usize {
        (hash >> 40) as usize & self.mask
    }

    /// Locks the stripe holding keys with this hash (or borrows it from a transaction
    /// running on this thread: see `held`).
    pub fn stripe(&self, hash: u64) -> StripeGuard<'_> {
        self.acquire(self.stripe_index(hash))
    }

    /// Warms the cache for the lookups of a pipeline's keys (their hashes) before its commands
    /// run. A lookup over a keyspace larger than the cache is a chain of dependent misses
    /// (control bytes and index, entry, value), and one command's chain cannot start before the
    /// previous command is done. Here each step is taken for every key before the next, so the
    /// keys' misses overlap. Only loads: nothing is changed, and an answer that is wrong or
    /// stale by the time a command runs costs a wasted load, not a wrong result. Stripes are
    /// taken with `try_lock` (one that is busy, or held by this thread, is skipped), each once
    /// however many keys it has. A keyspace small enough to stay in cache is left alone, and
    /// the answer is `false` (the caller can stop asking for a while).
    pub fn prefetch(&self, db: usize, hashes: &[u64]) -> bool {
        const MAX: usize = 32;
        let n = hashes.len().min(MAX);
        let mut held: [Option<(usize, MutexGuard<'_, Stripe>)>; MAX] = std::array::from_fn(|_| None);
        let mut nheld = 0;
        // For each key, which of `held` holds its stripe.
        let mut by_key = [usize::MAX; MAX];
        for (i, &h) in hashes[..n].iter().enumerate() {
            let s = self.stripe_index(h);
            let known = held[..nheld].iter().position(|g| g.as_ref().is_some_and(|(j, _)| *j == s));
            by_key[i] = match known {
                Some(g) => g,
                None => match self.stripes[s].try_lock() {
                    Ok(guard) => {
                        if nheld == 0 && guard.len(db) * self.stripes.len() < PREFETCH_MIN_KEYS {
                            return false;
                        }
                        held[nheld] = Some((s, guard));
                        nheld += 1;
                        nheld - 1
                    }
                    Err(_) => continue,
                },
            };
        }
        let stripe = |i: usize| held.get(by_key[i]).and_then(|g| g.as_ref()).map(|(_, g)| &**g);
        let mut idx = [usize::MAX; MAX];
        for (i, &h) in hashes[..n].iter().enumerate() {
            if let Some(x) = stripe(i).and_then(|s| s.probable_index(db, h)) {
                idx[i] = x;
            }
        }
        let mut heap = [false; MAX];
        for i in 0..n {
            heap[i] = idx[i] != usize::MAX && stripe(i).is_some_and(|s| s.load_entry(db, idx[i]));
        }
        for i in 0..n {
            if heap[i] {
                if let Some(s) = stripe(i) {
                    s.load_value(db, idx[i]);
                }
            }
        }
        true
    }

    /// Every stripe lock goes through here.
    fn acquire(&self, i: usize) -> StripeGuard<'_> {
        match held::route(self as *const Keyspace as usize, i) {
            held::Route::Held(g) => g,
            held::Route::Lock => StripeGuard::Locked(self.lock_at(i)),
        }
    }

    /// Locks stripe `i`. When a snapshot has not taken it yet, it is handed to the snapshot
    /// first, under this lock: whatever the locker does next is not in the snapshot.
    fn lock_at(&self, i: usize) -> MutexGuard<'_, Stripe> {
        let mut g = lock(&self.stripes[i]);
        if g.snap_pending {
            g.snap_pending = false;
            if let Some(sink) = lock(&self.snapshot).as_mut() {
                sink(&g);
            }
        }
        g
    }

    /// Starts a point-in-time snapshot without stopping writers for its length: with every
    /// stripe locked (briefly: no data is read), marks them all pending, installs `sink` and
    /// runs `at_start` (which reads the replication offset the snapshot corresponds to). From
    /// then on the first locker of a pending stripe, writer or [`Keyspace::finish_snapshot`],
    /// hands it to `sink` before using it, so `sink` sees every stripe as it was at the start.
    pub fn begin_snapshot<R>(&self, sink: SnapshotSink, at_start: impl FnOnce() -> R) -> R {
        let mut guards: Vec<MutexGuard<'_, Stripe>> =
            (0..self.stripes.len()).map(|i| self.lock_at(i)).collect();
        *lock(&self.snapshot) = Some(sink);
        for g in &mut guards {
            g.snap_pending = true;
        }
        at_start()
    }

    /// Hands every stripe the snapshot has not had yet to it (one stripe locked at a time),
    /// then removes the sink.
    pub fn finish_snapshot(&self) {
        for i in 0..self.stripes.len() {
            drop(self.lock_at(i));
        }
        *lock(&self.snapshot) = None;
    }

    /// Installs `hook` on every stripe (see [`RemovalHook`]).
    pub fn set_removal_hook(&self, hook: Option<RemovalHook>) {
        for i in 0..self.stripes.len() {
            self.lock_at(i).on_remove = hook.clone();
        }
    }

    /// A replica's keyspace keeps keys whose time has passed until told to delete them.
    pub fn set_keep_expired(&self, keep: bool) {
        for i in 0..self.stripes.len() {
            self.lock_at(i).keep_expired = keep;
        }
    }

    /// Runs `f` with the stripes `indexes` (all stripes when `None`) locked for its whole
    /// duration, in ascending order; commands inside `f` get them without locking again. This
    /// is how EXEC is atomic across the stripes it touches.
    pub fn exec<R: 'static>(&self, indexes: Option<&[usize]>, f: impl FnOnce() -> R) -> R {
        let mut idx: Vec<usize> = match indexes {
            Some(i) => i.to_vec(),
            None => (0..self.stripes.len()).collect(),
        };
        idx.sort_unstable();
        idx.dedup();
        let mut guards: Vec<(usize, MutexGuard<'_, Stripe>)> =
            idx.into_iter().map(|i| (i, self.lock_at(i))).collect();
        // Declared after `guards`, so it drops (unregistering the pointers) before they do.
        let _token = held::hold(self as *const Keyspace as usize, &mut guards);
        f()
    }

    /// Locks every stripe that any of `hashes` maps to, once each, in ascending order, and
    /// returns the guards with their indexes (sorted by index).
    pub fn lock_stripes(&self, hashes: &[u64]) -> Vec<(usize, StripeGuard<'_>)> {
        let mut idx: Vec<usize> = hashes.iter().map(|&h| self.stripe_index(h)).collect();
        idx.sort_unstable();
        idx.dedup();
        idx.into_iter().map(|i| (i, self.acquire(i))).collect()
    }

    /// Locks the stripes of all `hashes` (see [`Keyspace::lock_stripes`]) and returns a handle
    /// that finds the right one for each key.
    pub fn lock_keys(&self, hashes: &[u64]) -> Locked<'_> {
        Locked { ks: self, guards: self.lock_stripes(hashes) }
    }

    /// Locks every stripe, in order (SWAPDB, which must be atomic across the keyspace).
    pub fn lock_all(&self) -> Vec<StripeGuard<'_>> {
        (0..self.stripes.len()).map(|i| self.acquire(i)).collect()
    }

    /// Locks stripe `i` (for walking the keyspace stripe by stripe: KEYS, SCAN).
    pub fn stripe_at(&self, i: usize) -> StripeGuard<'_> {
        self.acquire(i)
    }

    /// A random live key of `db` (RANDOMKEY): a random non-empty stripe, then a random entry.
    pub fn random_key(&self, db: usize, now_ms: u64, seed: u64) -> Option<Box<[u8]>> {
        let n = self.stripes.len();
        let start = (seed as usize) & self.mask;
        for i in 0..n {
            let mut s = self.acquire((start + i) & self.mask);
            if let Some(k) = s.random_key(db, now_ms) {
                return Some(k);
            }
        }
        None
    }

    /// Runs `f` on each stripe in turn, holding only that stripe's lock.
    pub fn for_each_stripe(&self, mut f: impl FnMut(&mut Stripe)) {
        for i in 0..self.stripes.len() {
            f(&mut self.acquire(i));
        }
    }

    /// Keys in `db` (DBSIZE).
    pub fn len(&self, db: usize) -> usize {
        let mut n = 0;
        self.for_each_stripe(|s| n += s.len(db));
        n
    }

    /// Empties one database (FLUSHDB) or, with `None`, all of them (FLUSHALL).
    pub fn flush(&self, db: Option<usize>) {
        self.for_each_stripe(|s| match db {
            Some(db) => s.clear(db),
            None => (0..self.databases).for_each(|d| s.clear(d)),
        });
    }

    /// Active expiry for the stripes that `worker` of `workers` owns (stripe index modulo
    /// workers), so each worker sweeps its share on its own timer and no stripe is swept
    /// twice. A stripe is re-sampled while more than a quarter of its samples had expired,
    /// at most `max_rounds` times. Returns the number of keys removed.
    pub fn active_expire(&self, worker: usize, workers: usize, now_ms: u64, max_rounds: usize) -> usize {
        let mut removed = 0;
        for i in (worker..self.stripes.len()).step_by(workers.max(1)) {
            let mut s = self.lock_at(i);
            for _ in 0..max_rounds {
                let (seen, gone) = s.expire_sample(now_ms, EXPIRE_SAMPLES);
                removed += gone;
                if seen == 0 || gone * 4 <= seen {
                    break;
                }
            }
        }
        removed
    }

    /// Sets how key accesses are recorded (on a policy change between LRU and LFU, existing
    /// keys' fields are read the new way until next used, as in Redis).
    pub fn set_access_policy(&self, p: AccessPolicy) {
        self.for_each_stripe(|s| s.policy = p);
    }

    /// Evicts one key, Redis's way: samples `samples` keys (each from a random stripe, so the
    /// sample is close to uniform over the keyspace) and removes the one `how` ranks first.
    /// Returns the bytes freed, or None when no key is eligible anywhere.
    pub fn evict_one(
        &self,
        samples: usize,
        volatile: bool,
        how: Evict,
        now_ms: u64,
        seed: u64,
    ) -> Option<usize> {
        let mut rng = seed | 1;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let want = if how == Evict::Random { 1 } else { samples.max(1) };
        let mut best: Option<(usize, usize, Box<[u8]>, u64)> = None;
        let (mut seen, mut tries) = (0, 0);
        while seen < want && tries < want * 8 {
            tries += 1;
            let si = next() as usize & self.mask;
            if let Some((db, key, score)) = self.acquire(si).eviction_candidate(volatile, how, now_ms) {
                seen += 1;
                if best.as_ref().is_none_or(|b| score < b.3) {
                    best = Some((si, db, key, score));
                }
            }
        }
        if best.is_none() {
            // Few eligible keys: look at every stripe before declaring there are none.
            for si in 0..self.stripes.len() {
                if let Some((db, key, score)) = self.acquire(si).eviction_candidate(volatile, how, now_ms) {
                    best = Some((si, db, key, score));
                    break;
                }
            }
        }
        let (si, db, key, _) = best?;
        let h = self.hash(&key);
        let freed = self.acquire(si).evict(db, h, &key, now_ms);
        // Someone may have removed it between the sample and now: that made room too.
        Some(freed.unwrap_or(0))
    }

    /// Keys evicted so far (INFO `evicted_keys`).
    pub fn evicted(&self) -> u64 {
        let mut n = 0;
        self.for_each_stripe(|s| n += s.evicted);
        n
    }

    /// (expired_keys, used_memory_dataset) summed over stripes.
    pub fn stats(&self) -> (u64, usize) {
        let (mut expired, mut bytes) = (0, 0);
        self.for_each_stripe(|s| {
            expired += s.expired;
            bytes += s.bytes;
        });
        (expired, bytes)
    }

    /// (keys, keys with expiry) per database, for INFO keyspace.
    pub fn db_counts(&self) -> Vec<(usize, usize)> {
        let mut out = vec![(0, 0); self.databases];
        self.for_each_stripe(|s| {
            for (db, c) in out.iter_mut().enumerate() {
                let (k, v) = s.counts(db);
                c.0 += k;
                c.1 += v;
            }
        });
        out
    }
}

/// Several stripes held at once, for a command over several keys.
pub struct Locked<'a> {
    ks: &'a Keyspace,
    guards: Vec<(usize, StripeGuard<'a>)>,
}

impl Locked<'_> {
    /// The locked stripe holding keys with `hash` (which MUST be among the hashes locked).
    pub fn stripe(&mut self, hash: u64) -> &mut Stripe {
        let i = self.ks.stripe_index(hash);
        let g = self.guards.iter_mut().find(|(idx, _)| *idx == i).expect("stripe locked by lock_keys");
        &mut g.1
    }
}

/// Below this many keys (estimated from one stripe) the keyspace's tables are assumed to stay
/// in cache, and [`Keyspace::prefetch`] does nothing.
const PREFETCH_MIN_KEYS: usize = 16 * 1024;

/// Locks a stripe. A panic while a stripe was held poisons its mutex; the stripe's tables are
/// still structurally sound (each mutation completes before the next begins), so later
/// commands keep using it rather than taking the node down.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(ks: &Keyspace, db: usize, key: &[u8], v: &[u8], exp: u64, now: u64) {
        let h = ks.hash(key);
        ks.stripe(h).set(db, h, key, Value::string(v), exp, now);
    }

    fn get(ks: &Keyspace, db: usize, key: &[u8], now: u64) -> Option<Value> {
        let h = ks.hash(key);
        ks.stripe(h).get(db, h, key, now).map(|e| e.value.clone())
    }

    #[test]
    fn a_snapshot_sees_every_stripe_as_it_was_when_it_began() {
        let ks = Keyspace::new(1, 64);
        for i in 0..200u32 {
            put(&ks, 0, format!("k{i}").as_bytes(), b"old", 0, 1);
        }
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink_seen = seen.clone();
        let sink: SnapshotSink = Box::new(move |s: &Stripe| {
            s.for_each_live(0, 1, |k, e| lock(&sink_seen).push((k.to_vec(), e.value.clone())))
        });
        let marker = ks.begin_snapshot(sink, || 7);
        assert_eq!(marker, 7);
        // Writes after the start: overwrite half the keys, add new ones.
        for i in 0..100u32 {
            put(&ks, 0, format!("k{i}").as_bytes(), b"new", 0, 1);
            put(&ks, 0, format!("n{i}").as_bytes(), b"new", 0, 1);
        }
        ks.finish_snapshot();
        let mut seen = lock(&seen).clone();
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(seen.len(), 200, "every key once, none of the later ones");
        assert!(seen.iter().all(|(k, v)| k.starts_with(b"k") && *v == Value::string(b"old")));
        // The live keyspace has the writes, and a later lock does not call the sink again.
        assert_eq!(get(&ks, 0, b"k5", 1), Some(Value::string(b"new")));
        assert_eq!(ks.len(0), 300);
    }

    #[test]
    fn a_replica_keyspace_hides_expired_keys_without_removing_them() {
        let ks = Keyspace::new(1, 64);
        let removed = std::sync::Arc::new(Mutex::new(Vec::new()));
        let r = removed.clone();
        ks.set_removal_hook(Some(std::sync::Arc::new(move |db, k: &[u8]| lock(&r).push((db, k.to_vec())))));
        put(&ks, 0, b"a", b"1", 10, 1);
        ks.set_keep_expired(true);
        assert_eq!(get(&ks, 0, b"a", 20), None);
        assert_eq!(ks.len(0), 1, "kept until the primary deletes it");
        assert_eq!(ks.active_expire(0, 1, 20, 4), 0);
        assert!(lock(&removed).is_empty());
        ks.set_keep_expired(false);
        assert_eq!(get(&ks, 0, b"a", 20), None);
        assert_eq!(ks.len(0), 0);
        assert_eq!(*lock(&removed), vec![(0, b"a".to_vec())], "the removal hook saw the expiry");
    }

    #[test]
    fn prefetch_reads_only_and_skips_small_keyspaces_and_busy_stripes() {
        let ks = Keyspace::new(2, 64);
        let keys: Vec<Vec<u8>> = (0..20_000u32).map(|i| format!("key:{i:08}").into_bytes()).collect();
        let hashes: Vec<u64> = keys.iter().map(|k| ks.hash(k)).collect();
        put(&ks, 0, &keys[0], b"v", 0, 1);
        assert!(!ks.prefetch(0, &hashes[..16]), "one key: stays in cache, nothing to do");
        for (i, k) in keys.iter().enumerate() {
            // Short values inline, long ones on the heap, some keys with an expiry.
            let v = if i % 2 == 0 { b"short".to_vec() } else { vec![b'x'; 100] };
            put(&ks, 0, k, &v, if i % 3 == 0 { 500 } else { 0 }, 1);
        }
        // Keys that exist and keys that do not, a busy stripe (held here: try_lock fails on
        // it, and nothing waits), and the other database.
        let mut batch: Vec<u64> = hashes[..20].to_vec();
        batch.push(ks.hash(b"missing"));
        let busy = ks.stripe(hashes[3]);
        assert!(ks.prefetch(0, &batch));
        drop(busy);
        assert!(!ks.prefetch(1, &batch), "database 1 is empty");
        assert!(ks.prefetch(0, &hashes), "more than 32 keys: the first 32");
        assert_eq!(ks.len(0), 20_000, "nothing removed, not even keys whose time has passed");
        assert_eq!(ks.stats().0, 0);
        for (i, k) in keys.iter().enumerate().take(100) {
            let want = if i % 2 == 0 { Value::string(b"short") } else { Value::string(&[b'x'; 100]) };
            assert_eq!(get(&ks, 0, k, 1), Some(want));
        }
    }

    #[test]
    fn stripes_are_a_power_of_two_at_least_the_minimum() {
        assert_eq!(Keyspace::new(16, 100).stripe_count(), 128);
        assert_eq!(Keyspace::new(16, 128).stripe_count(), 128);
    }

    #[test]
    fn databases_are_separate() {
        let ks = Keyspace::new(16, 64);
        put(&ks, 0, b"k", b"zero", 0, 1);
        put(&ks, 3, b"k", b"three", 0, 1);
        assert_eq!(get(&ks, 0, b"k", 1), Some(Value::Raw(b"zero"[..].into())));
        assert_eq!(get(&ks, 3, b"k", 1), Some(Value::Raw(b"three"[..].into())));
        assert_eq!(get(&ks, 1, b"k", 1), None);
        ks.flush(Some(0));
        assert_eq!(get(&ks, 0, b"k", 1), None);
        assert_eq!(ks.len(3), 1);
        ks.flush(None);
        assert_eq!(ks.len(3), 0);
    }

    #[test]
    fn a_key_expires_lazily_at_its_time_and_not_before() {
        let ks = Keyspace::new(1, 64);
        put(&ks, 0, b"k", b"v", 1_000, 0);
        assert!(get(&ks, 0, b"k", 999).is_some());
        assert!(get(&ks, 0, b"k", 1_000).is_none());
        assert_eq!(ks.stats().0, 1);
        assert_eq!(ks.len(0), 0);
    }

    #[test]
    fn active_expiry_removes_expired_keys_without_access() {
        let ks = Keyspace::new(1, 64);
        for i in 0..2_000u32 {
            put(&ks, 0, format!("k{i}").as_bytes(), b"v", if i % 2 == 0 { 500 } else { 0 }, 0);
        }
        let mut removed = 0;
        for _ in 0..100 {
            removed += ks.active_expire(0, 1, 600, 16);
        }
        assert_eq!(removed, 1_000);
        assert_eq!(ks.len(0), 1_000);
        assert_eq!(ks.db_counts()[0], (1_000, 0));
    }

    #[test]
    fn workers_sweep_disjoint_stripes() {
        let ks = Keyspace::new(1, 64);
        for i in 0..500u32 {
            put(&ks, 0, format!("k{i}").as_bytes(), b"v", 10, 0);
        }
        let mut removed = 0;
        for _ in 0..50 {
            removed += ks.active_expire(0, 2, 20, 16);
        }
        assert!(removed < 500 && removed > 0, "worker 0 of 2 swept {removed}");
        for _ in 0..50 {
            removed += ks.active_expire(1, 2, 20, 16);
        }
        assert_eq!(removed, 500);
    }

    #[test]
    fn overwriting_keeps_memory_accounting_balanced() {
        let ks = Keyspace::new(1, 64);
        put(&ks, 0, b"k", b"a-long-enough-value", 5, 0);
        put(&ks, 0, b"k", b"x", 0, 0);
        let h = ks.hash(b"k");
        ks.stripe(h).remove(0, h, b"k", 0);
        assert_eq!(ks.stats().1, 0);
    }

    #[test]
    fn lock_stripes_dedups_and_orders() {
        let ks = Keyspace::new(1, 64);
        let hashes: Vec<u64> = [b"a", b"b", b"a"].iter().map(|k| ks.hash(*k)).collect();
        let guards = ks.lock_stripes(&hashes);
        assert!(guards.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(guards.len() <= 2);
    }
}

#[cfg(test)]
mod eviction_tests {
    use super::*;

    #[test]
    fn sampled_lru_eviction_keeps_recently_used_keys() {
        let ks = Keyspace::new(16, 64);
        // 2000 keys written at t = 0..2000 ms; the first 50 are used again at t = 2000.
        for i in 0..2000u64 {
            let k = format!("k{i}");
            let h = ks.hash(k.as_bytes());
            ks.stripe(h).set(0, h, k.as_bytes(), Value::string(b"v"), 0, i);
        }
        for i in 0..50u64 {
            let k = format!("k{i}");
            let h = ks.hash(k.as_bytes());
            ks.stripe(h).get(0, h, k.as_bytes(), 2000);
        }
        let mut seed = 7u64;
        for _ in 0..1500 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ks.evict_one(5, false, Evict::Coldest, 2001, seed).unwrap();
        }
        let alive = (0..50u64)
            .filter(|i| {
                let k = format!("k{i}");
                let h = ks.hash(k.as_bytes());
                ks.stripe(h).peek(0, h, k.as_bytes(), 2001).is_some()
            })
            .count();
        assert!(alive >= 48, "{alive} of 50 recently used keys kept");
        // The oldest untouched keys went first.
        let old_alive = (50..550u64)
            .filter(|i| {
                let k = format!("k{i}");
                let h = ks.hash(k.as_bytes());
                ks.stripe(h).peek(0, h, k.as_bytes(), 2001).is_some()
            })
            .count();
        assert!(old_alive < 100, "{old_alive} of the 500 oldest kept");
    }
}
