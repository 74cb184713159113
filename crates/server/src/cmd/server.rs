//! Connection and server commands: PING, ECHO, QUIT, AUTH, HELLO, COMMAND, INFO, CONFIG, CLIENT.

use super::{int_arg, Ctx, COMMANDS, REDIS_COMPAT_VERSION};
use crate::config::DIRECTIVES;
use crate::node::{ClientHandle, Node};
use cachet_resp::{Args, Protocol};
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

pub fn ping(ctx: &mut Ctx, args: Args) {
    if ctx.state.proto == cachet_resp::Protocol::Resp2
        && super::pubsub::subscribed(ctx.state)
        && args.len() <= 2
    {
        // In subscribed mode RESP2 PING answers like a message: ["pong", arg or ""].
        let arg = if args.len() == 2 { args.get(1) } else { b"" };
        let mut w = ctx.w();
        w.array(2);
        w.bulk(b"pong");
        return w.bulk(arg);
    }
    match args.len() {
        1 => ctx.w().simple(b"PONG"),
        2 => ctx.w().bulk(args.get(1)),
        _ => ctx.wrong_arity("ping"),
    }
}

pub fn echo(ctx: &mut Ctx, args: Args) {
    ctx.w().bulk(args.get(1));
}

pub fn time(ctx: &mut Ctx, _args: Args) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut w = ctx.w();
    w.array(2);
    w.bulk_integer(now.as_secs() as i64);
    w.bulk_integer(now.subsec_micros() as i64);
}

/// LASTSAVE: cachet never saves, so the time it started (what Redis reports before a first save).
pub fn lastsave(ctx: &mut Ctx, _args: Args) {
    let started = ctx.node.now_ms().saturating_sub(ctx.node.started.elapsed().as_millis() as u64) / 1000;
    ctx.w().integer(started as i64);
}

/// RESET: back to a fresh connection's state (Redis 6.2+): no transaction, no watches, no
/// subscriptions, db 0, RESP2, no name, and unauthenticated when a password is required.
pub fn reset(ctx: &mut Ctx, _args: Args) {
    ctx.state.multi = None;
    super::tx::unwatch_all(ctx.node, ctx.state);
    super::pubsub::remove_all(ctx.node, ctx.state);
    ctx.state.db = 0;
    ctx.state.handle.db.store(0, Relaxed);
    ctx.state.proto = Protocol::Resp2;
    ctx.state.handle.resp.store(2, Relaxed);
    lock(&ctx.state.handle.name).clear();
    ctx.state.user = ctx.node.acl.default_user();
    ctx.state.unrestricted = ctx.state.user.unrestricted();
    ctx.state.user_epoch = ctx.node.acl.epoch();
    *crate::node::lock_user(&ctx.state.handle) = "default".into();
    ctx.state.authenticated = ctx.node.acl.default_open();
    if std::mem::take(&mut ctx.state.monitor) {
        ctx.node.remove_monitor(ctx.state.handle.id);
    }
    ctx.state.reply_off = false;
    ctx.state.reply_skip = false;
    ctx.state.reply_skip_next = false;
    ctx.w().simple(b"RESET");
}

