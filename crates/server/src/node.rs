//! What all workers of a node share: the keyspace, the configuration, the live settings that
//! connections read on their hot path, counters, and the client registry.
//!
//! The hot path reads settings through [`Node::live`], an `ArcSwap` load (no lock). `CONFIG
//! SET` builds a new [`Live`] under the config mutex and swaps it in; connections already open
//! keep what they negotiated (their TLS session, their authentication), new ones see the new
//! values. Counters bumped per request live in per-worker, cache-line-aligned blocks and are
//! summed only when INFO asks.

use crate::config::{directive, Config};
use crate::listen::{bind_all, parse_bind, ListenPlan};
use arc_swap::ArcSwap;
use cachet_store::Keyspace;
use cachet_tls::{TlsMode, TlsSettings, TlsStats};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Settings read on every connection or request, swapped whole by `CONFIG SET`.
pub struct Live {
    pub mode: TlsMode,
    /// The server TLS configuration for new connections (always present: certificates are
    /// resolved at start-up so the mode can change on a live node).
    pub tls: Arc<cachet_tls::rustls::ServerConfig>,
    /// `tls-auth-clients-user CN`: a client certificate's CN naming an ACL user logs it in.
    pub tls_auth_clients_user_cn: bool,
    pub maxclients: usize,
    /// `client-output-buffer-limit pubsub` hard limit in bytes (0 = none): a subscriber whose
    /// undelivered messages pass it is disconnected.
    pub pubsub_hard_limit: usize,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: usize,
    pub timeout_secs: u64,
    pub proto_max_bulk_len: i64,
    /// Bytes of data before keys are evicted or `denyoom` commands refused (0 = no limit).
    pub maxmemory: u64,
    /// `maxmemory-policy`: None for noeviction, else (volatile only, what goes first).
    pub eviction: Option<(bool, cachet_store::Evict)>,
    pub maxmemory_samples: usize,
    pub access_policy: cachet_store::AccessPolicy,
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    pub client_query_buffer_limit: usize,
    pub handshake_timeout_secs: u64,
    /// `replica-read-only`.
    pub replica_read_only: bool,
}

/// Per command (by ACL id, subcommands included): INFO commandstats. Only the owning worker
/// writes them (see [`bump`]).
#[derive(Default)]
pub struct CmdStat {
    pub calls: AtomicU64,
    /// Time spent, in [`crate::clock`] ticks.
    pub ticks: AtomicU64,
    /// Refused before running (arity, NOPERM, OOM, ...).
    pub rejected: AtomicU64,
    /// Ran and replied with an error.
    pub failed: AtomicU64,
}

/// Adds to a counter only its own worker writes: a plain load and store, no locked
/// read-modify-write on the request path. (CONFIG RESETSTAT's stores from another worker may
/// race with it; a lost reset or increment is acceptable for statistics.)
#[inline]
pub fn bump(a: &AtomicU64, n: u64) {
    a.store(a.load(Relaxed).wrapping_add(n), Relaxed);
}

/// Counters one worker bumps per request; aligned so workers never share a cache line.
#[repr(align(128))]
#[derive(Default)]
pub struct WorkerStats {
    /// Indexed by ACL id ([`crate::cmd::Resolved::acl_id`]).
    pub cmds: Box<[CmdStat]>,
    /// Error replies by their code (`ERR`, `WRONGTYPE`, ...): INFO errorstats.
    pub errors: Mutex<BTreeMap<String, u64>>,
    /// Error replies sent (INFO `total_error_replies`).
    pub error_replies: AtomicU64,
    /// Bytes received and sent on client connections, after TLS (INFO `total_net_*_bytes`).
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    /// Keys removed by this worker's active expiry.
    pub active_expired: AtomicU64,
    /// Bytes this worker's writes are expected to add, not yet added to the node's figure.
    pub pending_growth: AtomicU64,
}

/// Node-wide counters bumped per connection, not per request.
#[derive(Default)]
pub struct NodeStats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub plaintext_connections: AtomicU64,
    /// Plaintext clients refused by `transit-encryption-mode required`.
    pub plaintext_refused: AtomicU64,
    /// TLS ClientHellos refused by `transit-encryption-mode disabled`.
    pub tls_refused: AtomicU64,
}

/// A client as other workers see it (CLIENT LIST, CLIENT KILL).
pub struct ClientHandle {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub worker: usize,
    pub created: Instant,
    pub name: Mutex<Vec<u8>>,
    pub db: AtomicUsize,
    pub resp: AtomicUsize,
    /// Unix milliseconds of the last command.
    pub last_active_ms: AtomicU64,
    /// Index into the command table of the last command + 1 (0 = none yet).
    pub last_cmd: AtomicUsize,
    pub tls: AtomicBool,
    /// Set by CLIENT KILL on any worker; the owning worker closes the connection on its next
    /// tick.
    pub killed: AtomicBool,
    /// The runtime slot of the connection on its worker (for pokes from other workers).
    pub slot: AtomicUsize,
    /// Pub/sub messages published for this client by any worker, not yet encoded.
    pub inbox: Mutex<Inbox>,
    /// The ACL user the client is logged in as (CLIENT LIST `user=`, ACL DELUSER).
    pub user: Mutex<String>,
    /// Blocked in BLPOP and friends (for CLIENT UNBLOCK from any worker).
    pub is_blocked: AtomicBool,
    /// CLIENT UNBLOCK's request: 0 none, 1 answer as on timeout, 2 answer with an error.
    pub unblock: std::sync::atomic::AtomicU8,
    /// Holding requests back because of CLIENT PAUSE (poked by CLIENT UNPAUSE).
    pub paused: AtomicBool,
    /// [`KIND_NORMAL`], [`KIND_REPLICA`] (a replica's connection to us) or [`KIND_MASTER`]
    /// (our link to our primary): CLIENT LIST's flags and CLIENT KILL TYPE.
    pub kind: std::sync::atomic::AtomicU8,
}

