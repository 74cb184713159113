//! Replication commands: SYNC, PSYNC, REPLCONF (the primary's side of the handshake), WAIT,
//! REPLICAOF/SLAVEOF and ROLE. The machinery is in `crate::replication` (primary) and
//! `crate::replica` (replica).

use super::Ctx;
use crate::replication::PsyncReply;
use cachet_resp::Args;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// A replica may only sync from this node when this node has data to give: a primary, or a
/// replica whose own link is up.
fn can_serve(ctx: &mut Ctx) -> bool {
    if ctx.state.replica_link {
        // Already a replica's connection: a second SYNC is ignored, as in Redis.
        return false;
    }
    if let Some((_, _, status)) = ctx.node.replica.target() {
        if status != crate::replica::LinkStatus::Connected {
            ctx.error("NOMASTERLINK Can't SYNC while not connected with my master");
            return false;
        }
    }
    true
}

/// SYNC: the snapshot as `$<len>\r\n<rdb>`, then the stream (no `+FULLRESYNC` line).
pub fn sync(ctx: &mut Ctx, _args: Args) {
    if !can_serve(ctx) {
        return;
    }
    ctx.state.replica_link = true;
    ctx.state.handle.kind.store(crate::node::KIND_REPLICA, Relaxed);
    ctx.node.repl.stats.sync_full.fetch_add(1, Relaxed);
    let port = ctx.state.repl_port;
    ctx.node.repl.full_sync(ctx.node, &ctx.state.handle, false, port);
}

/// PSYNC replid offset: `+CONTINUE` and the stream from the backlog when it can, else
/// `+FULLRESYNC <replid> <offset>` and a snapshot (sent when it is ready).
pub fn psync(ctx: &mut Ctx, args: Args) {
    if !can_serve(ctx) {
        return;
    }
    let replid = String::from_utf8_lossy(args.get(1)).into_owned();
    let offset = super::int_arg(args.get(2)).unwrap_or(-1);
    ctx.state.replica_link = true;
    ctx.state.handle.kind.store(crate::node::KIND_REPLICA, Relaxed);
    let port = ctx.state.repl_port;
    let stats = &ctx.node.repl.stats;
    match ctx.node.repl.psync(ctx.node, &ctx.state.handle, &replid, offset, port) {
        PsyncReply::Continue(id) => {
            stats.sync_partial_ok.fetch_add(1, Relaxed);
            tracing::info!(replica = %ctx.state.handle.addr, offset, "partial resynchronisation accepted");
            ctx.out.extend_from_slice(format!("+CONTINUE {id}\r\n").as_bytes());
            if ctx.node.repl.pull(ctx.state.handle.id, ctx.out) == crate::replication::Pull::More {
                ctx.state.repl_more = true;
            }
        }
        PsyncReply::Full => {
            if replid != "?" {
                stats.sync_partial_err.fetch_add(1, Relaxed);
            }
            stats.sync_full.fetch_add(1, Relaxed);
        }
    }
}

/// REPLCONF option value ...: listening-port, ip-address, capa, rdb-only... are noted or
/// acknowledged; ACK (from a replica) and GETACK (only meaningful from a primary) get no reply.
pub fn replconf(ctx: &mut Ctx, args: Args) {
    if args.len().is_multiple_of(2) {
        return ctx.syntax_error();
    }
    let mut i = 1;
    while i < args.len() {
        let (opt, val) = (args.get(i), args.get(i + 1));
        if opt.eq_ignore_ascii_case(b"ack") {
            if ctx.state.replica_link {
                if let Some(off) = super::int_arg(val).filter(|o| *o >= 0) {
                    ctx.node.repl.ack(ctx.node, ctx.state.handle.id, off as u64);
                }
            }
            return;
        } else if opt.eq_ignore_ascii_case(b"getack") {
            return;
        } else if opt.eq_ignore_ascii_case(b"listening-port") {
            match super::int_arg(val).filter(|p| (0..=65535).contains(p)) {
                Some(p) => ctx.state.repl_port = p as u16,
                None => return ctx.not_an_integer(),
            }
        } else if !["ip-address", "capa", "rdb-only", "rdb-filter-only"]
            .iter()
            .any(|o| opt.eq_ignore_ascii_case(o.as_bytes()))
        {
            let o = String::from_utf8_lossy(opt);
            return ctx.error(&format!("ERR Unrecognized REPLCONF option: {o}"));
        }
        i += 2;
    }
    ctx.w().ok();
}

