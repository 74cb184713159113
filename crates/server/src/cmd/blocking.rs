//! Blocking commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX.
//!
//! A command that finds nothing to take registers its client on its keys
//! ([`crate::Node::block`]) and stops the connection from executing anything else. Any write to
//! one of those keys, on any worker, pokes the client's worker ([`crate::Node::key_ready`]),
//! which re-runs the command with its original deadline: it either takes what is there now and
//! replies, or finds another client got there first and stays blocked. The worker's tick
//! answers a timeout. Inside EXEC the commands never block (they answer as on timeout).

use super::{lookup, Ctx};
use crate::conn::ClientState;
use crate::node::{Node, WorkerStats};
use cachet_resp::{Args, Span};
use std::time::{Duration, Instant};

/// A blocked command, its request copied for the retry.
pub struct Blocked {
    pub db: usize,
    pub keys: Vec<Vec<u8>>,
    deadline: Option<Instant>,
    idx: usize,
    buf: Vec<u8>,
    spans: Vec<Span>,
}

/// Parses a timeout in seconds (fractions allowed; 0 = forever) into a deadline.
fn deadline(ctx: &mut Ctx, a: &[u8]) -> Option<Option<Instant>> {
    if let Some(d) = ctx.state.retry_deadline {
        return Some(d);
    }
    let Some(secs) = super::string::parse_float(a).filter(|v| v.is_finite()) else {
        ctx.error("ERR timeout is not a float or out of range");
        return None;
    };
    if secs < 0.0 {
        ctx.error("ERR timeout is negative");
        return None;
    }
    Some((secs > 0.0).then(|| Instant::now() + Duration::from_secs_f64(secs)))
}

/// Serves the command with `attempt` (which replies and returns Ok(true) when there was
/// something to take), else blocks the client on `keys` (inside EXEC: answers as on timeout).
///
/// The attempt runs twice around the registration: a write landing between a failed attempt
/// and the registration would otherwise poke nobody (a lost wake-up). With the second attempt,
/// such a write is seen by it; a later one finds the client registered. A poke that then
/// finds nothing to do is harmless.
fn serve_or_block(
    ctx: &mut Ctx,
    args: &Args,
    keys: Vec<Vec<u8>>,
    deadline: Option<Instant>,
    mut attempt: impl FnMut(&mut Ctx) -> Result<bool, ()>,
) {
    match attempt(ctx) {
        Err(()) => return ctx.wrongtype(),
        Ok(true) => return,
        Ok(false) => {}
    }
    if ctx.state.in_exec {
        return timeout_reply(ctx.out, ctx.state.proto);
    }
    let mut buf = Vec::new();
    let mut spans = Vec::with_capacity(args.len());
    for a in args.iter() {
        spans.push(buf.len()..buf.len() + a.len());
        buf.extend_from_slice(a);
    }
    let idx = lookup(args.get(0)).expect("a known command");
    let db = ctx.state.db;
    let waiter =
        crate::node::Waiter { worker: ctx.state.worker, slot: ctx.state.slot, client: ctx.state.handle.id };
    ctx.node.block(db, &keys, waiter);
    match attempt(ctx) {
        Ok(false) => {
            ctx.state.handle.is_blocked.store(true, std::sync::atomic::Ordering::Relaxed);
            ctx.state.blocked = Some(Blocked { db, keys, deadline, idx, buf, spans })
        }
        served => {
            ctx.node.unblock(db, &keys, ctx.state.handle.id);
            if served.is_err() {
                ctx.wrongtype();
            }
        }
    }
}

/// Every blocking command answers a timeout with a null array (`*-1`; `_` in RESP3), even
/// BLMOVE and BRPOPLPUSH, whose other replies are bulk strings (as redis-server does).
fn timeout_reply(out: &mut Vec<u8>, proto: cachet_resp::Protocol) {
    cachet_resp::ReplyWriter::new(out, proto).null_array();
}

/// Re-runs a blocked command after a poke (keeping its deadline), or answers it now when
/// CLIENT UNBLOCK asked for that.
pub fn retry(node: &Node, ws: &WorkerStats, state: &mut ClientState, replies: &mut Vec<u8>) {
    use std::sync::atomic::Ordering::Relaxed;
    let Some(b) = state.blocked.take() else { return };
    state.handle.is_blocked.store(false, Relaxed);
    node.unblock(b.db, &b.keys, state.handle.id);
    match state.handle.unblock.swap(0, Relaxed) {
        1 => return timeout_reply(replies, state.proto),
        2 => {
            crate::cmd::count_error(ws, "UNBLOCKED");
            return cachet_resp::ReplyWriter::new(replies, state.proto)
                .error(b"UNBLOCKED client unblocked via CLIENT UNBLOCK");
        }
        _ => {}
    }
    state.retry_deadline = Some(b.deadline);
    let live = node.live();
    let mut ctx = Ctx { node, ws, live: &live, state, out: replies, now_ms: node.now_ms(), batched: false };
    super::run(&mut ctx, b.idx, Args::from_parts(&b.buf, &b.spans));
    ctx.state.retry_deadline = None;
}

