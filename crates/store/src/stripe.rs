//! One stripe of the keyspace: a hash table per database, behind the stripe's lock.
//!
//! Tables are `IndexMap`s: entries live in a dense vector, so a uniformly random key is one
//! index away. Active expiry samples that way (as Redis samples its dict), and eviction will
//! too. Lookups pass the hash that [`crate::Keyspace::hash`] computed once, so choosing the
//! stripe and probing its table hash the key a single time.

use crate::value::{AccessPolicy, Entry, Value};
use indexmap::map::raw_entry_v1::{RawEntryApiV1, RawEntryMut};
use indexmap::IndexMap;

pub(crate) type Table = IndexMap<Key, Entry, foldhash::fast::FixedState>;

/// A key as a table holds it: up to 16 bytes inline in the table's own bucket, longer ones on
/// the heap; 24 bytes either way (smallvec's `union` layout). With 100k random keys, comparing
/// a boxed key was a cache miss of its own on every lookup (`memcmp` was 16% of a TLS GET
/// server's CPU); inline, the key is in the bucket the lookup has just loaded.
pub(crate) type Key = smallvec::SmallVec<[u8; 16]>;

/// A watched key's modification counter and how many clients watch it.
#[derive(Default)]
struct Watch {
    version: u64,
    watchers: u32,
}

/// The keys of one stripe, for every database.
pub struct Stripe {
    /// Keys some client WATCHes, with a counter every write bumps (Redis's `watched_keys`).
    /// Empty unless someone watches a key here, so writes pay one `is_empty` check.
    watched: std::collections::HashMap<(usize, Box<[u8]>), Watch, foldhash::fast::FixedState>,
    dbs: Vec<Table>,
    /// Keys with an expiry time, across databases: active expiry skips stripes with none.
    volatile: usize,
    /// Keys removed because their time had passed (INFO `expired_keys`).
    pub(crate) expired: u64,
    /// Approximate bytes held by keys and values (INFO `used_memory_dataset`).
    pub(crate) bytes: usize,
    /// Keys removed to make room under `maxmemory` (INFO `evicted_keys`).
    pub(crate) evicted: u64,
    /// How key accesses are recorded (LRU time or LFU counter).
    pub(crate) policy: AccessPolicy,
    /// State of this stripe's random sampler (xorshift).
    rng: u64,
    /// A snapshot in progress has not serialised this stripe yet: whoever locks it next
    /// serialises it first (see `Keyspace::begin_snapshot`).
    pub(crate) snap_pending: bool,
    /// Told of every key removed by expiry or eviction (replication sends them as DEL).
    pub(crate) on_remove: Option<RemovalHook>,
    /// A replica's keyspace: keys whose time has passed read as missing but stay until the
    /// primary deletes them, and active expiry skips them.
    pub(crate) keep_expired: bool,
}

/// Called with (db, key) for each key removed because it expired or was evicted, with the
/// stripe still locked (so what it records is ordered with the writes to that stripe).
pub type RemovalHook = std::sync::Arc<dyn Fn(usize, &[u8]) + Send + Sync>;

/// What eviction drops first among the keys it samples (`maxmemory-policy` without its
/// allkeys/volatile half).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evict {
    /// Least recently used, or least frequently used under an LFU access policy.
    Coldest,
    Random,
    /// Nearest expiry time (volatile-ttl).
    SoonestExpiry,
}

impl Stripe {
    pub(crate) fn new(databases: usize, seed: u64) -> Self {
        Stripe {
            watched: Default::default(),
            dbs: (0..databases).map(|_| Table::with_hasher(foldhash::fast::FixedState::default())).collect(),
            volatile: 0,
            expired: 0,
            bytes: 0,
            evicted: 0,
            policy: AccessPolicy::default(),
            rng: seed | 1,
            snap_pending: false,
            on_remove: None,
            keep_expired: false,
        }
    }

    /// The live entry for `key`, removing it first if its time has passed (lazy expiry). This
    /// is a use of the key: its LRU time or LFU counter is updated.
    pub fn get(&mut self, db: usize, hash: u64, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        let random = if self.policy.lfu { self.next_random() } else { 0 };
        let policy = self.policy;
        let e = self.peek(db, hash, key, now_ms)?;
        e.access = policy.touched(e.access, now_ms, random);
        Some(e)
    }

    /// Like [`Stripe::get`] without counting a use (TYPE, TTL, EXISTS, OBJECT: Redis's
    /// `LOOKUP_NOTOUCH`).
    pub fn peek(&mut self, db: usize, hash: u64, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        let table = &mut self.dbs[db];
        let idx = table.raw_entry_v1().index_from_hash(hash, |k| &**k == key)?;
        if table[idx].is_expired(now_ms) {
            if !self.keep_expired {
                self.remove_index(db, idx, true);
            }
            return None;
        }
        Some(&mut self.dbs[db][idx])
    }

