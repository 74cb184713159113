//! What a write sends to replicas, and running it so that the stream's order is the keyspace's.
//!
//! A command is propagated as itself unless that would not do the same on a replica:
//! relative times become absolute (`SET ... PXAT`, `PEXPIREAT`, `RESTORE ... ABSTTL`), an
//! expiry in the past becomes `DEL`, blocking pops become the non-blocking pop they performed
//! (`LMPOP`, `ZMPOP`, `LMOVE`), and commands whose effect was chosen at random or computed in
//! floating point say themselves what replicas must run ([`Ctx::propagate`]: SPOP as SREM,
//! INCRBYFLOAT as SET). Commands that failed are not propagated.
//!
//! The command runs with its keys' stripes already locked (all stripes when its keys are not
//! known from its arguments), and its stream bytes are appended before they are released.

use super::{Ctx, COMMANDS};
use crate::replication::encode;
use cachet_resp::{Args, Protocol, ReplyWriter};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::LazyLock;

/// Whether each command's successful runs go to the stream: writes, and PUBLISH (so that
/// subscribers on replicas hear it, as in Redis).
static PROPAGATES: LazyLock<Box<[bool]>> = LazyLock::new(|| {
    (0..COMMANDS.len())
        .map(|i| super::WRITE[i] || matches!(COMMANDS[i].name, "publish" | "spublish"))
        .collect()
});

pub fn propagates(idx: usize) -> bool {
    PROPAGATES[idx]
}

/// Runs a write on a node whose stream is on (outside EXEC).
pub(crate) fn run(ctx: &mut Ctx, idx: usize, args: Args) {
    let node = ctx.node;
    let mut stripes = Vec::new();
    let some = super::stripes_touched(&node.keyspace, idx, &args, &mut stripes);
    let db = ctx.state.db;
    node.keyspace.exec(some.then_some(stripes.as_slice()), || {
        if capture(ctx, idx, args) {
            node.repl.feed(node, db, &ctx.state.prop);
        }
    });
}

/// Runs a command inside EXEC: what it propagates is kept for the transaction's MULTI/EXEC
/// block (see `tx::exec`).
pub(crate) fn run_in_exec(ctx: &mut Ctx, idx: usize, args: Args) {
    let db = ctx.state.db;
    if capture(ctx, idx, args) {
        let bytes = ctx.state.prop.clone();
        ctx.state.exec_prop.push((db, bytes));
    }
}

/// Runs the command; returns whether replicas must run something, which is then in
/// `ctx.state.prop` (the connection's buffer, reused from command to command).
fn capture(ctx: &mut Ctx, idx: usize, args: Args) -> bool {
    ctx.state.prop.clear();
    ctx.state.prop_custom = false;
    let errors = ctx.ws.error_replies.load(Relaxed);
    let mark = ctx.out.len();
    super::run_inner(ctx, idx, args);
    if !ctx.state.prop_custom {
        if ctx.ws.error_replies.load(Relaxed) != errors || ctx.state.blocked.is_some() {
            return false;
        }
        rewrite(idx, &args, ctx.now_ms, &ctx.out[mark..], &mut ctx.state.prop);
    }
    !ctx.state.prop.is_empty()
}