pub fn quit(ctx: &mut Ctx, _args: Args) {
    ctx.w().ok();
    ctx.state.closing = true;
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

pub fn auth(ctx: &mut Ctx, args: Args) {
    let (user, pass) = match args.len() {
        2 => {
            if ctx.node.acl.default_user().nopass {
                return ctx.error(
                    "ERR AUTH <password> called without any password configured for the default user. \
                     Are you sure your configuration is correct?",
                );
            }
            (&b"default"[..], args.get(1))
        }
        3 => (args.get(1), args.get(2)),
        _ => return ctx.syntax_error(),
    };
    match ctx.node.acl.authenticate(user, pass) {
        Some(u) => {
            crate::acl::login(ctx.node, ctx.state, u);
            ctx.w().ok();
        }
        None => {
            crate::acl::log_auth_failure(ctx, user);
            ctx.error(WRONGPASS);
        }
    }
}

pub fn hello(ctx: &mut Ctx, args: Args) {
    let mut proto = None;
    let mut i = 1;
    if args.len() >= 2 {
        match int_arg(args.get(1)) {
            Some(2) => proto = Some(Protocol::Resp2),
            Some(3) => proto = Some(Protocol::Resp3),
            Some(_) => return ctx.error("NOPROTO unsupported protocol version"),
            None => return ctx.error("ERR Protocol version is not an integer or out of range"),
        }
        i = 2;
    }
    let mut auth: Option<(&[u8], &[u8])> = None;
    let mut setname: Option<&[u8]> = None;
    while i < args.len() {
        let opt = args.get(i);
        let left = args.len() - i - 1;
        if opt.eq_ignore_ascii_case(b"auth") && left >= 2 {
            auth = Some((args.get(i + 1), args.get(i + 2)));
            i += 3;
        } else if opt.eq_ignore_ascii_case(b"setname") && left >= 1 {
            setname = Some(args.get(i + 1));
            i += 2;
        } else {
            let opt = String::from_utf8_lossy(opt);
            return ctx.error(&format!("ERR Syntax error in HELLO option '{opt}'"));
        }
    }
    if let Some((user, pass)) = auth {
        match ctx.node.acl.authenticate(user, pass) {
            Some(u) => crate::acl::login(ctx.node, ctx.state, u),
            None => {
                crate::acl::log_auth_failure(ctx, user);
                return ctx.error(WRONGPASS);
            }
        }
    }
    if !ctx.state.authenticated {
        return ctx.error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time",
        );
    }
    if let Some(name) = setname {
        if !valid_client_name(name) {
            return ctx.error("ERR Client names cannot contain spaces, newlines or special characters.");
        }
        *lock(&ctx.state.handle.name) = name.to_vec();
    }
    if let Some(p) = proto {
        ctx.state.proto = p;
        ctx.state.handle.resp.store(p.version() as usize, Relaxed);
    }
    let id = ctx.state.handle.id as i64;
    let version = ctx.state.proto.version();
    let mut w = ctx.w();
    w.map(7);
    w.bulk(b"server");
    w.bulk(b"redis");
    w.bulk(b"version");
    w.bulk(REDIS_COMPAT_VERSION.as_bytes());
    w.bulk(b"proto");
    w.integer(version);
    w.bulk(b"id");
    w.integer(id);
    w.bulk(b"mode");
    w.bulk(b"standalone");
    w.bulk(b"role");
    w.bulk(b"master");
    w.bulk(b"modules");
    w.array(0);
}

fn write_command_info(w: &mut cachet_resp::ReplyWriter, c: &super::CommandSpec) {
    w.array(10);
    w.bulk(c.name.as_bytes());
    w.integer(c.arity as i64);
    w.set(c.flags.len());
    for f in c.flags {
        w.simple(f.as_bytes());
    }
    w.integer(c.first_key as i64);
    w.integer(c.last_key as i64);
    w.integer(c.step as i64);
    w.set(c.categories.len());
    for cat in c.categories {
        w.simple(cat.as_bytes());
    }
    w.array(0); // tips
    w.array(0); // key specifications
    w.array(0); // subcommands
}

pub fn command(ctx: &mut Ctx, args: Args) {
    if args.len() == 1 {
        let mut w = ctx.w();
        w.array(COMMANDS.len());
        for c in COMMANDS {
            write_command_info(&mut w, c);
        }
        return;
    }
    let sub = args.get(1).to_ascii_lowercase();
    match sub.as_slice() {
        b"count" if args.len() == 2 => ctx.w().integer(COMMANDS.len() as i64),
        b"list" => {
            let mut w = ctx.w();
            w.array(COMMANDS.len());
            for c in COMMANDS {
                w.bulk(c.name.as_bytes());
            }
        }
        b"info" => {
            let mut w = ctx.w();
            w.array(args.len() - 2);
            for name in args.iter().skip(2) {
                match super::lookup(name) {
                    Some(i) => write_command_info(&mut w, &COMMANDS[i]),
                    None => w.null_array(),
                }
            }
        }
        b"docs" => {
            // Documentation text is not carried; clients use DOCS only for hints.
            ctx.w().map(0);
        }
        b"getkeys" if args.len() >= 4 => {
            let Some(idx) = super::lookup(args.get(2)) else {
                return ctx.error("ERR Invalid command specified");
            };
            let c = &COMMANDS[idx];
            let argc = (args.len() - 2) as i32;
            if (c.arity > 0 && argc != c.arity) || argc < -c.arity {
                return ctx.error("ERR Invalid number of arguments specified for command");
            }
            if c.first_key == 0 {
                return ctx.error("ERR The command has no key arguments");
            }
            let last = if c.last_key < 0 { argc + c.last_key } else { c.last_key };
            let mut keys = Vec::new();
            let mut i = c.first_key;
            while i <= last && i < argc {
                keys.push(args.get(2 + i as usize));
                i += c.step.max(1);
            }
            let mut w = ctx.w();
            w.array(keys.len());
            for k in keys {
                w.bulk(k);
            }
        }
        b"getkeys" => ctx.wrong_arity("command|getkeys"),
        b"count" => ctx.wrong_arity("command|count"),
        _ => ctx.unknown_subcommand(args.get(1), "COMMAND"),
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Redis accepts client names of printable ASCII other than space.
fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

/// Process CPU time (user, system) in seconds.
fn cpu_times() -> (f64, f64) {
    // SAFETY: getrusage writes into the zeroed struct we pass and reads nothing else.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(ru.ru_utime), secs(ru.ru_stime))
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{n}B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.2}K", n / 1024.0)
    } else if n < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", n / 1024.0 / 1024.0)
    } else {
        format!("{:.2}G", n / 1024.0 / 1024.0 / 1024.0)
    }
}