    /// Where `key`'s entry probably is, from the table's control bytes and index alone: the
    /// first slot whose 7-bit tag matches, without reading an entry to compare keys. For
    /// prefetching only (the answer may be another key's entry, or stale by the time it is used).
    pub(crate) fn probable_index(&self, db: usize, hash: u64) -> Option<usize> {
        self.dbs[db].raw_entry_v1().index_from_hash(hash, |_| true)
    }

    /// Reads the entry at `idx` (its key, expiry and the value's pointer) so a lookup that
    /// follows finds it in cache; whether the value has heap bytes to load next.
    pub(crate) fn load_entry(&self, db: usize, idx: usize) -> bool {
        let Some((k, e)) = self.dbs[db].get_index(idx) else { return false };
        std::hint::black_box((k.len(), e.expire_at_ms));
        matches!(&e.value, Value::Raw(crate::value::Str::Heap(_)))
    }

    /// Reads the first byte of the heap string at `idx`, for the same reason.
    pub(crate) fn load_value(&self, db: usize, idx: usize) {
        if let Some((_, e)) = self.dbs[db].get_index(idx) {
            if let Value::Raw(crate::value::Str::Heap(b)) = &e.value {
                std::hint::black_box(b.first().copied());
            }
        }
    }

    /// Sets a live key's access field (RESTORE's IDLETIME and FREQ).
    pub fn set_access(&mut self, db: usize, hash: u64, key: &[u8], now_ms: u64, access: u32) {
        if let Some(e) = self.peek(db, hash, key, now_ms) {
            e.access = access;
        }
    }

    /// The access policy keys of this stripe are recorded under.
    pub fn access_policy(&self) -> AccessPolicy {
        self.policy
    }

    /// One eviction candidate: a uniformly random key of this stripe (only keys with an
    /// expiry when `volatile`), its database and how `how` ranks it (lower goes first).
    pub fn eviction_candidate(
        &mut self,
        volatile: bool,
        how: Evict,
        now_ms: u64,
    ) -> Option<(usize, Box<[u8]>, u64)> {
        if volatile && self.volatile == 0 {
            return None;
        }
        let total: usize = self.dbs.iter().map(|t| t.len()).sum();
        if total == 0 {
            return None;
        }
        for _ in 0..8 {
            let mut idx = (self.next_random() % total as u64) as usize;
            let mut db = 0;
            while idx >= self.dbs[db].len() {
                idx -= self.dbs[db].len();
                db += 1;
            }
            let (k, e) = self.dbs[db].get_index(idx).expect("index below the length");
            if volatile && e.expire_at_ms == 0 {
                continue;
            }
            let score = match how {
                Evict::Coldest => self.policy.keep_score(e.access, now_ms),
                Evict::Random => 0,
                Evict::SoonestExpiry => e.expire_at_ms,
            };
            return Some((db, Box::from(&k[..]), score));
        }
        None
    }

    /// Removes `key` to make room (counted in INFO `evicted_keys`); returns the bytes freed.
    pub fn evict(&mut self, db: usize, hash: u64, key: &[u8], now_ms: u64) -> Option<usize> {
        let before = self.bytes;
        let idx = self.dbs[db].raw_entry_v1().index_from_hash(hash, |k| &**k == key)?;
        let expired = self.dbs[db][idx].is_expired(now_ms);
        self.remove_index(db, idx, expired);
        if !expired {
            self.evicted += 1;
            if let Some(hook) = &self.on_remove {
                hook(db, key);
            }
        }
        Some(before - self.bytes)
    }

    /// Records a modification of `key` for the clients watching it.
    fn touch(&mut self, db: usize, key: &[u8]) {
        if !self.watched.is_empty() {
            if let Some(w) = self.watched.get_mut(&(db, Box::from(key))) {
                w.version += 1;
            }
        }
    }

    fn touch_db(&mut self, db: usize) {
        for ((d, _), w) in self.watched.iter_mut() {
            if *d == db {
                w.version += 1;
            }
        }
    }

    /// WATCH: registers one more watcher of `key`; returns its current version.
    pub fn watch(&mut self, db: usize, key: &[u8]) -> u64 {
        let w = self.watched.entry((db, key.into())).or_default();
        w.watchers += 1;
        w.version
    }

