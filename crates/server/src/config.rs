//! Node configuration with Redis's directive names.
//!
//! One table ([`DIRECTIVES`]) describes every directive once: how to read it, how to print it,
//! and whether it may change on a live node. The config file, the `--name value` overrides and
//! `CONFIG GET/SET` all go through it, so the three can never disagree.

use cachet_runtime::IoBackend;
use cachet_tls::{ClientAuth, TlsMode};
use std::path::{Path, PathBuf};

/// Every setting of a node.
#[derive(Clone, Debug)]
pub struct Config {
    pub bind: Vec<String>,
    pub port: u16,
    pub tls_port: u16,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub tls_ca_cert_file: Option<PathBuf>,
    pub tls_auth_clients: ClientAuth,
    pub tls_protocols: String,
    pub tls_ciphersuites: String,
    pub tls_session_caching: bool,
    pub tls_session_cache_size: usize,
    pub tls_session_cache_timeout: u64,
    /// Seconds a TLS handshake (or the first byte of a connection) may take.
    pub tls_handshake_timeout: u64,
    pub requirepass: Option<String>,
    /// `user` lines of the config file, each `user <name> <rules...>` as in an ACL file.
    pub users: Vec<String>,
    pub aclfile: Option<PathBuf>,
    pub acllog_max_len: usize,
    /// `acl-pubsub-default`: allchannels (true) or resetchannels (false, Redis 7's default).
    pub acl_pubsub_default_all: bool,
    pub tls_auth_clients_user_cn: bool,
    /// `enable-debug-command`: no, yes or local.
    pub enable_debug_command: String,
    /// Microseconds a command must take to enter the SLOWLOG (negative: never).
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: usize,
    pub maxclients: usize,
    /// Idle seconds before a client is closed; 0 = never.
    pub timeout: u64,
    pub databases: usize,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub transit_encryption_mode: TlsMode,
    /// 0 = one per core.
    pub workers: usize,
    pub io_backend: IoBackend,
    /// Where development certificates are made when no certificate is configured.
    pub tls_dev_dir: PathBuf,
    /// `node-type`: a catalogue name, `auto` or `generic` (see `cachet_tuning`).
    pub node_type: String,
    /// `tuning-dir`: edited copies of the family files; empty = the embedded ones.
    pub tuning_dir: Option<PathBuf>,
    /// Share of the published memory kept back from `maxmemory` (the managed service's 25).
    pub reserved_memory_percent: u64,
    /// Bytes of data allowed before writes are refused (0 = no limit).
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    /// Keys sampled per eviction (Redis's approximation of LRU/LFU/TTL).
    pub maxmemory_samples: usize,
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,
    /// `physical-first`, `in-order`, or `none`.
    pub cpu_pinning: String,
    pub io_ring_entries: u32,
    pub io_recv_buffers: u32,
    pub io_sqpoll: bool,
    /// SO_SNDBUF/SO_RCVBUF per client connection; 0 = kernel autotuning.
    pub tcp_socket_buffer: u64,
    /// The family file the profile came from (`r6g`, `generic`); set when the profile is applied.
    pub tuning_profile: String,
    /// Largest hash (fields) and field/value (bytes) kept in the packed encoding.
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    /// Largest all-integer set kept as a sorted integer array.
    pub set_max_intset_entries: usize,
    /// Largest sorted set (members) and member (bytes) reported as `listpack`.
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    /// `replicaof HOST PORT`: replicate from that primary.
    pub replicaof: Option<(String, u16)>,
    pub masterauth: Option<String>,
    pub masteruser: Option<String>,
    /// `replica-read-only`: writes from clients are refused on a replica.
    pub replica_read_only: bool,
    /// `repl-backlog-size`: stream bytes kept for replicas to continue from.
    pub repl_backlog_size: u64,
    /// `repl-timeout`: seconds without a byte from the primary before the link is dropped.
    pub repl_timeout: u64,
    /// `tls-replication`: the link to the primary uses TLS.
    pub tls_replication: bool,
    /// The certificate a replica presents to its primary (else `tls-cert-file`).
    pub tls_client_cert_file: Option<PathBuf>,
    pub tls_client_key_file: Option<PathBuf>,
    /// Values of the Redis parameters accepted for compatibility (see [`COMPAT`] in the table).
    pub compat: std::collections::BTreeMap<&'static str, String>,
    /// Directives set by the config file or the command line, which a profile never changes.
    pub explicit: std::collections::BTreeSet<&'static str>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: vec!["127.0.0.1".into()],
            port: 6379,
            tls_port: 0,
            tls_cert_file: None,
            tls_key_file: None,
            tls_ca_cert_file: None,
            tls_auth_clients: ClientAuth::No,
            tls_protocols: String::new(),
            tls_ciphersuites: String::new(),
            tls_session_caching: true,
            tls_session_cache_size: 20480,
            tls_session_cache_timeout: 300,
            tls_handshake_timeout: 10,
            requirepass: None,
            users: Vec::new(),
            aclfile: None,
            acllog_max_len: 128,
            acl_pubsub_default_all: false,
            tls_auth_clients_user_cn: false,
            enable_debug_command: "no".into(),
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            maxclients: 10000,
            timeout: 0,
            databases: 16,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            transit_encryption_mode: TlsMode::Required,
            workers: 0,
            io_backend: IoBackend::Auto,
            tls_dev_dir: PathBuf::from("cachet-dev"),
            node_type: "auto".into(),
            tuning_dir: None,
            reserved_memory_percent: 25,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            maxmemory_samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            cpu_pinning: "in-order".into(),
            io_ring_entries: 1024,
            io_recv_buffers: 512,
            io_sqpoll: false,
            tcp_socket_buffer: 0,
            tuning_profile: "none".into(),
            hash_max_listpack_entries: 128,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            replicaof: None,
            masterauth: None,
            masteruser: None,
            replica_read_only: true,
            repl_backlog_size: 1024 * 1024,
            repl_timeout: 60,
            tls_replication: false,
            tls_client_cert_file: None,
            tls_client_key_file: None,
            zset_max_listpack_value: 64,
            compat: std::collections::BTreeMap::new(),
            explicit: std::collections::BTreeSet::new(),
        }
    }
}