const DEFAULT_SECTIONS: &[&str] =
    &["server", "clients", "memory", "stats", "replication", "cpu", "tls", "keyspace"];

/// Renders INFO for the given sections (lowercase), in Redis's layout.
pub fn render_info(node: &Node, sections: &[String]) -> String {
    let all =
        sections.is_empty() || sections.iter().any(|s| s == "all" || s == "everything" || s == "default");
    let want = |s: &str| all || sections.iter().any(|x| x == s);
    let mut o = String::new();
    let live = node.live();
    if want("server") {
        let up = node.started.elapsed().as_secs();
        let now_us = node.now_ms() * 1000;
        let _ = write!(
            o,
            "# Server\r\nredis_version:{REDIS_COMPAT_VERSION}\r\nredis_mode:standalone\r\nos:{} {}\r\n\
             arch_bits:64\r\nmultiplexing_api:{}\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\n\
             server_time_usec:{now_us}\r\nuptime_in_seconds:{up}\r\nuptime_in_days:{}\r\nhz:10\r\n\
             executable:{}\r\ncachet_version:{}\r\nworkers:{}\r\ntransit_encryption_mode:{}\r\ntls_port:{}\r\n\
             node_type:{}\r\ntuning_profile:{}\r\n\r\n",
            std::env::consts::OS,
            std::env::consts::ARCH,
            node.io_backend,
            std::process::id(),
            node.run_id,
            node.port(),
            up / 86400,
            std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
            env!("CARGO_PKG_VERSION"),
            node.workers,
            live.mode,
            node.tls_port(),
            node.node_type,
            node.tuning_profile,
        );
    }
    if want("clients") {
        let _ = write!(
            o,
            "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\ntracking_clients:0\r\n\r\n",
            node.connected_clients(),
            live.maxclients,
            node.blocked_clients()
        );
    }
    // Exact figures for INFO (it locks each stripe briefly, as the tick does).
    node.refresh_memory();
    let (expired, dataset) = node.keyspace.stats();
    if want("memory") {
        let rss = rss_bytes();
        let used = node.used_memory();
        let peak = node.used_memory_peak().max(used);
        let startup = node.used_memory_startup();
        let _ = write!(
            o,
            "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\n\
             used_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\n\
             used_memory_overhead:{}\r\nused_memory_startup:{startup}\r\nused_memory_dataset:{dataset}\r\n\
             maxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\n\
             mem_fragmentation_ratio:{:.2}\r\nmem_allocator:mimalloc\r\n\r\n",
            human_bytes(used),
            human_bytes(rss),
            human_bytes(peak),
            used.saturating_sub(dataset as u64),
            live.maxmemory,
            human_bytes(live.maxmemory),
            node.config().maxmemory_policy,
            if used > 0 { rss as f64 / used as f64 } else { 0.0 },
        );
    }
    if want("stats") {
        let s = &node.stats;
        let _ = write!(
            o,
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
             total_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\n\
             expired_keys:{expired}\r\nevicted_keys:{}\r\nsync_full:{}\r\nsync_partial_ok:{}\r\n\
             sync_partial_err:{}\r\ntotal_error_replies:{}\r\n\r\n",
            s.connections_received.load(Relaxed),
            node.commands_processed(),
            node.sum(|w| &w.net_input_bytes),
            node.sum(|w| &w.net_output_bytes),
            s.rejected_connections.load(Relaxed),
            node.keyspace.evicted(),
            node.repl.stats.sync_full.load(Relaxed),
            node.repl.stats.sync_partial_ok.load(Relaxed),
            node.repl.stats.sync_partial_err.load(Relaxed),
            node.sum(|w| &w.error_replies),
        );
    }
    if want("replication") {
        o.push_str("# Replication\r\n");
        if node.is_replica() {
            o.push_str("role:slave\r\n");
            node.replica.info(&mut o, node.repl.offset());
            let _ = write!(
                o,
                "slave_priority:100\r\nslave_read_only:{}\r\nreplica_announced:1\r\n",
                live.replica_read_only as u8
            );
        } else {
            o.push_str("role:master\r\n");
        }
        node.repl.info_primary(&mut o);
        o.push_str("\r\n");
    }
    if want("cpu") {
        let (user, sys) = cpu_times();
        let _ = write!(o, "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\n\r\n");
    }
    if want("tls") {
        let t = &node.tls_stats;
        let _ = write!(
            o,
            "# TLS\r\ntls_full_handshakes:{}\r\ntls_resumed_handshakes:{}\r\ntls_handshake_failures:{}\r\n",
            t.full_handshakes.load(Relaxed),
            t.resumed_handshakes.load(Relaxed),
            t.total_failures(),
        );
        for (why, n) in t.failures() {
            let _ = write!(o, "tls_handshake_failures_{}:{n}\r\n", why.name());
        }
        let _ = write!(
            o,
            "tls_connections_tlsv1_2:{}\r\ntls_connections_tlsv1_3:{}\r\ntls_client_certificates:{}\r\n",
            t.tls12_connections.load(Relaxed),
            t.tls13_connections.load(Relaxed),
            t.client_certificates.load(Relaxed),
        );
        for (suite, n) in t.suites() {
            let _ = write!(o, "tls_cipher_{suite}:{n}\r\n");
        }
        let _ = write!(
            o,
            "plaintext_connections:{}\r\nplaintext_refused:{}\r\ntls_refused:{}\r\n\r\n",
            node.stats.plaintext_connections.load(Relaxed),
            node.stats.plaintext_refused.load(Relaxed),
            node.stats.tls_refused.load(Relaxed),
        );
    }
    // Like Redis, commandstats and errorstats come with `all`/`everything` or by name only.
    let named_or_all = |s: &str| sections.iter().any(|x| x == s || x == "all" || x == "everything");
    if named_or_all("commandstats") {
        o.push_str("# Commandstats\r\n");
        let ids = super::COMMANDS.len() + super::SUBCOMMANDS.len();
        for id in 0..ids {
            let (mut calls, mut ticks, mut rejected, mut failed) = (0, 0, 0, 0);
            for w in node.worker_stats.iter() {
                let c = &w.cmds[id];
                calls += c.calls.load(Relaxed);
                ticks += c.ticks.load(Relaxed);
                rejected += c.rejected.load(Relaxed);
                failed += c.failed.load(Relaxed);
            }
            if calls + rejected + failed == 0 {
                continue;
            }
            let usec = crate::clock::to_us(ticks);
            let per = if calls > 0 { usec as f64 / calls as f64 } else { 0.0 };
            let _ = write!(
                o,
                "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rejected},failed_calls={failed}\r\n",
                super::name_of_id(id)
            );
        }
        o.push_str("\r\n");
    }
    if named_or_all("errorstats") {
        o.push_str("# Errorstats\r\n");
        let mut all: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        for w in node.worker_stats.iter() {
            for (code, n) in lock(&w.errors).iter() {
                *all.entry(code.clone()).or_default() += n;
            }
        }
        for (code, n) in all {
            let _ = write!(o, "errorstat_{code}:count={n}\r\n");
        }
        o.push_str("\r\n");
    }
    if want("keyspace") {
        o.push_str("# Keyspace\r\n");
        for (db, (keys, expires)) in node.keyspace.db_counts().into_iter().enumerate() {
            if keys > 0 {
                let _ = write!(o, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
            }
        }
        o.push_str("\r\n");
    }
    // Redis ends the text without the last blank line.
    while o.ends_with("\r\n\r\n") {
        o.truncate(o.len() - 2);
    }
    o
}

/// Records a slow command: arguments cut as Redis cuts them (32 at most, 128 bytes each) and
/// secrets replaced by `(redacted)`.
pub fn slowlog_record(ctx: &mut Ctx, args: Args, micros: u64) {
    const MAX_ARGS: usize = 32;
    const MAX_ARG_LEN: usize = 128;
    let name = args.get(0).to_ascii_lowercase();
    let secret = |i: usize| -> bool {
        match name.as_slice() {
            b"auth" => i >= 1,
            b"acl" => i >= 3 && args.get(1).eq_ignore_ascii_case(b"setuser"),
            b"hello" => i >= 2 && args.get(i - 2).eq_ignore_ascii_case(b"auth"),
            b"config" => {
                i >= 3
                    && i % 2 == 1
                    && args.get(1).eq_ignore_ascii_case(b"set")
                    && (args.get(i - 1).eq_ignore_ascii_case(b"requirepass")
                        || args.get(i - 1).eq_ignore_ascii_case(b"masterauth"))
            }
            _ => false,
        }
    };
    let shown = args.len().min(MAX_ARGS);
    let mut logged = Vec::with_capacity(shown);
    for i in 0..shown {
        if shown < args.len() && i == shown - 1 {
            logged.push(format!("... ({} more arguments)", args.len() - shown + 1).into_bytes());
            break;
        }
        let a = args.get(i);
        if secret(i) {
            logged.push(b"(redacted)".to_vec());
        } else if a.len() > MAX_ARG_LEN {
            let mut v = a[..MAX_ARG_LEN].to_vec();
            v.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_ARG_LEN).as_bytes());
            logged.push(v);
        } else {
            logged.push(a.to_vec());
        }
    }
    let h = &ctx.state.handle;
    ctx.node.slowlog_push(crate::node::SlowEntry {
        id: 0,
        unix_secs: ctx.now_ms / 1000,
        micros,
        args: logged,
        peer: h.addr.clone(),
        name: lock(&h.name).clone(),
    });
}