    /// UNWATCH (or EXEC, DISCARD, disconnect): one watcher fewer.
    pub fn unwatch(&mut self, db: usize, key: &[u8]) {
        let k = (db, Box::from(key));
        if let Some(w) = self.watched.get_mut(&k) {
            w.watchers -= 1;
            if w.watchers == 0 {
                self.watched.remove(&k);
            }
        }
    }

    /// The version of a watched key (0 if nobody watches it).
    pub fn watch_version(&self, db: usize, key: &[u8]) -> u64 {
        self.watched.get(&(db, Box::from(key))).map_or(0, |w| w.version)
    }

    /// Changes a live entry in place, keeping the memory accounting right, and removes the key
    /// if `f` leaves an empty collection (Redis deletes empty hashes, lists, sets). Returns
    /// `None` when the key is missing.
    pub fn update<R>(
        &mut self,
        db: usize,
        hash: u64,
        key: &[u8],
        now_ms: u64,
        f: impl FnOnce(&mut Entry) -> R,
    ) -> Option<R> {
        self.get(db, hash, key, now_ms)?;
        self.touch(db, key);
        let e = self.get(db, hash, key, now_ms)?;
        let before = e.heap_size();
        let r = f(e);
        let (after, empty) = (e.heap_size(), e.value.is_empty_collection());
        self.bytes = self.bytes + after - before;
        if empty {
            self.remove(db, hash, key, now_ms);
        }
        Some(r)
    }

    /// Whether `key` holds a live value.
    pub fn contains(&mut self, db: usize, hash: u64, key: &[u8], now_ms: u64) -> bool {
        self.get(db, hash, key, now_ms).is_some()
    }

    /// Stores `value` under `key` with the given expiry (0 = none), returning the previous live
    /// entry if there was one.
    pub fn set(
        &mut self,
        db: usize,
        hash: u64,
        key: &[u8],
        value: Value,
        expire_at_ms: u64,
        now_ms: u64,
    ) -> Option<Entry> {
        self.touch(db, key);
        let random = if self.policy.lfu { self.next_random() } else { 0 };
        let mut new = Entry { value, expire_at_ms, access: self.policy.initial(now_ms) };
        self.bytes += new.heap_size();
        if expire_at_ms != 0 {
            self.volatile += 1;
        }
        match self.dbs[db].raw_entry_mut_v1().from_hash(hash, |k| &**k == key) {
            RawEntryMut::Occupied(mut o) => {
                if self.policy.lfu {
                    // An overwrite is a use: the key keeps its frequency.
                    new.access = self.policy.touched(o.get().access, now_ms, random);
                }
                let old = std::mem::replace(o.get_mut(), new);
                self.bytes -= old.heap_size();
                if old.expire_at_ms != 0 {
                    self.volatile -= 1;
                }
                if old.is_expired(now_ms) {
                    self.expired += 1;
                    None
                } else {
                    Some(old)
                }
            }
            RawEntryMut::Vacant(v) => {
                self.bytes += key.len() + KEY_OVERHEAD;
                v.insert_hashed_nocheck(hash, key.into(), new);
                None
            }
        }
    }

    /// Changes the expiry of an existing entry (which MUST be live: call [`Stripe::get`] first).
    pub fn set_expiry(&mut self, db: usize, hash: u64, key: &[u8], expire_at_ms: u64) {
        self.touch(db, key);
        if let RawEntryMut::Occupied(o) = self.dbs[db].raw_entry_mut_v1().from_hash(hash, |k| &**k == key) {
            let e = o.into_mut();
            match (e.expire_at_ms != 0, expire_at_ms != 0) {
                (false, true) => self.volatile += 1,
                (true, false) => self.volatile -= 1,
                _ => {}
            }
            e.expire_at_ms = expire_at_ms;
        }
    }

    /// Removes `key`, returning its entry if it was live.
    pub fn remove(&mut self, db: usize, hash: u64, key: &[u8], now_ms: u64) -> Option<Entry> {
        let idx = self.dbs[db].raw_entry_v1().index_from_hash(hash, |k| &**k == key)?;
        let expired = self.dbs[db][idx].is_expired(now_ms);
        let entry = self.remove_index(db, idx, expired);
        (!expired).then_some(entry)
    }

    fn remove_index(&mut self, db: usize, idx: usize, expired: bool) -> Entry {
        let (key, entry) = self.dbs[db].swap_remove_index(idx).expect("index from a lookup");
        self.touch(db, &key);
        self.bytes -= key.len() + KEY_OVERHEAD + entry.heap_size();
        if entry.expire_at_ms != 0 {
            self.volatile -= 1;
        }
        if expired {
            self.expired += 1;
            if let Some(hook) = &self.on_remove {
                hook(db, &key);
            }
        }
        entry
    }