/// ROLE: `master offset [[ip port offset] ...]`, or `slave host port state offset`.
pub fn role(ctx: &mut Ctx, _args: Args) {
    let offset = ctx.node.repl.offset();
    if let Some((host, port, status)) = ctx.node.replica.target() {
        let mut w = ctx.w();
        w.array(5);
        w.bulk(b"slave");
        w.bulk(host.as_bytes());
        w.integer(port as i64);
        w.bulk(status.role_word().as_bytes());
        w.integer(if status == crate::replica::LinkStatus::Connected { offset as i64 } else { -1 });
        return;
    }
    let replicas = ctx.node.repl.role_replicas();
    let mut w = ctx.w();
    w.array(3);
    w.bulk(b"master");
    w.integer(offset as i64);
    w.array(replicas.len());
    for (ip, port, ack) in replicas {
        w.array(3);
        w.bulk(ip.as_bytes());
        w.bulk(port.to_string().as_bytes());
        w.bulk(ack.to_string().as_bytes());
    }
}

/// REPLICAOF host port | NO ONE (and SLAVEOF).
pub fn replicaof(ctx: &mut Ctx, args: Args) {
    if ctx.state.replica_link {
        return ctx.error("ERR Command is not valid when client is a replica.");
    }
    let (host, port) = (args.get(1), args.get(2));
    if host.eq_ignore_ascii_case(b"no") && port.eq_ignore_ascii_case(b"one") {
        ctx.node.set_primary(None);
        return ctx.w().ok();
    }
    let Some(port) = super::int_arg(port).filter(|p| (0..=65535).contains(p)) else {
        return ctx.error("ERR Invalid master port");
    };
    let host = String::from_utf8_lossy(host).into_owned();
    if ctx.node.set_primary(Some((host, port as u16))) {
        ctx.w().ok();
    } else {
        ctx.w().simple(b"OK Already connected to specified master");
    }
}

/// A WAIT in progress.
pub struct Wait {
    /// The stream offset every counted replica must have acknowledged.
    target: u64,
    replicas: usize,
    deadline: Option<Instant>,
}

/// WAIT numreplicas timeout: the number of replicas that acknowledged every write made before
/// it, once `numreplicas` have or the timeout (ms, 0 = none) passes.
pub fn wait(ctx: &mut Ctx, args: Args) {
    if ctx.node.is_replica() {
        return ctx.error(
            "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a \
             replica is configured to be writable (which is not the default) writes to replicas are just \
             local and are not propagated.",
        );
    }
    let Some(n) = super::int_arg(args.get(1)) else { return ctx.not_an_integer() };
    let Some(ms) = super::int_arg(args.get(2)) else {
        return ctx.error("ERR timeout is not an integer or out of range");
    };
    if ms < 0 {
        return ctx.error("ERR timeout is negative");
    }
    let repl = &ctx.node.repl;
    let target = repl.offset();
    let acked = repl.acked(target);
    if ctx.state.in_exec || acked as i64 >= n {
        return ctx.w().integer(acked as i64);
    }
    let deadline = (ms > 0).then(|| Instant::now() + Duration::from_millis(ms as u64));
    ctx.state.wait = Some(Wait { target, replicas: n.max(0) as usize, deadline });
    repl.wait_for_acks(ctx.node, (ctx.state.worker, ctx.state.slot), true);
}

/// Answers a WAIT when enough replicas have acknowledged or (with `now`) its time is up;
/// returns whether it did. Otherwise it stays registered for the next acknowledgement.
pub fn wait_check(
    node: &crate::Node,
    state: &mut crate::conn::ClientState,
    replies: &mut Vec<u8>,
    now: Option<Instant>,
) -> bool {
    let Some(w) = &state.wait else { return false };
    let acked = node.repl.acked(w.target);
    let due = now.is_some_and(|t| w.deadline.is_some_and(|d| t >= d));
    if acked >= w.replicas || due {
        state.wait = None;
        cachet_resp::ReplyWriter::new(replies, state.proto).integer(acked as i64);
        return true;
    }
    node.repl.wait_for_acks(node, (state.worker, state.slot), false);
    false
}