const SLOWLOG_HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

pub fn slowlog(ctx: &mut Ctx, args: Args) {
    let sub = args.get(1).to_ascii_lowercase();
    match sub.as_slice() {
        b"len" => {
            let n = lock(&ctx.node.slowlog).len();
            ctx.w().integer(n as i64)
        }
        b"reset" => {
            lock(&ctx.node.slowlog).clear();
            ctx.w().ok()
        }
        b"get" => {
            let count =
                match args.len() {
                    2 => 10,
                    3 => match int_arg(args.get(2)) {
                        Some(-1) => usize::MAX,
                        Some(n) if n >= 0 => n as usize,
                        _ => return ctx.error("ERR count should be greater than or equal to -1"),
                    },
                    _ => return ctx.error(
                        "ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.",
                    ),
                };
            let log = lock(&ctx.node.slowlog);
            let n = log.len().min(count);
            let mut out = Vec::new();
            let mut w = cachet_resp::ReplyWriter::new(&mut out, ctx.state.proto);
            w.array(n);
            for e in log.iter().take(n) {
                w.array(6);
                w.integer(e.id as i64);
                w.integer(e.unix_secs as i64);
                w.integer(e.micros as i64);
                w.array(e.args.len());
                for a in &e.args {
                    w.bulk(a);
                }
                w.bulk(e.peer.as_bytes());
                w.bulk(&e.name);
            }
            drop(log);
            ctx.out.extend_from_slice(&out);
        }
        b"help" => {
            ctx.help(SLOWLOG_HELP);
        }
        _ => ctx.unknown_subcommand(args.get(1), "SLOWLOG"),
    }
}