/// Redis's eviction policies, in its order.
pub const MAXMEMORY_POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// One directive: its name, how it reads and prints, and whether it can change live.
pub struct Directive {
    pub name: &'static str,
    pub get: fn(&Config) -> String,
    pub set: fn(&mut Config, &str) -> Result<(), String>,
    /// Changeable with `CONFIG SET` on a live node.
    pub mutable: bool,
    /// A TLS setting: changing it rebuilds the TLS configuration for new connections.
    pub tls: bool,
}

fn yes_no(v: bool) -> String {
    if v { "yes" } else { "no" }.into()
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

fn parse_int<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| "argument couldn't be parsed into an integer".into())
}

/// Redis's `memtoull`: a byte count with an optional `k`, `kb`, `m`, `mb`, `g`, `gb` unit
/// (`k` = 1000, `kb` = 1024, ...).
pub fn parse_memory(s: &str) -> Result<u64, String> {
    let lower = s.to_ascii_lowercase();
    let digits_end = lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits_end);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return Err("argument must be a memory value".into()),
    };
    let n: u64 = num.parse().map_err(|_| "argument must be a memory value".to_string())?;
    n.checked_mul(mul).ok_or_else(|| "argument must be a memory value".into())
}

fn opt_path(p: &Option<PathBuf>) -> String {
    p.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
}

fn set_path(s: &str) -> Option<PathBuf> {
    (!s.is_empty()).then(|| PathBuf::from(s))
}

macro_rules! directive {
    ($name:literal, mutable: $m:literal, tls: $t:literal, |$c:ident| $get:expr, |$c2:ident, $v:ident| $set:expr) => {
        Directive {
            name: $name,
            get: |$c: &Config| $get,
            set: |$c2: &mut Config, $v: &str| {
                $set;
                Ok(())
            },
            mutable: $m,
            tls: $t,
        }
    };
}

/// A Redis parameter cachet accepts, stores and reports (CONFIG GET/SET, the config file)
/// so that tools and clients that read or set it keep working; `docs/configuration.md` says
/// which of them change behaviour and which are kept for compatibility only.
macro_rules! compat {
    ($name:literal, $default:expr, $check:expr) => {
        Directive {
            name: $name,
            get: |c: &Config| c.compat.get($name).cloned().unwrap_or_else(|| $default.to_string()),
            set: |c: &mut Config, v: &str| {
                let v = ($check)(v)?;
                c.compat.insert($name, v);
                Ok(())
            },
            mutable: true,
            tls: false,
        }
    };
}

fn any_value(v: &str) -> Result<String, String> {
    Ok(v.to_string())
}