pub const KIND_NORMAL: u8 = 0;
pub const KIND_REPLICA: u8 = 1;
pub const KIND_MASTER: u8 = 2;

impl ClientHandle {
    /// CLIENT KILL/LIST TYPE's class of this client.
    pub fn type_name(&self) -> &'static [u8] {
        match self.kind.load(Relaxed) {
            KIND_REPLICA => b"slave",
            KIND_MASTER => b"master",
            _ => b"normal",
        }
    }
}

/// The name of the user `h` is logged in as.
pub fn lock_user(h: &ClientHandle) -> std::sync::MutexGuard<'_, String> {
    lock(&h.user)
}

/// A published message on its way to one subscriber.
pub enum Delivery {
    Message {
        channel: Arc<[u8]>,
        payload: Arc<[u8]>,
    },
    PMessage {
        pattern: Arc<[u8]>,
        channel: Arc<[u8]>,
        payload: Arc<[u8]>,
    },
    /// SPUBLISH to a shard channel.
    SMessage {
        channel: Arc<[u8]>,
        payload: Arc<[u8]>,
    },
    /// Bytes sent as they are (a MONITOR line).
    Raw(Arc<[u8]>),
}

#[derive(Default)]
pub struct Inbox {
    pub items: Vec<Delivery>,
    pub bytes: usize,
}

/// The default of the pubsub hard limit (Redis's `client-output-buffer-limit pubsub 32mb`).
pub const PUBSUB_INBOX_LIMIT: usize = 32 * 1024 * 1024;

/// Subscriptions of all clients.
#[derive(Default)]
struct PubSub {
    channels: ChannelMap,
    patterns: Vec<(Vec<u8>, Arc<ClientHandle>)>,
    /// Shard channels (SSUBSCRIBE): their own namespace, as in Redis 7.
    shard: ChannelMap,
}

/// Channel name to its subscribers (plain channels and shard channels alike).
#[derive(Default)]
struct ChannelMap(std::collections::HashMap<Vec<u8>, Vec<Arc<ClientHandle>>>);

impl ChannelMap {
    fn add(&mut self, channel: &[u8], h: &Arc<ClientHandle>) {
        self.0.entry(channel.to_vec()).or_default().push(h.clone());
    }

    fn remove(&mut self, channel: &[u8], id: u64) {
        if let Some(v) = self.0.get_mut(channel) {
            v.retain(|h| h.id != id);
            if v.is_empty() {
                self.0.remove(channel);
            }
        }
    }

    fn subscribers(&self, channel: &[u8]) -> Vec<Arc<ClientHandle>> {
        self.0.get(channel).cloned().unwrap_or_default()
    }