pub fn info(ctx: &mut Ctx, args: Args) {
    let sections: Vec<String> =
        args.iter().skip(1).map(|s| String::from_utf8_lossy(s).to_ascii_lowercase()).collect();
    let mut sections = sections;
    if sections.iter().any(|s| s == "default") {
        sections.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
    }
    let text = render_info(ctx.node, &sections);
    ctx.w().verbatim(text.as_bytes());
}

pub fn config(ctx: &mut Ctx, args: Args) {
    let sub = args.get(1).to_ascii_lowercase();
    match sub.as_slice() {
        b"get" => {
            if args.len() < 3 {
                return ctx.wrong_arity("config|get");
            }
            let cfg = ctx.node.config();
            let mut found: Vec<(&str, String)> = Vec::new();
            for pattern in args.iter().skip(2) {
                // `user` lines are read at start only and listed by ACL LIST, not here.
                for d in DIRECTIVES.iter().filter(|d| d.name != "user") {
                    if cachet_store::glob_match(pattern, d.name.as_bytes(), true)
                        && !found.iter().any(|(n, _)| *n == d.name)
                    {
                        found.push((d.name, (d.get)(&cfg)));
                    }
                }
            }
            let mut w = ctx.w();
            w.map(found.len());
            for (n, v) in found {
                w.bulk(n.as_bytes());
                w.bulk(v.as_bytes());
            }
        }
        b"set" => {
            if args.len() < 4 || !args.len().is_multiple_of(2) {
                return ctx.wrong_arity("config|set");
            }
            let pairs: Vec<(String, String)> = (2..args.len())
                .step_by(2)
                .map(|i| {
                    (
                        String::from_utf8_lossy(args.get(i)).into_owned(),
                        String::from_utf8_lossy(args.get(i + 1)).into_owned(),
                    )
                })
                .collect();
            match ctx.node.config_set(&pairs) {
                Ok(()) => ctx.w().ok(),
                Err(e) => ctx.error(&e),
            }
        }
        b"resetstat" => {
            if args.len() != 2 {
                return ctx.wrong_arity("config|resetstat");
            }
            ctx.node.reset_stats();
            ctx.w().ok();
        }
        _ => ctx.unknown_subcommand(args.get(1), "CONFIG"),
    }
}