fn yes_no_value(v: &str) -> Result<String, String> {
    parse_bool(v).map(yes_no)
}

fn int_value<const LO: i64, const HI: i64>(v: &str) -> Result<String, String> {
    match v.parse::<i64>() {
        Ok(n) if (LO..=HI).contains(&n) => Ok(n.to_string()),
        _ => Err(format!("argument must be between {LO} and {HI} inclusive")),
    }
}

fn memory_value(v: &str) -> Result<String, String> {
    parse_memory(v).map(|n| n.to_string())
}

fn one_of(v: &str, allowed: &[&str]) -> Result<String, String> {
    let lower = v.to_ascii_lowercase();
    if allowed.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(format!("argument(s) must be one of the following: {}", allowed.join(", ")))
    }
}

/// `replicaof HOST PORT` (or `no one`).
fn parse_replicaof(v: &str) -> Result<Option<(String, u16)>, String> {
    let words: Vec<&str> = v.split_whitespace().collect();
    match words.as_slice() {
        [] => Ok(None),
        [a, b] if a.eq_ignore_ascii_case("no") && b.eq_ignore_ascii_case("one") => Ok(None),
        [host, port] => {
            Ok(Some((host.to_string(), port.parse().map_err(|_| "Invalid master port".to_string())?)))
        }
        _ => Err("wrong number of arguments: replicaof <host> <port>".into()),
    }
}

/// Redis's `client-output-buffer-limit`: `<class> <hard> <soft> <seconds>` groups, classes
/// normal, replica (slave) and pubsub; a SET changes only the classes it names.
fn output_buffer_limit(v: &str) -> Result<String, String> {
    let words: Vec<&str> = v.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut classes = std::collections::BTreeMap::from([
        ("normal", ["0", "0", "0"].map(String::from)),
        ("pubsub", ["33554432", "8388608", "60"].map(String::from)),
        ("slave", ["268435456", "67108864", "60"].map(String::from)),
    ]);
    for g in words.chunks(4) {
        let class = match g[0].to_ascii_lowercase().as_str() {
            "normal" => "normal",
            "replica" | "slave" => "slave",
            "pubsub" => "pubsub",
            _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
        };
        let hard = parse_memory(g[1])
            .map_err(|_| "Error in hard, soft or soft_seconds setting in buffer limit configuration.")?;
        let soft = parse_memory(g[2])
            .map_err(|_| "Error in hard, soft or soft_seconds setting in buffer limit configuration.")?;
        let secs: u64 = g[3]
            .parse()
            .map_err(|_| "Error in hard, soft or soft_seconds setting in buffer limit configuration.")?;
        classes.insert(class, [hard.to_string(), soft.to_string(), secs.to_string()]);
    }
    Ok(["normal", "slave", "pubsub"]
        .iter()
        .map(|c| format!("{c} {}", classes[c].join(" ")))
        .collect::<Vec<_>>()
        .join(" "))
}