/// Answers a blocked command whose deadline has passed; returns whether it did.
pub fn expire(node: &Node, state: &mut ClientState, replies: &mut Vec<u8>, now: Instant) -> bool {
    let due = matches!(&state.blocked, Some(b) if b.deadline.is_some_and(|d| now >= d));
    if !due {
        return false;
    }
    let b = state.blocked.take().expect("checked");
    state.handle.is_blocked.store(false, std::sync::atomic::Ordering::Relaxed);
    node.unblock(b.db, &b.keys, state.handle.id);
    timeout_reply(replies, state.proto);
    true
}

/// BLPOP/BRPOP key [key ...] timeout.
fn bpop(ctx: &mut Ctx, args: Args, left: bool) {
    let Some(deadline) = deadline(ctx, args.get(args.len() - 1)) else { return };
    let keys: Vec<&[u8]> = (1..args.len() - 1).map(|i| args.get(i)).collect();
    let owned = keys.iter().map(|k| k.to_vec()).collect();
    serve_or_block(ctx, &args, owned, deadline, |ctx| {
        for key in &keys {
            if let Some(item) = super::list::pop_one(ctx, key, left)? {
                let mut w = ctx.w();
                w.array(2);
                w.bulk(key);
                w.bulk(&item);
                return Ok(true);
            }
        }
        Ok(false)
    });
}

pub fn blpop(ctx: &mut Ctx, args: Args) {
    bpop(ctx, args, true)
}
pub fn brpop(ctx: &mut Ctx, args: Args) {
    bpop(ctx, args, false)
}

fn bmove(ctx: &mut Ctx, args: Args, src: &[u8], dst: &[u8], from_left: bool, to_left: bool, timeout: &[u8]) {
    let Some(deadline) = deadline(ctx, timeout) else { return };
    serve_or_block(ctx, &args, vec![src.to_vec()], deadline, |ctx| {
        match super::list::move_one(ctx, src, dst, from_left, to_left)? {
            Some(v) => {
                ctx.w().bulk(&v);
                Ok(true)
            }
            None => Ok(false),
        }
    });
}

pub fn blmove(ctx: &mut Ctx, args: Args) {
    let (Some(from), Some(to)) = (super::list::side(args.get(3)), super::list::side(args.get(4))) else {
        return ctx.syntax_error();
    };
    let (src, dst, timeout) = (args.get(1), args.get(2), args.get(5));
    bmove(ctx, args, src, dst, from, to, timeout)
}

pub fn brpoplpush(ctx: &mut Ctx, args: Args) {
    let (src, dst, timeout) = (args.get(1), args.get(2), args.get(3));
    bmove(ctx, args, src, dst, false, true, timeout)
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count].
pub fn blmpop(ctx: &mut Ctx, args: Args) {
    let Some(deadline) = deadline(ctx, args.get(1)) else { return };
    let Some((keys, left, count)) = super::list::mpop_args(ctx, &args, 2) else { return };
    let owned = keys.iter().map(|k| k.to_vec()).collect();
    serve_or_block(ctx, &args, owned, deadline, |ctx| super::list::mpop(ctx, &keys, left, count));
}

/// BZPOPMIN/BZPOPMAX key [key ...] timeout: [key, member, score].
fn bzpop(ctx: &mut Ctx, args: Args, max: bool) {
    let Some(deadline) = deadline(ctx, args.get(args.len() - 1)) else { return };
    let keys: Vec<&[u8]> = (1..args.len() - 1).map(|i| args.get(i)).collect();
    let owned = keys.iter().map(|k| k.to_vec()).collect();
    serve_or_block(ctx, &args, owned, deadline, |ctx| {
        for key in &keys {
            if let Some((m, score)) = super::zset::pop_one(ctx, key, max)? {
                let mut w = ctx.w();
                w.array(3);
                w.bulk(key);
                w.bulk(&m);
                w.double_text(cachet_store::format_score(score).as_bytes());
                return Ok(true);
            }
        }
        Ok(false)
    });
}

pub fn bzpopmin(ctx: &mut Ctx, args: Args) {
    bzpop(ctx, args, false)
}
pub fn bzpopmax(ctx: &mut Ctx, args: Args) {
    bzpop(ctx, args, true)
}