fn eq(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

fn int(a: &[u8]) -> Option<i64> {
    std::str::from_utf8(a).ok()?.parse().ok()
}

/// A null reply (nothing was popped): `*-1`, `$-1` or RESP3's `_`.
fn is_null(reply: &[u8]) -> bool {
    reply.starts_with(b"*-1") || reply.starts_with(b"$-1") || reply.starts_with(b"_")
}

/// An expiry option of SET/GETEX and how to turn its value into Unix ms: (unit in ms,
/// already absolute).
fn time_option(a: &[u8]) -> Option<(i64, bool)> {
    if eq(a, "ex") {
        Some((1000, false))
    } else if eq(a, "px") {
        Some((1, false))
    } else if eq(a, "exat") {
        Some((1000, true))
    } else {
        None
    }
}

/// The deterministic form of a command that succeeded with `reply`, appended to `out`.
fn rewrite(idx: usize, args: &Args, now_ms: u64, reply: &[u8], out: &mut Vec<u8>) {
    let name = COMMANDS[idx].name;
    let ms_abs = |unit_ms: i64, v: &[u8], absolute: bool| -> i64 {
        let n = int(v).unwrap_or(0);
        if absolute {
            n.saturating_mul(unit_ms)
        } else {
            (now_ms as i64).saturating_add(n.saturating_mul(unit_ms))
        }
    };
    let mut w = ReplyWriter::new(out, Protocol::Resp2);
    match name {
        "set" | "getex" => {
            // Same number of arguments: `EX n` becomes `PXAT t`.
            let fixed = if name == "set" { 3 } else { 2 };
            w.array(args.len());
            let mut pending = None;
            for (i, a) in args.iter().enumerate() {
                if let Some((unit, abs)) = pending.take() {
                    w.bulk_integer(ms_abs(unit, a, abs));
                } else if let Some(conv) = time_option(a).filter(|_| i >= fixed && i + 1 < args.len()) {
                    w.bulk(b"PXAT");
                    pending = Some(conv);
                } else {
                    w.bulk(a);
                }
            }
        }
        "setex" | "psetex" => {
            let unit = if name == "setex" { 1000 } else { 1 };
            w.array(5);
            w.bulk(b"SET");
            w.bulk(args.get(1));
            w.bulk(args.get(3));
            w.bulk(b"PXAT");
            w.bulk_integer(ms_abs(unit, args.get(2), false));
        }
        "expire" | "pexpire" | "expireat" | "pexpireat" => {
            let (unit, abs) = match name {
                "expire" => (1000, false),
                "pexpire" => (1, false),
                "expireat" => (1000, true),
                _ => (1, true),
            };
            let at = ms_abs(unit, args.get(2), abs);
            if at <= now_ms as i64 && reply.starts_with(b":1") {
                // The key was deleted here; a replica must not keep it as a hidden key.
                w.array(2);
                w.bulk(b"DEL");
                w.bulk(args.get(1));
            } else {
                w.array(args.len());
                w.bulk(b"PEXPIREAT");
                w.bulk(args.get(1));
                w.bulk_integer(at);
                args.iter().skip(3).for_each(|a| w.bulk(a));
            }
        }
        "restore" => {
            let absttl = args.iter().skip(4).any(|a| eq(a, "absttl"));
            let ttl = int(args.get(2)).unwrap_or(0);
            let relative = ttl > 0 && !absttl;
            w.array(args.len() + relative as usize);
            for (i, a) in args.iter().enumerate() {
                if i == 2 && relative {
                    w.bulk_integer(ms_abs(1, a, false));
                } else {
                    w.bulk(a);
                }
            }
            if relative {
                w.bulk(b"ABSTTL");
            }
        }
        "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => {
            if is_null(reply) {
                return;
            }
            let all: Vec<&[u8]> = args.iter().collect();
            let keys = &all[1..all.len() - 1];
            let (cmd, side): (&[u8], &[u8]) = match name {
                "blpop" => (b"LMPOP", b"LEFT"),
                "brpop" => (b"LMPOP", b"RIGHT"),
                "bzpopmin" => (b"ZMPOP", b"MIN"),
                _ => (b"ZMPOP", b"MAX"),
            };
            w.array(keys.len() + 3);
            w.bulk(cmd);
            w.bulk_integer(keys.len() as i64);
            keys.iter().for_each(|k| w.bulk(k));
            w.bulk(side);
        }
        "blmpop" | "bzmpop" => {
            if is_null(reply) {
                return;
            }
            w.array(args.len() - 1);
            w.bulk(if name == "blmpop" { b"LMPOP" } else { b"ZMPOP" });
            args.iter().skip(2).for_each(|a| w.bulk(a));
        }
        "blmove" => {
            if !is_null(reply) {
                w.array(5);
                w.bulk(b"LMOVE");
                args.iter().skip(1).take(4).for_each(|a| w.bulk(a));
            }
        }
        "brpoplpush" => {
            if !is_null(reply) {
                w.array(3);
                w.bulk(b"RPOPLPUSH");
                w.bulk(args.get(1));
                w.bulk(args.get(2));
            }
        }
        _ => {
            // The command as it came.
            w.array(args.len());
            args.iter().for_each(|a| w.bulk(a));
        }
    }
}

impl Ctx<'_> {
    /// Says what replicas must run for this command instead of the command itself (a command
    /// whose effect a replica could not reproduce); called any number of times, or with
    /// nothing at all to propagate nothing.
    pub fn propagate(&mut self, args: &[&[u8]]) {
        if self.node.repl.active() {
            encode(&mut self.state.prop, args);
            self.state.prop_custom = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(parts: &[&str], now: u64, reply: &[u8]) -> String {
        let mut buf = Vec::new();
        let mut spans = Vec::new();
        for p in parts {
            spans.push(buf.len()..buf.len() + p.len());
            buf.extend_from_slice(p.as_bytes());
        }
        let args = Args::from_parts(&buf, &spans);
        let idx = super::super::lookup(parts[0].as_bytes()).unwrap();
        let mut out = Vec::new();
        rewrite(idx, &args, now, reply, &mut out);
        String::from_utf8(out).unwrap().replace("\r\n", " ")
    }

    #[test]
    fn relative_times_become_absolute() {
        assert_eq!(
            rw(&["set", "k", "v", "EX", "10", "NX"], 1000, b"+OK"),
            "*6 $3 set $1 k $1 v $4 PXAT $5 11000 $2 NX "
        );
        assert_eq!(rw(&["setex", "k", "2", "v"], 1000, b"+OK"), "*5 $3 SET $1 k $1 v $4 PXAT $4 3000 ");
        assert_eq!(rw(&["expire", "k", "5", "NX"], 1000, b":1"), "*4 $9 PEXPIREAT $1 k $4 6000 $2 NX ");
        assert_eq!(rw(&["getex", "k", "px", "7"], 1000, b"$1"), "*4 $5 getex $1 k $4 PXAT $4 1007 ");
        assert_eq!(
            rw(&["restore", "k", "50", "payload", "REPLACE"], 1000, b"+OK"),
            "*6 $7 restore $1 k $4 1050 $7 payload $7 REPLACE $6 ABSTTL "
        );
    }

    #[test]
    fn an_expiry_in_the_past_that_deleted_the_key_is_a_del() {
        assert_eq!(rw(&["expire", "k", "-1"], 1000, b":1"), "*2 $3 DEL $1 k ");
        assert_eq!(rw(&["pexpireat", "k", "5"], 1000, b":0"), "*3 $9 PEXPIREAT $1 k $1 5 ");
    }

    #[test]
    fn blocking_pops_become_the_pop_they_did() {
        assert_eq!(rw(&["blpop", "a", "b", "0"], 1, b"*2"), "*5 $5 LMPOP $1 2 $1 a $1 b $4 LEFT ");
        assert_eq!(rw(&["bzpopmax", "z", "1"], 1, b"*3"), "*4 $5 ZMPOP $1 1 $1 z $3 MAX ");
        assert_eq!(rw(&["brpoplpush", "a", "b", "0"], 1, b"$1"), "*3 $9 RPOPLPUSH $1 a $1 b ");
        assert_eq!(rw(&["blpop", "a", "0"], 1, b"*-1"), "", "a timeout changed nothing");
    }
}