/// Every directive cachet reads, Redis's first and cachet's own after.
pub static DIRECTIVES: &[Directive] = &[
    directive!("bind", mutable: true, tls: false, |c| c.bind.join(" "),
        |c, v| c.bind = v.split_whitespace().map(String::from).collect()),
    directive!("port", mutable: true, tls: false, |c| c.port.to_string(), |c, v| c.port = parse_int(v)?),
    directive!("tls-port", mutable: true, tls: false, |c| c.tls_port.to_string(), |c, v| c.tls_port = parse_int(v)?),
    directive!("tls-cert-file", mutable: true, tls: true, |c| opt_path(&c.tls_cert_file),
        |c, v| c.tls_cert_file = set_path(v)),
    directive!("tls-key-file", mutable: true, tls: true, |c| opt_path(&c.tls_key_file),
        |c, v| c.tls_key_file = set_path(v)),
    directive!("tls-ca-cert-file", mutable: true, tls: true, |c| opt_path(&c.tls_ca_cert_file),
        |c, v| c.tls_ca_cert_file = set_path(v)),
    directive!("tls-auth-clients", mutable: true, tls: true, |c| c.tls_auth_clients.to_string(),
        |c, v| c.tls_auth_clients = v.parse().map_err(|_| "argument(s) must be one of the following: no, yes, optional".to_string())?),
    directive!("tls-protocols", mutable: true, tls: true, |c| c.tls_protocols.clone(), |c, v| {
        cachet_tls::protocol_versions(v).map_err(|e| e.to_string())?;
        c.tls_protocols = v.into()
    }),
    directive!("tls-ciphersuites", mutable: true, tls: true, |c| c.tls_ciphersuites.clone(), |c, v| {
        cachet_tls::provider(v).map_err(|e| e.to_string())?;
        c.tls_ciphersuites = v.into()
    }),
    directive!("tls-session-caching", mutable: true, tls: true, |c| yes_no(c.tls_session_caching),
        |c, v| c.tls_session_caching = parse_bool(v)?),
    directive!("tls-session-cache-size", mutable: true, tls: true, |c| c.tls_session_cache_size.to_string(),
        |c, v| c.tls_session_cache_size = parse_int(v)?),
    directive!("tls-session-cache-timeout", mutable: true, tls: true, |c| c.tls_session_cache_timeout.to_string(),
        |c, v| c.tls_session_cache_timeout = parse_int(v)?),
    directive!("requirepass", mutable: true, tls: false, |c| c.requirepass.clone().unwrap_or_default(),
        |c, v| c.requirepass = (!v.is_empty()).then(|| v.to_string())),
    // Repeatable: each `user` line adds a user (read at start only, as in Redis).
    directive!("user", mutable: false, tls: false, |_c| String::new(), |c, v| c.users.push(format!("user {v}"))),
    directive!("aclfile", mutable: false, tls: false, |c| opt_path(&c.aclfile), |c, v| c.aclfile = set_path(v)),
    directive!("acllog-max-len", mutable: true, tls: false, |c| c.acllog_max_len.to_string(),
        |c, v| c.acllog_max_len = parse_int(v)?),
    directive!("acl-pubsub-default", mutable: true, tls: false,
    |c| if c.acl_pubsub_default_all { "allchannels" } else { "resetchannels" }.into(),
    |c, v| c.acl_pubsub_default_all = match v.to_ascii_lowercase().as_str() {
        "allchannels" => true,
        "resetchannels" => false,
        _ => return Err("argument(s) must be one of the following: allchannels, resetchannels".into()),
    }),
    directive!("tls-auth-clients-user", mutable: true, tls: false,
    |c| if c.tls_auth_clients_user_cn { "CN" } else { "off" }.into(),
    |c, v| c.tls_auth_clients_user_cn = match v.to_ascii_lowercase().as_str() {
        "cn" => true,
        "off" => false,
        _ => return Err("argument(s) must be one of the following: off, CN".into()),
    }),
    directive!("slowlog-log-slower-than", mutable: true, tls: false, |c| c.slowlog_log_slower_than.to_string(),
        |c, v| c.slowlog_log_slower_than = parse_int(v)?),
    directive!("slowlog-max-len", mutable: true, tls: false, |c| c.slowlog_max_len.to_string(),
        |c, v| c.slowlog_max_len = parse_int(v)?),
    directive!("enable-debug-command", mutable: false, tls: false, |c| c.enable_debug_command.clone(), |c, v| {
        let v = v.to_ascii_lowercase();
        if !matches!(v.as_str(), "no" | "yes" | "local") {
            return Err("argument(s) must be one of the following: no, yes, local".into());
        }
        c.enable_debug_command = v
    }),
    directive!("maxclients", mutable: true, tls: false, |c| c.maxclients.to_string(), |c, v| {
        let n: usize = parse_int(v)?;
        if n == 0 {
            return Err("argument must be between 1 and 4294967295 inclusive".into());
        }
        c.maxclients = n
    }),
    directive!("timeout", mutable: true, tls: false, |c| c.timeout.to_string(), |c, v| c.timeout = parse_int(v)?),
    directive!("databases", mutable: false, tls: false, |c| c.databases.to_string(), |c, v| {
        let n: usize = parse_int(v)?;
        if n == 0 || n > 65536 {
            return Err("argument must be between 1 and 65536 inclusive".into());
        }
        c.databases = n
    }),
    directive!("proto-max-bulk-len", mutable: true, tls: false, |c| c.proto_max_bulk_len.to_string(), |c, v| {
        let n = parse_memory(v)?;
        if n < 1024 * 1024 {
            return Err("argument must be a memory value bigger than 1mb".into());
        }
        c.proto_max_bulk_len = n
    }),
    directive!("client-query-buffer-limit", mutable: true, tls: false, |c| c.client_query_buffer_limit.to_string(), |c, v| {
        let n = parse_memory(v)?;
        if n < 1024 * 1024 {
            return Err("argument must be a memory value bigger than 1mb".into());
        }
        c.client_query_buffer_limit = n
    }),
    // cachet keeps no data on disk (a cache node); these two report that in Redis's terms, so
    // tools that read them (redis-benchmark, backups) see "no persistence" rather than an error.
    directive!("save", mutable: true, tls: false, |_c| String::new(), |_c, v| {
        if !v.trim().trim_matches('"').is_empty() {
            return Err("cachet does not persist to disk; only save \"\" is accepted".into());
        }
    }),
    directive!("appendonly", mutable: true, tls: false, |_c| "no".into(), |_c, v| {
        if parse_bool(v)? {
            return Err("cachet does not persist to disk; only appendonly no is accepted".into());
        }
    }),
    directive!("transit-encryption-mode", mutable: true, tls: true, |c| c.transit_encryption_mode.to_string(),
        |c, v| c.transit_encryption_mode = v.parse().map_err(|_| "argument(s) must be one of the following: disabled, preferred, required".to_string())?),
    directive!("tls-handshake-timeout", mutable: true, tls: false, |c| c.tls_handshake_timeout.to_string(), |c, v| {
        let n: u64 = parse_int(v)?;
        if n == 0 {
            return Err("argument must be at least 1 second".into());
        }
        c.tls_handshake_timeout = n
    }),
    directive!("workers", mutable: false, tls: false, |c| c.workers.to_string(), |c, v| c.workers = parse_int(v)?),
    directive!("io-backend", mutable: false, tls: false, |c| c.io_backend.to_string(),
        |c, v| c.io_backend = v.parse().map_err(|_| "argument(s) must be one of the following: auto, uring, epoll".to_string())?),
    directive!("tls-dev-dir", mutable: false, tls: false, |c| c.tls_dev_dir.display().to_string(),
        |c, v| c.tls_dev_dir = PathBuf::from(v)),
    directive!("hash-max-listpack-entries", mutable: true, tls: false, |c| c.hash_max_listpack_entries.to_string(),
        |c, v| c.hash_max_listpack_entries = parse_int(v)?),
    directive!("hash-max-listpack-value", mutable: true, tls: false, |c| c.hash_max_listpack_value.to_string(),
        |c, v| c.hash_max_listpack_value = parse_int(v)?),
    // Redis 7 still accepts the pre-listpack names as aliases.
    directive!("hash-max-ziplist-entries", mutable: true, tls: false, |c| c.hash_max_listpack_entries.to_string(),
        |c, v| c.hash_max_listpack_entries = parse_int(v)?),
    directive!("hash-max-ziplist-value", mutable: true, tls: false, |c| c.hash_max_listpack_value.to_string(),
        |c, v| c.hash_max_listpack_value = parse_int(v)?),
    directive!("set-max-intset-entries", mutable: true, tls: false, |c| c.set_max_intset_entries.to_string(),
        |c, v| c.set_max_intset_entries = parse_int(v)?),
    directive!("zset-max-listpack-entries", mutable: true, tls: false, |c| c.zset_max_listpack_entries.to_string(),
        |c, v| c.zset_max_listpack_entries = parse_int(v)?),
    directive!("zset-max-listpack-value", mutable: true, tls: false, |c| c.zset_max_listpack_value.to_string(),
        |c, v| c.zset_max_listpack_value = parse_int(v)?),
    directive!("zset-max-ziplist-entries", mutable: true, tls: false, |c| c.zset_max_listpack_entries.to_string(),
        |c, v| c.zset_max_listpack_entries = parse_int(v)?),
    directive!("zset-max-ziplist-value", mutable: true, tls: false, |c| c.zset_max_listpack_value.to_string(),
        |c, v| c.zset_max_listpack_value = parse_int(v)?),
    directive!("replicaof", mutable: false, tls: false,
    |c| c.replicaof.as_ref().map(|(h, p)| format!("{h} {p}")).unwrap_or_default(),
    |c, v| c.replicaof = parse_replicaof(v)?),
    directive!("slaveof", mutable: false, tls: false,
    |c| c.replicaof.as_ref().map(|(h, p)| format!("{h} {p}")).unwrap_or_default(),
    |c, v| c.replicaof = parse_replicaof(v)?),
    directive!("masterauth", mutable: true, tls: false, |c| c.masterauth.clone().unwrap_or_default(),
        |c, v| c.masterauth = (!v.is_empty()).then(|| v.to_string())),
    directive!("masteruser", mutable: true, tls: false, |c| c.masteruser.clone().unwrap_or_default(),
        |c, v| c.masteruser = (!v.is_empty()).then(|| v.to_string())),
    directive!("replica-read-only", mutable: true, tls: false, |c| yes_no(c.replica_read_only),
        |c, v| c.replica_read_only = parse_bool(v)?),
    directive!("slave-read-only", mutable: true, tls: false, |c| yes_no(c.replica_read_only),
        |c, v| c.replica_read_only = parse_bool(v)?),
    directive!("repl-backlog-size", mutable: true, tls: false, |c| c.repl_backlog_size.to_string(), |c, v| {
        let n = parse_memory(v)?;
        c.repl_backlog_size = n.max(16 * 1024)
    }),
    directive!("repl-timeout", mutable: true, tls: false, |c| c.repl_timeout.to_string(), |c, v| {
        let n: u64 = parse_int(v)?;
        if n == 0 {
            return Err("argument must be between 1 and 2147483647 inclusive".into());
        }
        c.repl_timeout = n
    }),
    directive!("tls-replication", mutable: true, tls: false, |c| yes_no(c.tls_replication),
        |c, v| c.tls_replication = parse_bool(v)?),
    directive!("tls-client-cert-file", mutable: true, tls: false, |c| opt_path(&c.tls_client_cert_file),
        |c, v| c.tls_client_cert_file = set_path(v)),
    directive!("tls-client-key-file", mutable: true, tls: false, |c| opt_path(&c.tls_client_key_file),
        |c, v| c.tls_client_key_file = set_path(v)),
    // Redis parameters kept for compatibility (see `compat!`).
    compat!("hz", "10", int_value::<1, 500>),
    compat!("repl-diskless-sync", "yes", yes_no_value),
    compat!("repl-diskless-sync-delay", "5", int_value::<0, 2147483647>),
    compat!("repl-diskless-load", "disabled", |v| one_of(v, &["disabled", "on-empty-db", "swapdb"])),
    compat!("repl-ping-replica-period", "10", int_value::<1, 2147483647>),
    compat!("repl-disable-tcp-nodelay", "no", yes_no_value),
    compat!("replica-serve-stale-data", "yes", yes_no_value),
    compat!("replica-priority", "100", int_value::<0, 2147483647>),
    compat!("replica-ignore-maxmemory", "yes", yes_no_value),
    compat!("replica-announced", "yes", yes_no_value),
    compat!("min-replicas-to-write", "0", int_value::<0, 2147483647>),
    compat!("min-replicas-max-lag", "10", int_value::<0, 2147483647>),
    compat!("dynamic-hz", "yes", yes_no_value),
    compat!("active-expire-effort", "1", int_value::<1, 10>),
    compat!("activerehashing", "yes", yes_no_value),
    compat!("activedefrag", "no", yes_no_value),
    compat!("lazyfree-lazy-eviction", "no", yes_no_value),
    compat!("lazyfree-lazy-expire", "no", yes_no_value),
    compat!("lazyfree-lazy-server-del", "no", yes_no_value),
    compat!("lazyfree-lazy-user-del", "no", yes_no_value),
    compat!("lazyfree-lazy-user-flush", "no", yes_no_value),
    compat!("list-max-listpack-size", "-2", int_value::<-5, 65535>),
    compat!("list-max-ziplist-size", "-2", int_value::<-5, 65535>),
    compat!("list-compress-depth", "0", int_value::<0, 65535>),
    compat!("loglevel", "notice", |v| one_of(v, &["debug", "verbose", "notice", "warning"])),
    compat!("logfile", "", any_value),
    compat!("protected-mode", "yes", yes_no_value),
    compat!("tcp-keepalive", "300", int_value::<0, 2147483647>),
    compat!("tcp-backlog", "511", int_value::<0, 2147483647>),
    compat!("maxmemory-eviction-tenacity", "10", int_value::<0, 100>),
    compat!("maxmemory-clients", "0", memory_value),
    compat!(
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        output_buffer_limit
    ),
    compat!("latency-tracking", "yes", yes_no_value),
    compat!("latency-tracking-info-percentiles", "50 99 99.9", any_value),
    compat!("latency-monitor-threshold", "0", int_value::<0, 9223372036854775807>),
    compat!("shutdown-timeout", "10", int_value::<0, 2147483647>),
    compat!("shutdown-on-sigint", "default", |v| one_of(v, &["default", "save", "nosave", "now", "force"])),
    compat!("shutdown-on-sigterm", "default", |v| one_of(v, &["default", "save", "nosave", "now", "force"])),
    compat!("dir", std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(), any_value),
    compat!("dbfilename", "dump.rdb", any_value),
    compat!("daemonize", "no", yes_no_value),
    compat!("pidfile", "", any_value),
    compat!("supervised", "no", |v| one_of(v, &["no", "upstart", "systemd", "auto"])),
    compat!("always-show-logo", "no", yes_no_value),
    compat!("set-proc-title", "yes", yes_no_value),
    compat!("io-threads", "1", int_value::<1, 128>),
    compat!("io-threads-do-reads", "no", yes_no_value),
    compat!("oom-score-adj", "no", |v| one_of(v, &["no", "yes", "relative", "absolute"])),
    compat!("disable-thp", "yes", yes_no_value),
    compat!("crash-log-enabled", "yes", yes_no_value),
    compat!("syslog-enabled", "no", yes_no_value),
    compat!("syslog-ident", "redis", any_value),
    compat!("sanitize-dump-payload", "no", |v| one_of(v, &["no", "yes", "clients"])),
    compat!("tls-prefer-server-ciphers", "no", yes_no_value),
    compat!("propagation-error-behavior", "ignore", |v| one_of(v, &["ignore", "panic", "panic-on-replicas"])),
    directive!("node-type", mutable: false, tls: false, |c| c.node_type.clone(), |c, v| c.node_type = v.trim().to_string()),
    directive!("tuning-dir", mutable: false, tls: false, |c| opt_path(&c.tuning_dir), |c, v| c.tuning_dir = set_path(v)),
    directive!("reserved-memory-percent", mutable: false, tls: false, |c| c.reserved_memory_percent.to_string(), |c, v| {
        let n: u64 = parse_int(v)?;
        if n > 100 {
            return Err("argument must be between 0 and 100 inclusive".into());
        }
        c.reserved_memory_percent = n
    }),
    directive!("maxmemory", mutable: true, tls: false, |c| c.maxmemory.to_string(), |c, v| c.maxmemory = parse_memory(v)?),
    directive!("maxmemory-policy", mutable: true, tls: false, |c| c.maxmemory_policy.clone(), |c, v| {
        let v = v.to_ascii_lowercase();
        if !MAXMEMORY_POLICIES.contains(&v.as_str()) {
            return Err(format!("argument(s) must be one of the following: {}", MAXMEMORY_POLICIES.join(", ")));
        }
        c.maxmemory_policy = v
    }),
    directive!("maxmemory-samples", mutable: true, tls: false, |c| c.maxmemory_samples.to_string(), |c, v| {
        let n: usize = parse_int(v)?;
        if !(1..=64).contains(&n) {
            return Err("argument must be between 1 and 64 inclusive".into());
        }
        c.maxmemory_samples = n
    }),
    directive!("lfu-log-factor", mutable: true, tls: false, |c| c.lfu_log_factor.to_string(),
        |c, v| c.lfu_log_factor = parse_int(v)?),
    directive!("lfu-decay-time", mutable: true, tls: false, |c| c.lfu_decay_time.to_string(),
        |c, v| c.lfu_decay_time = parse_int(v)?),
    directive!("cpu-pinning", mutable: false, tls: false, |c| c.cpu_pinning.clone(), |c, v| {
        let v = v.to_ascii_lowercase();
        if !matches!(v.as_str(), "physical-first" | "in-order" | "none") {
            return Err("argument(s) must be one of the following: physical-first, in-order, none".into());
        }
        c.cpu_pinning = v
    }),
    directive!("io-ring-entries", mutable: false, tls: false, |c| c.io_ring_entries.to_string(), |c, v| {
        let n: u32 = parse_int(v)?;
        if !(8..=32768).contains(&n) || !n.is_power_of_two() {
            return Err("argument must be a power of two between 8 and 32768".into());
        }
        c.io_ring_entries = n
    }),
    directive!("io-recv-buffers", mutable: false, tls: false, |c| c.io_recv_buffers.to_string(), |c, v| {
        let n: u32 = parse_int(v)?;
        if !(2..=32768).contains(&n) || !n.is_power_of_two() {
            return Err("argument must be a power of two between 2 and 32768".into());
        }
        c.io_recv_buffers = n
    }),
    directive!("io-sqpoll", mutable: false, tls: false, |c| yes_no(c.io_sqpoll), |c, v| c.io_sqpoll = parse_bool(v)?),
    directive!("tcp-socket-buffer", mutable: false, tls: false, |c| c.tcp_socket_buffer.to_string(),
        |c, v| c.tcp_socket_buffer = parse_memory(v)?),
];