    /// Number of keys in `db`, counting ones whose time has passed but that no one has
    /// touched since (as Redis's DBSIZE does).
    pub fn len(&self, db: usize) -> usize {
        self.dbs[db].len()
    }

    pub fn is_empty(&self, db: usize) -> bool {
        self.dbs[db].is_empty()
    }

    /// (keys, keys with an expiry) in `db`, for INFO's keyspace section.
    pub fn counts(&self, db: usize) -> (usize, usize) {
        let t = &self.dbs[db];
        (t.len(), t.values().filter(|e| e.expire_at_ms != 0).count())
    }

    /// Empties `db`.
    pub fn clear(&mut self, db: usize) {
        self.touch_db(db);
        let t =
            std::mem::replace(&mut self.dbs[db], Table::with_hasher(foldhash::fast::FixedState::default()));
        for (k, e) in &t {
            self.bytes -= k.len() + KEY_OVERHEAD + e.heap_size();
            if e.expire_at_ms != 0 {
                self.volatile -= 1;
            }
        }
    }

    /// One round of Redis-style active expiry: sample up to `samples` keys with a random index
    /// in each database that has volatile keys and remove the expired ones. Returns (sampled,
    /// removed), so the caller can repeat while a large share of samples were expired.
    pub fn expire_sample(&mut self, now_ms: u64, samples: usize) -> (usize, usize) {
        if self.volatile == 0 || self.keep_expired {
            return (0, 0);
        }
        let (mut seen, mut removed) = (0, 0);
        for db in 0..self.dbs.len() {
            for _ in 0..samples {
                let len = self.dbs[db].len();
                if len == 0 {
                    break;
                }
                let idx = (self.next_random() % len as u64) as usize;
                seen += 1;
                if self.dbs[db][idx].is_expired(now_ms) {
                    self.remove_index(db, idx, true);
                    removed += 1;
                }
            }
        }
        (seen, removed)
    }

    /// Calls `f` with every live key of `db` and its entry (expired ones are skipped, not
    /// removed: visiting must not change the table it walks).
    pub fn for_each_live(&self, db: usize, now_ms: u64, mut f: impl FnMut(&[u8], &Entry)) {
        for (k, e) in &self.dbs[db] {
            if !e.is_expired(now_ms) {
                f(k, e);
            }
        }
    }

    /// MEMORY USAGE: bytes `key` and its value take, by the same accounting as
    /// `used_memory_dataset` (None when the key is missing).
    pub fn memory_usage(&mut self, db: usize, hash: u64, key: &[u8], now_ms: u64) -> Option<usize> {
        let e = self.peek(db, hash, key, now_ms)?;
        Some(key.len() + KEY_OVERHEAD + e.heap_size())
    }

    /// Calls `f` with every entry of `db`, expired or not (DEBUG DIGEST walks them all, as
    /// Redis walks its dict).
    pub fn for_each_entry(&self, db: usize, mut f: impl FnMut(&[u8], &Entry)) {
        for (k, e) in &self.dbs[db] {
            f(k, e);
        }
    }

    /// The entry for `key` even if its time has passed, without expiring it or counting a use
    /// (DEBUG DIGEST-VALUE).
    pub fn entry_any(&self, db: usize, hash: u64, key: &[u8]) -> Option<&Entry> {
        let t = &self.dbs[db];
        let idx = t.raw_entry_v1().index_from_hash(hash, |k| &**k == key)?;
        Some(&t[idx])
    }

    /// A uniformly random live key of `db`, removing expired ones it lands on (at most a few
    /// tries, as Redis's `dbRandomKey`).
    pub fn random_key(&mut self, db: usize, now_ms: u64) -> Option<Box<[u8]>> {
        for _ in 0..16 {
            let len = self.dbs[db].len();
            if len == 0 {
                return None;
            }
            let idx = (self.next_random() % len as u64) as usize;
            if self.dbs[db][idx].is_expired(now_ms) {
                self.remove_index(db, idx, true);
                continue;
            }
            return self.dbs[db].get_index(idx).map(|(k, _)| Box::from(&k[..]));
        }
        None
    }

    /// Exchanges two databases' tables (SWAPDB; the caller holds every stripe).
    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        self.touch_db(a);
        self.touch_db(b);
        self.dbs.swap(a, b);
    }

    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

/// Per-key bookkeeping beyond the key's bytes: the table slot, the index entry and the box
/// header, roughly. Used only for the `used_memory_dataset` estimate.
const KEY_OVERHEAD: usize = 48;