/// One CLIENT LIST line for `h`, in Redis 7's field order.
pub fn client_line(node: &Node, h: &ClientHandle) -> String {
    let idle = node.now_ms().saturating_sub(h.last_active_ms.load(Relaxed)) / 1000;
    let cmd = match h.last_cmd.load(Relaxed) {
        0 => "NULL",
        i => super::name_of_id(i - 1),
    };
    format!(
        "id={} addr={} laddr={} fd=-1 name={} age={} idle={idle} flags={} db={} sub=0 psub=0 ssub=0 \
         multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 \
         events=r cmd={cmd} user={} redir=-1 resp={}\n",
        h.id,
        h.addr,
        h.laddr,
        String::from_utf8_lossy(&lock(&h.name)),
        h.created.elapsed().as_secs(),
        match h.kind.load(Relaxed) {
            crate::node::KIND_REPLICA => "S",
            crate::node::KIND_MASTER => "M",
            _ => "N",
        },
        h.db.load(Relaxed),
        crate::node::lock_user(h),
        h.resp.load(Relaxed),
    )
}

pub fn client(ctx: &mut Ctx, args: Args) {
    let sub = args.get(1).to_ascii_lowercase();
    let me = ctx.state.handle.clone();
    match sub.as_slice() {
        b"id" if args.len() == 2 => ctx.w().integer(me.id as i64),
        b"getname" if args.len() == 2 => {
            let name = lock(&me.name).clone();
            if name.is_empty() {
                ctx.w().null()
            } else {
                ctx.w().bulk(&name)
            }
        }
        b"setname" if args.len() == 3 => {
            let name = args.get(2);
            if !valid_client_name(name) {
                return ctx.error("ERR Client names cannot contain spaces, newlines or special characters.");
            }
            *lock(&me.name) = name.to_vec();
            ctx.w().ok();
        }
        b"setinfo" if args.len() == 4 => {
            let attr = args.get(2);
            if attr.eq_ignore_ascii_case(b"lib-name") || attr.eq_ignore_ascii_case(b"lib-ver") {
                ctx.w().ok();
            } else {
                let attr = String::from_utf8_lossy(attr);
                ctx.error(&format!("ERR Unrecognized option '{attr}'"));
            }
        }
        b"info" if args.len() == 2 => {
            let line = client_line(ctx.node, &me);
            ctx.w().verbatim(line.as_bytes());
        }
        b"list" => {
            let mut ids: Option<Vec<u64>> = None;
            let mut kind: Option<Vec<u8>> = None;
            let mut i = 2;
            while i < args.len() {
                let opt = args.get(i);
                if opt.eq_ignore_ascii_case(b"type") && i + 1 < args.len() {
                    let t = args.get(i + 1).to_ascii_lowercase();
                    if !matches!(t.as_slice(), b"normal" | b"master" | b"replica" | b"slave" | b"pubsub") {
                        let t = String::from_utf8_lossy(&t);
                        return ctx.error(&format!("ERR Unknown client type '{t}'"));
                    }
                    kind = Some(if t == b"replica" { b"slave".to_vec() } else { t });
                    i += 2;
                } else if opt.eq_ignore_ascii_case(b"id") && i + 1 < args.len() {
                    let mut v = Vec::new();
                    for a in args.iter().skip(i + 1) {
                        match int_arg(a) {
                            Some(n) if n > 0 => v.push(n as u64),
                            _ => return ctx.error("ERR Invalid client ID"),
                        }
                    }
                    ids = Some(v);
                    i = args.len();
                } else {
                    return ctx.syntax_error();
                }
            }
            let mut text = String::new();
            for h in ctx.node.clients() {
                if ids.as_ref().is_none_or(|v| v.contains(&h.id))
                    && kind.as_ref().is_none_or(|k| k.as_slice() == h.type_name())
                {
                    text.push_str(&client_line(ctx.node, &h));
                }
            }
            ctx.w().verbatim(text.as_bytes());
        }
        b"kill" => client_kill(ctx, args),
        b"no-evict" => match args.get(2).to_ascii_lowercase().as_slice() {
            b"on" | b"off" => ctx.w().ok(),
            _ => ctx.syntax_error(),
        },
        b"reply" => match args.get(2).to_ascii_lowercase().as_slice() {
            b"on" => {
                ctx.state.reply_off = false;
                ctx.state.reply_skip = false;
                ctx.w().ok()
            }
            b"off" => ctx.state.reply_off = true,
            b"skip" => {
                if !ctx.state.reply_off {
                    ctx.state.reply_skip_next = true;
                }
            }
            _ => ctx.syntax_error(),
        },
        b"pause" => {
            let Some(ms) = int_arg(args.get(2)) else {
                return ctx.error("ERR timeout is not an integer or out of range");
            };
            if ms < 0 {
                return ctx.error("ERR timeout is negative");
            }
            let all = match args.len() {
                3 => true,
                4 if args.get(3).eq_ignore_ascii_case(b"all") => true,
                4 if args.get(3).eq_ignore_ascii_case(b"write") => false,
                _ => return ctx.syntax_error(),
            };
            ctx.node.pause(ctx.now_ms.saturating_add(ms as u64), all);
            ctx.w().ok()
        }
        b"unpause" => {
            ctx.node.unpause();
            ctx.w().ok()
        }
        b"unblock" => {
            let Some(id) = int_arg(args.get(2)) else { return ctx.not_an_integer() };
            let how = match args.len() {
                3 => 1,
                4 if args.get(3).eq_ignore_ascii_case(b"timeout") => 1,
                4 if args.get(3).eq_ignore_ascii_case(b"error") => 2,
                _ => return ctx.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
            };
            let target = ctx.node.clients().into_iter().find(|h| h.id as i64 == id);
            let done = match target {
                Some(h) if h.is_blocked.load(Relaxed) => {
                    h.unblock.store(how, Relaxed);
                    ctx.node.poke(h.worker, h.slot.load(Relaxed));
                    1
                }
                _ => 0,
            };
            ctx.w().integer(done)
        }
        b"help" => {
            ctx.help(CLIENT_HELP);
        }
        b"id" => ctx.wrong_arity("client|id"),
        b"getname" => ctx.wrong_arity("client|getname"),
        b"setname" => ctx.wrong_arity("client|setname"),
        b"setinfo" => ctx.wrong_arity("client|setinfo"),
        b"info" => ctx.wrong_arity("client|info"),
        _ => ctx.unknown_subcommand(args.get(1), "CLIENT"),
    }
}