/// Finds a directive by name, ignoring case as Redis does.
pub fn directive(name: &str) -> Option<&'static Directive> {
    DIRECTIVES.iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

/// A configuration problem at start-up; the text is the one line the operator sees.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file '{path}': {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{origin}: unknown directive '{name}'")]
    Unknown { origin: String, name: String },
    #[error("{origin}: bad value '{value}' for '{name}': {why}")]
    BadValue { origin: String, name: String, value: String, why: String },
    #[error("{origin}: {why}")]
    Syntax { origin: String, why: String },
}

impl Config {
    /// Applies one directive; `origin` says where it came from, for the error line.
    pub fn apply(&mut self, name: &str, value: &str, origin: &str) -> Result<(), ConfigError> {
        let d = directive(name)
            .ok_or_else(|| ConfigError::Unknown { origin: origin.into(), name: name.into() })?;
        (d.set)(self, value).map_err(|why| ConfigError::BadValue {
            origin: origin.into(),
            name: d.name.into(),
            value: value.into(),
            why,
        })?;
        self.explicit.insert(d.name);
        Ok(())
    }

    /// Applies a profile's derived settings to every directive not set explicitly; returns the
    /// directives it set. (A derived value that does not parse is a bug in the tuning crate.)
    pub fn apply_profile(&mut self, settings: &[cachet_tuning::Setting]) -> Vec<&'static str> {
        let mut applied = Vec::new();
        for s in settings {
            if self.explicit.contains(s.directive) {
                continue;
            }
            let d = directive(s.directive)
                .unwrap_or_else(|| panic!("profile sets unknown directive {}", s.directive));
            (d.set)(self, &s.value)
                .unwrap_or_else(|e| panic!("profile value {}={}: {e}", s.directive, s.value));
            applied.push(d.name);
        }
        applied
    }

    /// Reads a redis.conf-style file: one directive per line, `#` comments, arguments split
    /// and quoted as Redis does; multiple arguments are joined with spaces (`bind a b`).
    pub fn load_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.into(), source })?;
        for (n, line) in text.lines().enumerate() {
            let origin = format!("{}:{}", path.display(), n + 1);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let args = cachet_resp::split_args(line.as_bytes())
                .map_err(|e| ConfigError::Syntax { origin: origin.clone(), why: e.message() })?;
            let args: Vec<String> =
                args.into_iter().map(|a| String::from_utf8_lossy(&a).into_owned()).collect();
            let Some((name, rest)) = args.split_first() else { continue };
            self.apply(name, &rest.join(" "), &origin)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_directive_round_trips_its_default() {
        let mut c = Config::default();
        for d in DIRECTIVES {
            let v = (d.get)(&c);
            (d.set)(&mut c, &v).unwrap_or_else(|e| panic!("{}: {e}", d.name));
            assert_eq!((d.get)(&c), v, "{}", d.name);
        }
    }

    #[test]
    fn memory_units_follow_redis() {
        assert_eq!(parse_memory("1kb"), Ok(1024));
        assert_eq!(parse_memory("1k"), Ok(1000));
        assert_eq!(parse_memory("512MB"), Ok(512 * 1024 * 1024));
        assert!(parse_memory("12x").is_err());
    }

    #[test]
    fn a_config_file_applies_and_errors_name_the_line() {
        let dir = std::env::temp_dir().join(format!("cachet-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.conf");
        std::fs::write(&f, "# comment\nport 7000\nbind 127.0.0.1 ::1\nrequirepass \"s3 cret\"\n").unwrap();
        let mut c = Config::default();
        c.load_file(&f).unwrap();
        assert_eq!(c.port, 7000);
        assert_eq!(c.bind, vec!["127.0.0.1", "::1"]);
        assert_eq!(c.requirepass.as_deref(), Some("s3 cret"));
        std::fs::write(&f, "port 7000\nnot-a-thing yes\n").unwrap();
        let e = Config::default().load_file(&f).unwrap_err().to_string();
        assert!(e.ends_with("c.conf:2: unknown directive 'not-a-thing'"), "{e}");
        std::fs::write(&f, "maxclients lots\n").unwrap();
        let e = Config::default().load_file(&f).unwrap_err().to_string();
        assert!(e.contains("bad value 'lots' for 'maxclients'"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