    fn names(&self, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        self.0
            .keys()
            .filter(|c| pattern.is_none_or(|p| cachet_store::glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    fn count(&self, channel: &[u8]) -> usize {
        self.0.get(channel).map_or(0, |v| v.len())
    }
}

pub struct Node {
    pub keyspace: Keyspace,
    /// Replication: the stream and the replicas attached to this node.
    pub repl: crate::replication::Repl,
    /// This node as a replica of another.
    pub replica: crate::replica::ReplicaSide,
    /// The Arc this node lives in (threads it starts hold one).
    self_ref: std::sync::OnceLock<std::sync::Weak<Node>>,
    pub acl: crate::acl::Acl,
    config: Mutex<Config>,
    live: ArcSwap<Live>,
    pub tls_stats: TlsStats,
    pub stats: NodeStats,
    pub worker_stats: Box<[WorkerStats]>,
    clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    next_client_id: AtomicU64,
    connected: AtomicUsize,
    pub started: Instant,
    pub run_id: String,
    pub io_backend: cachet_runtime::IoBackend,
    pub workers: usize,
    /// The actual ports (after resolving port 0).
    port: AtomicU16,
    tls_port: AtomicU16,
    /// Bumped when `CONFIG SET` has bound new listeners; each worker then takes its set from
    /// `handoff` on its next tick.
    listen_gen: AtomicU64,
    handoff: Box<[Mutex<Option<Vec<std::net::TcpListener>>>]>,
    /// Heap bytes (see [`crate::heap`]; the dataset estimate where the heap is not counted),
    /// as of the last tick plus what writes since are expected to add (INFO `used_memory`;
    /// compared with `maxmemory`).
    used_memory: AtomicU64,
    used_memory_peak: AtomicU64,
    used_memory_startup: u64,
    /// Keys expired so far, as of the last tick.
    expired_keys: AtomicU64,
    pub node_type: String,
    pub tuning_profile: String,
    /// Clients blocked on keys (BLPOP and friends), by (db, key), and their count: writes look
    /// at the count alone unless someone is blocked.
    blocked: Mutex<BlockedKeys>,
    blocked_clients: AtomicUsize,
    /// [`RARE_MONITORS`] | [`RARE_BLOCKED`] | [`RARE_PAUSED`]: one load per command tells the
    /// request path it can skip all three.
    rare: std::sync::atomic::AtomicU32,
    /// Per worker: slots of connections to poke, left by other workers, and how to wake it.
    mailboxes: Box<[Mutex<Vec<usize>>]>,
    wakers: Vec<cachet_runtime::Waker>,
    pubsub: Mutex<PubSub>,
    /// CLIENT PAUSE: until when (Unix ms; 0 = not paused), and whether all commands or only
    /// writes wait.
    pause_until_ms: AtomicU64,
    pause_all: AtomicBool,
    /// MONITOR clients ([`RARE_MONITORS`] tells the request path whether there are any).
    monitors: Mutex<Vec<Arc<ClientHandle>>>,
    /// Advances once per eviction (seeds its sampling).
    evict_seq: AtomicU64,
    /// DEBUG SET-ACTIVE-EXPIRE: whether workers expire keys in the background.
    pub active_expire: AtomicBool,
    pub slowlog: Mutex<std::collections::VecDeque<SlowEntry>>,
    pub slowlog_next_id: AtomicU64,
    /// `slowlog-log-slower-than` in clock ticks (u64::MAX: disabled).
    slowlog_ticks: AtomicU64,
    /// Cheap commands may be timed per batch: the slow-log threshold is 1 ms or more.
    amortise: AtomicBool,
}

/// One SLOWLOG entry.
pub struct SlowEntry {
    pub id: u64,
    pub unix_secs: u64,
    pub micros: u64,
    /// Arguments as logged: at most 32, each at most 128 bytes, secrets redacted.
    pub args: Vec<Vec<u8>>,
    pub peer: String,
    pub name: Vec<u8>,
}

/// Who waits on which (db, key).
type BlockedKeys = std::collections::HashMap<(usize, Vec<u8>), Vec<Waiter>>;

/// A client blocked on keys: which worker and slot to poke when one of them may be ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiter {
    pub worker: usize,
    pub slot: usize,
    pub client: u64,
}

/// Bits of [`Node::rare`]: conditions the request path must look at only when they hold.
pub const RARE_MONITORS: u32 = 1;
pub const RARE_BLOCKED: u32 = 2;
pub const RARE_PAUSED: u32 = 4;

impl Live {
    /// The encoding limits values read from RDB data get (RESTORE, a primary's snapshot).
    pub fn rdb_limits(&self) -> cachet_repl::rdb::Limits {
        cachet_repl::rdb::Limits {
            hash: cachet_store::PackLimits {
                entries: self.hash_max_listpack_entries,
                value: self.hash_max_listpack_value,
            },
            set_max_intset: self.set_max_intset_entries,
            zset: (self.zset_max_listpack_entries, self.zset_max_listpack_value),
        }
    }
}

/// Error text for `CONFIG SET` failures, in Redis's words.
pub fn config_set_error(name: &str, why: &str) -> String {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
}

impl Node {
    pub fn new(
        config: Config,
        io_backend: cachet_runtime::IoBackend,
        workers: usize,
        port: u16,
        tls_port: u16,
    ) -> Result<Node, String> {
        let wakers = (0..workers.max(1))
            .map(|_| cachet_runtime::Waker::new().map_err(|e| format!("cannot create a worker waker: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let live = build_live(&config)?;
        let (node_type, tuning_profile) = (config.node_type.clone(), config.tuning_profile.clone());
        let acl = crate::acl::Acl::default();
        acl.pubsub_all.store(config.acl_pubsub_default_all, Relaxed);
        acl.log_max_len.store(config.acllog_max_len, Relaxed);
        if !config.users.is_empty() && config.aclfile.is_some() {
            return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file \
                        path is invalid. This setup is very likely to lead to configuration errors and security \
                        holes, please define either an ACL file or declare users directly in your redis.conf, but \
                        not both."
                .into());
        }
        acl.set_requirepass(config.requirepass.as_deref());
        if !config.users.is_empty() {
            acl.load(&config.users.join("\n"), "config")?;
        }
        if let Some(path) = &config.aclfile {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the ACL file {}: {e}", path.display()))?;
            acl.load(&text, &path.display().to_string())?;
        }
        crate::clock::init();
        let keyspace = Keyspace::new(config.databases, 64 * workers.max(1));
        keyspace.set_access_policy(live.access_policy);
        let run_id = random_hex(40);
        Ok(Node {
            repl: crate::replication::Repl::new(
                workers,
                run_id.clone(),
                config.repl_backlog_size as usize,
                replica_hard_limit(&config),
            ),
            replica: Default::default(),
            self_ref: std::sync::OnceLock::new(),
            acl,
            blocked: Mutex::new(std::collections::HashMap::new()),
            blocked_clients: AtomicUsize::new(0),
            rare: std::sync::atomic::AtomicU32::new(0),
            mailboxes: (0..workers.max(1)).map(|_| Mutex::new(Vec::new())).collect(),
            wakers,
            pubsub: Mutex::new(PubSub::default()),
            used_memory: AtomicU64::new(0),
            used_memory_peak: AtomicU64::new(0),
            used_memory_startup: crate::heap::heap_bytes().unwrap_or(0),
            expired_keys: AtomicU64::new(0),
            node_type,
            tuning_profile,
            keyspace,
            config: Mutex::new(config),
            live: ArcSwap::from_pointee(live),
            tls_stats: TlsStats::default(),
            stats: NodeStats::default(),
            worker_stats: (0..workers.max(1))
                .map(|_| WorkerStats {
                    cmds: (0..crate::cmd::COMMANDS.len() + crate::cmd::SUBCOMMANDS.len())
                        .map(|_| CmdStat::default())
                        .collect(),
                    ..WorkerStats::default()
                })
                .collect(),
            active_expire: AtomicBool::new(true),
            evict_seq: AtomicU64::new(0),
            pause_until_ms: AtomicU64::new(0),
            pause_all: AtomicBool::new(false),
            monitors: Mutex::new(Vec::new()),
            slowlog: Mutex::new(std::collections::VecDeque::new()),
            slowlog_next_id: AtomicU64::new(0),
            slowlog_ticks: AtomicU64::new(u64::MAX),
            amortise: AtomicBool::new(true),
            clients: Mutex::new(BTreeMap::new()),
            next_client_id: AtomicU64::new(1),
            connected: AtomicUsize::new(0),
            started: Instant::now(),
            run_id,
            io_backend,
            workers,
            port: AtomicU16::new(port),
            tls_port: AtomicU16::new(tls_port),
            listen_gen: AtomicU64::new(0),
            handoff: (0..workers.max(1)).map(|_| Mutex::new(None)).collect(),
        })
    }

    /// Completes a node that now lives in an Arc: with `replicaof`, starts the link to the
    /// primary.
    pub fn started(self: &Arc<Self>) {
        let _ = self.self_ref.set(Arc::downgrade(self));
        let cfg = self.config();
        if let Some((host, port)) = cfg.replicaof {
            self.set_primary(Some((host, port)));
        }
    }

    /// The Arc this node lives in (after [`Node::started`]).
    pub fn self_arc(&self) -> Arc<Node> {
        self.self_ref.get().and_then(std::sync::Weak::upgrade).expect("Node::started was called")
    }

    /// Recomputes memory and expiry figures from the stripes (one brief lock each); worker 0
    /// calls it every tick, so checks against `maxmemory` read an atomic, not every stripe.
    pub fn refresh_memory(&self) {
        let (expired, bytes) = self.keyspace.stats();
        let used = crate::heap::heap_bytes().unwrap_or(bytes as u64);
        self.used_memory.store(used, Relaxed);
        self.used_memory_peak.fetch_max(used, Relaxed);
        self.expired_keys.store(expired, Relaxed);
    }

    /// The heap when the node had started (INFO `used_memory_startup`).
    pub fn used_memory_startup(&self) -> u64 {
        self.used_memory_startup
    }

    pub fn used_memory_peak(&self) -> u64 {
        self.used_memory_peak.load(Relaxed)
    }

    pub fn used_memory(&self) -> u64 {
        self.used_memory.load(Relaxed)
    }

    /// Counts bytes a write is about to add, so the figure compared with `maxmemory` does not
    /// lag a burst of writes until the next tick re-measures it (only with `maxmemory` set).
    /// Each worker collects its share locally and adds it to the shared figure 64 KiB at a
    /// time, so writes on different workers do not contend on one counter.
    pub fn expect_growth(&self, ws: &WorkerStats, bytes: u64) {
        let pending = ws.pending_growth.load(Relaxed) + bytes;
        if pending >= 64 * 1024 {
            self.used_memory.fetch_add(pending, Relaxed);
            ws.pending_growth.store(0, Relaxed);
        } else {
            ws.pending_growth.store(pending, Relaxed);
        }
    }

    /// Evicts keys by `maxmemory-policy` until the data fits under `maxmemory`; false when it
    /// still does not (nothing eligible left, or noeviction).
    pub fn evict_to_fit(&self, live: &Live, now_ms: u64, seed: u64) -> bool {
        let mut used = self.used_memory();
        if used <= live.maxmemory {
            return true;
        }
        let Some((volatile, how)) = live.eviction else { return false };
        while used > live.maxmemory {
            // A fresh seed for every eviction: commands of the same millisecond must not sample
            // the same stripes (they did with a time-derived seed, and drained those stripes of
            // everything but their hot keys).
            let seed = splitmix(self.evict_seq.fetch_add(0x9e37_79b9_7f4a_7c15, Relaxed) ^ seed);
            match self.keyspace.evict_one(live.maxmemory_samples, volatile, how, now_ms, seed) {
                Some(freed) => {
                    used = used.saturating_sub(freed as u64);
                    self.used_memory.fetch_sub(freed as u64, Relaxed);
                }
                None => return false,
            }
        }
        true
    }

    /// Worker `index`'s waker (handed to the runtime at start).
    pub fn waker(&self, index: usize) -> cachet_runtime::Waker {
        self.wakers[index].clone()
    }

    pub fn blocked_clients(&self) -> usize {
        self.blocked_clients.load(Relaxed)
    }

    /// Which rare conditions hold now (see [`RARE_MONITORS`]).
    #[inline]
    pub fn rare(&self) -> u32 {
        self.rare.load(Relaxed)
    }

    fn set_rare(&self, bit: u32, on: bool) {
        if on {
            self.rare.fetch_or(bit, Relaxed);
        } else {
            self.rare.fetch_and(!bit, Relaxed);
        }
    }

    /// Registers `w` as waiting on `keys` of `db`.
    pub fn block(&self, db: usize, keys: &[Vec<u8>], w: Waiter) {
        let mut map = lock(&self.blocked);
        for k in keys {
            map.entry((db, k.clone())).or_default().push(w);
        }
        self.blocked_clients.fetch_add(1, Relaxed);
        self.set_rare(RARE_BLOCKED, true);
    }

    /// Removes client `client`'s registration on `keys` of `db`.
    pub fn unblock(&self, db: usize, keys: &[Vec<u8>], client: u64) {
        let mut map = lock(&self.blocked);
        for k in keys {
            let e = (db, k.clone());
            if let Some(v) = map.get_mut(&e) {
                v.retain(|w| w.client != client);
                if v.is_empty() {
                    map.remove(&e);
                }
            }
        }
        if self.blocked_clients.fetch_sub(1, Relaxed) == 1 {
            // Under the registry lock, so a concurrent block() re-sets it after us.
            self.set_rare(RARE_BLOCKED, !map.is_empty());
        }
    }

    /// A write touched `key`: poke every client blocked on it (each retries; those that find
    /// nothing stay blocked). One atomic load when nobody is blocked anywhere.
    pub fn key_ready(&self, db: usize, key: &[u8]) {
        if self.blocked_clients.load(Relaxed) == 0 {
            return;
        }
        let waiters: Vec<Waiter> = lock(&self.blocked).get(&(db, key.to_vec())).cloned().unwrap_or_default();
        for w in waiters {
            lock(&self.mailboxes[w.worker]).push(w.slot);
            self.wakers[w.worker].wake();
        }
    }

    /// CLIENT PAUSE: holds commands (all, or only writes) until `until_ms`. A later pause
    /// can only extend it or widen it to all commands, as in Redis.
    pub fn pause(&self, until_ms: u64, all: bool) {
        let current = self.pause_until_ms.load(Relaxed);
        let active = current > unix_ms();
        if !active || until_ms > current {
            self.pause_until_ms.store(until_ms, Relaxed);
        }
        if all || !active {
            self.pause_all.store(all || (active && self.pause_all.load(Relaxed)), Relaxed);
        }
        self.set_rare(RARE_PAUSED, true);
    }

    /// CLIENT UNPAUSE: ends the pause and wakes every client that was held back.
    pub fn unpause(&self) {
        self.pause_until_ms.store(0, Relaxed);
        self.set_rare(RARE_PAUSED, false);
        for h in self.clients() {
            if h.paused.load(Relaxed) {
                self.poke(h.worker, h.slot.load(Relaxed));
            }
        }
    }

    /// Whether a command must wait now: Some(all) while a pause lasts.
    pub fn paused(&self, now_ms: u64) -> Option<bool> {
        if self.rare() & RARE_PAUSED == 0 {
            return None;
        }
        (self.pause_until_ms.load(Relaxed) > now_ms).then(|| self.pause_all.load(Relaxed))
    }

    pub fn add_monitor(&self, h: &Arc<ClientHandle>) {
        let mut m = lock(&self.monitors);
        if !m.iter().any(|x| x.id == h.id) {
            m.push(h.clone());
            self.set_rare(RARE_MONITORS, true);
        }
    }

    pub fn remove_monitor(&self, id: u64) {
        let mut m = lock(&self.monitors);
        m.retain(|x| x.id != id);
        self.set_rare(RARE_MONITORS, !m.is_empty());
    }

    /// Sends one MONITOR line to every monitor.
    pub fn feed_monitors(&self, line: &[u8]) {
        let monitors = lock(&self.monitors).clone();
        let line: Arc<[u8]> = line.into();
        for h in &monitors {
            self.deliver(h, Delivery::Raw(line.clone()), line.len());
        }
    }

    /// Pokes connection `slot` of worker `worker` (from any thread).
    pub fn poke(&self, worker: usize, slot: usize) {
        lock(&self.mailboxes[worker]).push(slot);
        self.wakers[worker].wake();
    }

    fn channel_map(ps: &mut PubSub, shard: bool) -> &mut ChannelMap {
        if shard {
            &mut ps.shard
        } else {
            &mut ps.channels
        }
    }

    /// SUBSCRIBE (or, with `shard`, SSUBSCRIBE).
    pub fn subscribe(&self, shard: bool, channel: &[u8], h: &Arc<ClientHandle>) {
        Self::channel_map(&mut lock(&self.pubsub), shard).add(channel, h);
    }

    pub fn unsubscribe(&self, shard: bool, channel: &[u8], id: u64) {
        Self::channel_map(&mut lock(&self.pubsub), shard).remove(channel, id);
    }

    /// SPUBLISH: to the subscribers of the shard channel; returns how many receive it.
    pub fn spublish(&self, channel: &[u8], payload: &[u8]) -> usize {
        let subs = lock(&self.pubsub).shard.subscribers(channel);
        let (channel, payload): (Arc<[u8]>, Arc<[u8]>) = (channel.into(), payload.into());
        for h in &subs {
            self.deliver(
                h,
                Delivery::SMessage { channel: channel.clone(), payload: payload.clone() },
                channel.len() + payload.len(),
            );
        }
        subs.len()
    }

    /// Leaves a message in a subscriber's inbox and pokes its worker; a subscriber whose
    /// inbox passes the limit is disconnected.
    fn deliver(&self, h: &Arc<ClientHandle>, d: Delivery, size: usize) {
        let mut inbox = lock(&h.inbox);
        inbox.items.push(d);
        inbox.bytes += size;
        let limit = self.live().pubsub_hard_limit;
        if limit > 0 && inbox.bytes > limit {
            h.killed.store(true, Relaxed);
        }
        drop(inbox);
        self.poke(h.worker, h.slot.load(Relaxed));
    }

    pub fn psubscribe(&self, pattern: &[u8], h: &Arc<ClientHandle>) {
        lock(&self.pubsub).patterns.push((pattern.to_vec(), h.clone()));
    }

    pub fn punsubscribe(&self, pattern: &[u8], id: u64) {
        lock(&self.pubsub).patterns.retain(|(p, h)| !(p == pattern && h.id == id));
    }

    /// PUBLISH: hands the message to every subscriber of `channel` and of a matching pattern,
    /// on whatever worker they are; returns how many receive it.
    pub fn publish(&self, channel: &[u8], payload: &[u8]) -> usize {
        let (direct, by_pattern) = {
            let ps = lock(&self.pubsub);
            let direct = ps.channels.subscribers(channel);
            let by_pattern: Vec<(Vec<u8>, Arc<ClientHandle>)> = ps
                .patterns
                .iter()
                .filter(|(p, _)| cachet_store::glob_match(p, channel, false))
                .map(|(p, h)| (p.clone(), h.clone()))
                .collect();
            (direct, by_pattern)
        };
        let (channel, payload): (Arc<[u8]>, Arc<[u8]>) = (channel.into(), payload.into());
        let size = channel.len() + payload.len();
        let deliver = |h: &Arc<ClientHandle>, d: Delivery| self.deliver(h, d, size);
        for h in &direct {
            deliver(h, Delivery::Message { channel: channel.clone(), payload: payload.clone() });
        }
        for (p, h) in &by_pattern {
            deliver(
                h,
                Delivery::PMessage {
                    pattern: p.as_slice().into(),
                    channel: channel.clone(),
                    payload: payload.clone(),
                },
            );
        }
        direct.len() + by_pattern.len()
    }

    /// PUBSUB CHANNELS (or, with `shard`, SHARDCHANNELS).
    pub fn channels(&self, shard: bool, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        Self::channel_map(&mut lock(&self.pubsub), shard).names(pattern)
    }

    /// PUBSUB NUMSUB (or SHARDNUMSUB) for one channel.
    pub fn numsub(&self, shard: bool, channel: &[u8]) -> usize {
        Self::channel_map(&mut lock(&self.pubsub), shard).count(channel)
    }

    pub fn numpat(&self) -> usize {
        let ps = lock(&self.pubsub);
        let mut pats: Vec<&Vec<u8>> = ps.patterns.iter().map(|(p, _)| p).collect();
        pats.sort();
        pats.dedup();
        pats.len()
    }

    /// Slots other workers asked worker `index` to poke.
    pub fn take_mail(&self, index: usize, into: &mut Vec<usize>) {
        into.append(&mut lock(&self.mailboxes[index]));
    }

    pub fn port(&self) -> u16 {
        self.port.load(Relaxed)
    }

    pub fn tls_port(&self) -> u16 {
        self.tls_port.load(Relaxed)
    }

    pub fn listen_generation(&self) -> u64 {
        self.listen_gen.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Worker `index`'s new listeners, once, after a `CONFIG SET` rebind.
    pub fn take_listeners(&self, index: usize) -> Option<Vec<std::net::TcpListener>> {
        lock(&self.handoff[index]).take()
    }

    /// The current live settings (a lock-free load).
    pub fn live(&self) -> arc_swap::Guard<Arc<Live>> {
        self.live.load()
    }

    pub fn config(&self) -> Config {
        lock(&self.config).clone()
    }

    /// Applies `CONFIG SET` pairs atomically: all take effect, or none (Redis 7 semantics).
    pub fn config_set(&self, pairs: &[(String, String)]) -> Result<(), String> {
        let mut cfg = lock(&self.config);
        let mut next = cfg.clone();
        for (name, value) in pairs {
            let Some(d) = directive(name) else {
                return Err(format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'"));
            };
            if !d.mutable {
                return Err(config_set_error(d.name, "can't set immutable config"));
            }
            (d.set)(&mut next, value).map_err(|why| config_set_error(d.name, &why))?;
        }
        let live = build_live(&next).map_err(|why| config_set_error(&pairs[0].0, &why))?;
        if (&next.bind, next.port, next.tls_port) != (&cfg.bind, cfg.port, cfg.tls_port) {
            // Bind every worker's new set before changing anything, so a port that cannot be
            // had leaves the node as it was.
            let name = if next.bind != cfg.bind {
                "bind"
            } else if next.port != cfg.port {
                "port"
            } else {
                "tls-port"
            };
            let plan = ListenPlan {
                addrs: parse_bind(&next.bind).map_err(|e| config_set_error(name, &e))?,
                port: next.port,
                tls_port: next.tls_port,
            };
            let (sets, actual) = bind_all(&plan, self.handoff.len()).map_err(|e| {
                tracing::warn!("CONFIG SET {name}: {e}");
                let why = if name == "bind" {
                    "Failed to bind to specified addresses."
                } else {
                    "Unable to listen on this port"
                };
                config_set_error(name, why)
            })?;
            next.port = actual.port;
            next.tls_port = actual.tls_port;
            for (slot, set) in self.handoff.iter().zip(sets) {
                *lock(slot) = Some(set);
            }
            self.port.store(actual.port, Relaxed);
            self.tls_port.store(actual.tls_port, Relaxed);
            self.listen_gen.fetch_add(1, std::sync::atomic::Ordering::Release);
            tracing::info!(port = actual.port, tls_port = actual.tls_port, "listening on new ports");
        }
        if next.requirepass != cfg.requirepass {
            self.acl.set_requirepass(next.requirepass.as_deref());
        }
        self.acl.pubsub_all.store(next.acl_pubsub_default_all, Relaxed);
        self.acl.log_max_len.store(next.acllog_max_len, Relaxed);
        self.repl.set_limits(next.repl_backlog_size as usize, replica_hard_limit(&next));
        if live.access_policy != self.live().access_policy {
            self.keyspace.set_access_policy(live.access_policy);
        }
        *cfg = next;
        self.live.store(Arc::new(live));
        self.refresh_clock();
        Ok(())
    }

    pub fn now_ms(&self) -> u64 {
        unix_ms()
    }

    /// Registers a new connection; returns its handle and whether it is over `maxclients`.
    pub fn register_client(&self, worker: usize, addr: String, laddr: String) -> (Arc<ClientHandle>, bool) {
        let id = self.next_client_id.fetch_add(1, Relaxed);
        let count = self.connected.fetch_add(1, Relaxed) + 1;
        self.stats.connections_received.fetch_add(1, Relaxed);
        let h = Arc::new(ClientHandle {
            id,
            addr,
            laddr,
            worker,
            created: Instant::now(),
            name: Mutex::new(Vec::new()),
            db: AtomicUsize::new(0),
            resp: AtomicUsize::new(2),
            last_active_ms: AtomicU64::new(unix_ms()),
            last_cmd: AtomicUsize::new(0),
            tls: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            slot: AtomicUsize::new(usize::MAX),
            inbox: Mutex::new(Inbox::default()),
            user: Mutex::new("default".into()),
            is_blocked: AtomicBool::new(false),
            unblock: std::sync::atomic::AtomicU8::new(0),
            paused: AtomicBool::new(false),
            kind: std::sync::atomic::AtomicU8::new(KIND_NORMAL),
        });
        lock(&self.clients).insert(id, h.clone());
        (h, count > self.live().maxclients)
    }

    pub fn unregister_client(&self, id: u64) {
        lock(&self.clients).remove(&id);
        self.connected.fetch_sub(1, Relaxed);
    }

    pub fn connected_clients(&self) -> usize {
        self.connected.load(Relaxed)
    }

    /// A snapshot of every client, ordered by id.
    pub fn clients(&self) -> Vec<Arc<ClientHandle>> {
        lock(&self.clients).values().cloned().collect()
    }

    /// INFO `total_commands_processed`: the calls of every command on every worker.
    pub fn commands_processed(&self) -> u64 {
        self.worker_stats.iter().flat_map(|w| w.cmds.iter()).map(|c| c.calls.load(Relaxed)).sum()
    }

    /// Sum of a per-worker counter.
    pub fn sum(&self, f: impl Fn(&WorkerStats) -> &AtomicU64) -> u64 {
        self.worker_stats.iter().map(|w| f(w).load(Relaxed)).sum()
    }

    /// `slowlog-log-slower-than` in clock ticks, kept current by [`Node::refresh_clock`].
    pub fn slowlog_ticks(&self) -> u64 {
        self.slowlog_ticks.load(Relaxed)
    }

    /// Whether cheap commands may be timed per batch (see `cmd::run`).
    #[inline]
    pub fn amortise_timing(&self) -> bool {
        self.amortise.load(Relaxed)
    }

    /// Re-measures the clock rate and the slow-log threshold in ticks (worker 0's tick).
    pub fn refresh_clock(&self) {
        crate::clock::calibrate();
        let us = self.live().slowlog_log_slower_than;
        let t = if us < 0 { u64::MAX } else { crate::clock::from_us(us as u64) };
        self.slowlog_ticks.store(t, Relaxed);
        self.amortise.store(!(0..1000).contains(&us), Relaxed);
    }

    /// Adds a SLOWLOG entry, keeping at most `slowlog-max-len`.
    pub fn slowlog_push(&self, mut e: SlowEntry) {
        let max = self.live().slowlog_max_len;
        e.id = self.slowlog_next_id.fetch_add(1, Relaxed);
        let mut log = lock(&self.slowlog);
        log.push_front(e);
        log.truncate(max);
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&self) {
        for w in self.worker_stats.iter() {
            for c in w.cmds.iter() {
                for a in [&c.calls, &c.ticks, &c.rejected, &c.failed] {
                    a.store(0, Relaxed);
                }
            }
            lock(&w.errors).clear();
            w.error_replies.store(0, Relaxed);
            w.net_input_bytes.store(0, Relaxed);
            w.net_output_bytes.store(0, Relaxed);
        }
        self.stats.connections_received.store(0, Relaxed);
        self.stats.rejected_connections.store(0, Relaxed);
    }
}

/// TLS settings from a config whose certificate paths are resolved.
pub fn tls_settings(c: &Config) -> Result<TlsSettings, String> {
    let (Some(cert), Some(key)) = (&c.tls_cert_file, &c.tls_key_file) else {
        return Err("tls-cert-file and tls-key-file must both be set".into());
    };
    let mut s = TlsSettings::new(cert.clone(), key.clone(), c.tls_ca_cert_file.clone());
    s.auth_clients = c.tls_auth_clients;
    s.protocols = c.tls_protocols.clone();
    s.ciphersuites = c.tls_ciphersuites.clone();
    s.session_caching = c.tls_session_caching;
    s.session_cache_size = c.tls_session_cache_size;
    s.session_cache_timeout = c.tls_session_cache_timeout;
    Ok(s)
}

fn build_live(c: &Config) -> Result<Live, String> {
    let tls = cachet_tls::server_config(&tls_settings(c)?).map_err(|e| e.to_string())?;
    Ok(Live {
        mode: c.transit_encryption_mode,
        tls,
        tls_auth_clients_user_cn: c.tls_auth_clients_user_cn,
        maxclients: c.maxclients,
        pubsub_hard_limit: pubsub_hard_limit(c),
        slowlog_log_slower_than: c.slowlog_log_slower_than,
        slowlog_max_len: c.slowlog_max_len,
        timeout_secs: c.timeout,
        proto_max_bulk_len: c.proto_max_bulk_len.min(i64::MAX as u64) as i64,
        maxmemory: c.maxmemory,
        eviction: eviction_of(&c.maxmemory_policy),
        maxmemory_samples: c.maxmemory_samples,
        access_policy: cachet_store::AccessPolicy {
            lfu: c.maxmemory_policy.ends_with("-lfu"),
            log_factor: c.lfu_log_factor,
            decay_minutes: c.lfu_decay_time,
        },
        hash_max_listpack_entries: c.hash_max_listpack_entries,
        hash_max_listpack_value: c.hash_max_listpack_value,
        set_max_intset_entries: c.set_max_intset_entries,
        zset_max_listpack_entries: c.zset_max_listpack_entries,
        zset_max_listpack_value: c.zset_max_listpack_value,
        client_query_buffer_limit: c.client_query_buffer_limit.min(usize::MAX as u64) as usize,
        handshake_timeout_secs: c.tls_handshake_timeout,
        replica_read_only: c.replica_read_only,
    })
}

/// The replica class's hard limit from `client-output-buffer-limit` (0: none).
pub fn replica_hard_limit(c: &Config) -> usize {
    hard_limit(c, "slave").unwrap_or(0)
}

/// The pubsub class's hard limit from `client-output-buffer-limit`.
fn pubsub_hard_limit(c: &Config) -> usize {
    hard_limit(c, "pubsub").unwrap_or(PUBSUB_INBOX_LIMIT)
}

/// One class's hard limit from `client-output-buffer-limit` (`<class> <hard> <soft> <secs>`).
fn hard_limit(c: &Config, class: &str) -> Option<usize> {
    let text = directive("client-output-buffer-limit").map(|d| (d.get)(c)).unwrap_or_default();
    let words: Vec<&str> = text.split_whitespace().collect();
    words.chunks(4).find(|g| g[0] == class).and_then(|g| g.get(1)).and_then(|h| h.parse().ok())
}

/// SplitMix64's finaliser: a well-mixed 64-bit value from a counter.
fn splitmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What a `maxmemory-policy` evicts: None for noeviction, else (volatile keys only, order).
fn eviction_of(policy: &str) -> Option<(bool, cachet_store::Evict)> {
    use cachet_store::Evict;
    let (scope, how) = policy.split_once('-')?;
    let how = match how {
        "lru" | "lfu" => Evict::Coldest,
        "random" => Evict::Random,
        "ttl" => Evict::SoonestExpiry,
        _ => return None,
    };
    Some((scope == "volatile", how))
}

pub fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A random hex string (run_id), from the OS's randomness.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n / 2];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