/// CLIENT KILL addr:port (old form: +OK or an error) and CLIENT KILL <filter> <value> ...
/// (new form: the number killed). The owning worker closes a killed client on its next tick;
/// a client that kills itself is closed after this reply.
fn client_kill(ctx: &mut Ctx, args: Args) {
    let clients = ctx.node.clients();
    let me = ctx.state.handle.id;
    if args.len() == 3 {
        let addr = args.get(2);
        let Some(h) = clients.iter().find(|h| h.addr.as_bytes() == addr) else {
            return ctx.error("ERR No such client");
        };
        h.killed.store(true, Relaxed);
        if h.id == me {
            ctx.state.closing = true;
        }
        return ctx.w().ok();
    }
    if args.len() < 4 || !args.len().is_multiple_of(2) {
        return ctx.syntax_error();
    }
    let (mut id, mut addr, mut laddr, mut skipme, mut kind) = (None, None, None, true, None);
    let mut user: Option<String> = None;
    for i in (2..args.len()).step_by(2) {
        let (opt, val) = (args.get(i).to_ascii_lowercase(), args.get(i + 1));
        match opt.as_slice() {
            b"id" => match int_arg(val) {
                Some(n) if n > 0 => id = Some(n as u64),
                _ => return ctx.error("ERR client-id should be greater than 0"),
            },
            b"addr" => addr = Some(val.to_vec()),
            b"laddr" => laddr = Some(val.to_vec()),
            b"type" => kind = Some(val.to_ascii_lowercase()),
            b"user" => {
                let u = String::from_utf8_lossy(val).into_owned();
                if ctx.node.acl.get(&u).is_none() {
                    return ctx.error(&format!("ERR No such user '{u}'"));
                }
                user = Some(u);
            }
            b"skipme" => {
                skipme = match val.to_ascii_lowercase().as_slice() {
                    b"yes" => true,
                    b"no" => false,
                    _ => return ctx.syntax_error(),
                }
            }
            _ => return ctx.syntax_error(),
        }
    }
    if let Some(k) = &kind {
        if !matches!(k.as_slice(), b"normal" | b"master" | b"replica" | b"slave" | b"pubsub") {
            let k = String::from_utf8_lossy(k);
            return ctx.error(&format!("ERR Unknown client type '{k}'"));
        }
    }
    let mut killed = 0;
    for h in &clients {
        let matches = id.is_none_or(|i| i == h.id)
            && addr.as_ref().is_none_or(|a| a == h.addr.as_bytes())
            && laddr.as_ref().is_none_or(|a| a == h.laddr.as_bytes())
            && kind.as_ref().is_none_or(|k| {
                let k: &[u8] = if k == b"replica" { b"slave" } else { k };
                k == h.type_name()
            })
            && user.as_ref().is_none_or(|u| *u == *crate::node::lock_user(h))
            && !(skipme && h.id == me);
        if matches {
            h.killed.store(true, Relaxed);
            killed += 1;
            if h.id == me {
                ctx.state.closing = true;
            }
        }
    }
    ctx.w().integer(killed);
}

const MEMORY_HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

/// MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE. Sizes are cachet's own accounting
/// (what `used_memory_dataset` sums), exact rather than sampled.
pub fn memory(ctx: &mut Ctx, args: Args) {
    let sub = args.get(1).to_ascii_lowercase();
    match sub.as_slice() {
        b"usage" => {
            if args.len() > 3 {
                if args.len() != 5 || !args.get(3).eq_ignore_ascii_case(b"samples") {
                    return ctx.syntax_error();
                }
                if int_arg(args.get(4)).is_none() {
                    return ctx.not_an_integer();
                }
            }
            let key = args.get(2);
            match ctx.with_key(key, |s, h, db, now| s.memory_usage(db, h, key, now)) {
                Some(n) => ctx.w().integer(n as i64),
                None => ctx.w().null(),
            }
        }
        b"stats" => {
            ctx.node.refresh_memory();
            let used = ctx.node.used_memory();
            let keys: usize = ctx.node.keyspace.db_counts().iter().map(|c| c.0).sum();
            let rss = rss_bytes();
            let clients = ctx.node.connected_clients();
            let mut w = ctx.w();
            w.map(6);
            w.bulk(b"total.allocated");
            w.integer(used as i64);
            w.bulk(b"dataset.bytes");
            w.integer(used as i64);
            w.bulk(b"keys.count");
            w.integer(keys as i64);
            w.bulk(b"keys.bytes-per-key");
            w.integer((used as usize).checked_div(keys).unwrap_or(0) as i64);
            w.bulk(b"rss-bytes");
            w.integer(rss as i64);
            w.bulk(b"clients.normal");
            w.integer(clients as i64);
        }
        b"doctor" => ctx.w().verbatim(b"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base."),
        b"malloc-stats" => ctx.w().verbatim(b"Stats not supported for the current allocator"),
        b"purge" => ctx.w().ok(),
        b"help" => {
            ctx.help(MEMORY_HELP);
        }
        _ => ctx.unknown_subcommand(args.get(1), "MEMORY"),
    }
}

/// MONITOR: this connection receives every command the node runs from now on.
pub fn monitor(ctx: &mut Ctx, _args: Args) {
    if ctx.state.multi.is_some() {
        return ctx.error("ERR MONITOR isn't allowed in transactions");
    }
    ctx.state.monitor = true;
    ctx.node.add_monitor(&ctx.state.handle);
    ctx.w().ok();
}

/// Sends a command to the monitors, as Redis 7 prints it:
/// `+1339518083.107412 [0 127.0.0.1:60866] "keys" "*"`. Administrative commands and
/// AUTH/HELLO are not shown (Redis's `admin` and `no-monitor`).
pub fn feed_monitors(ctx: &mut Ctx, idx: usize, args: Args) {
    let spec = &super::COMMANDS[idx];
    if spec.flags.contains(&"admin") || matches!(spec.name, "auth" | "hello") {
        return;
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut line =
        format!("+{}.{:06} [{} {}]", now.as_secs(), now.subsec_micros(), ctx.state.db, ctx.state.handle.addr)
            .into_bytes();
    for a in args.iter() {
        line.push(b' ');
        repr(&mut line, a);
    }
    line.extend_from_slice(b"\r\n");
    ctx.node.feed_monitors(&line);
}

/// Redis's `sdscatrepr`: a quoted string with escapes for quotes, backslashes and
/// non-printable bytes.
fn repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' | b'"' => {
                out.push(b'\\');
                out.push(c);
            }
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            c if c.is_ascii_graphic() || c == b' ' => out.push(c),
            c => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Print this help.",
];
