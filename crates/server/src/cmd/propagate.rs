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
use cachet_resp::Args;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::LazyLock;

/// Whether each command's successful runs go to the stream: writes, and PUBLISH (so that
/// subscribers on replicas hear it, as in Redis).
static PROPAGATES: LazyLock<Box<[bool]>> = LazyLock::new(|| {
    COMMANDS.iter().map(|c| c.flags.contains(&"write") || matches!(c.name, "publish" | "spublish")).collect()
});

pub fn propagates(idx: usize) -> bool {
    PROPAGATES[idx]
}

/// Whether a command may touch keys that its arguments do not name (or names none but acts on
/// the whole keyspace): it runs with every stripe locked.
fn whole_keyspace(idx: usize) -> bool {
    let c = &COMMANDS[idx];
    (c.first_key == 0 && !c.numkeys) || matches!(c.name, "sort" | "sort_ro")
}

/// The stripes a command's keys live in; None when it needs them all.
fn stripes(ctx: &Ctx, idx: usize, args: &Args) -> Option<Vec<usize>> {
    if matches!(COMMANDS[idx].name, "publish" | "spublish") {
        // Touches no key: ordered by the backlog's lock alone.
        return Some(Vec::new());
    }
    if whole_keyspace(idx) {
        return None;
    }
    let ks = &ctx.node.keyspace;
    let keys = crate::acl::key_positions(&COMMANDS[idx], args);
    Some(keys.iter().map(|&(pos, _)| ks.stripe_index(ks.hash(args.get(pos)))).collect())
}

/// Runs a write on a node whose stream is on (outside EXEC).
pub(crate) fn run(ctx: &mut Ctx, idx: usize, args: Args) {
    let node = ctx.node;
    let stripes = stripes(ctx, idx, &args);
    let db = ctx.state.db;
    node.keyspace.exec(stripes.as_deref(), || {
        if let Some(bytes) = capture(ctx, idx, args) {
            node.repl.feed(node, db, &bytes);
        }
    });
}

/// Runs a command inside EXEC: what it propagates is kept for the transaction's MULTI/EXEC
/// block (see `tx::exec`).
pub(crate) fn run_in_exec(ctx: &mut Ctx, idx: usize, args: Args) {
    let db = ctx.state.db;
    if let Some(bytes) = capture(ctx, idx, args) {
        ctx.state.exec_prop.push((db, bytes));
    }
}

/// Runs the command and returns what replicas must run, if anything.
fn capture(ctx: &mut Ctx, idx: usize, args: Args) -> Option<Vec<u8>> {
    ctx.state.prop.clear();
    ctx.state.prop_custom = false;
    let errors = ctx.ws.error_replies.load(Relaxed);
    let mark = ctx.out.len();
    super::run_inner(ctx, idx, args);
    if ctx.state.prop_custom {
        return (!ctx.state.prop.is_empty()).then(|| std::mem::take(&mut ctx.state.prop));
    }
    if ctx.ws.error_replies.load(Relaxed) != errors || ctx.state.blocked.is_some() {
        return None;
    }
    let reply = &ctx.out[mark..];
    let mut out = Vec::with_capacity(64);
    rewrite(idx, &args, ctx.now_ms, reply, &mut out);
    (!out.is_empty()).then_some(out)
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

/// The deterministic form of a command that succeeded with `reply`, appended to `out`.
fn rewrite(idx: usize, args: &Args, now_ms: u64, reply: &[u8], out: &mut Vec<u8>) {
    let name = COMMANDS[idx].name;
    let all: Vec<&[u8]> = args.iter().collect();
    let ms_abs = |unit_ms: i64, v: &[u8], absolute: bool| -> Vec<u8> {
        let n = int(v).unwrap_or(0);
        let at = if absolute {
            n.saturating_mul(unit_ms)
        } else {
            (now_ms as i64).saturating_add(n.saturating_mul(unit_ms))
        };
        at.to_string().into_bytes()
    };
    match name {
        "set" | "getex" => {
            let mut cmd: Vec<Vec<u8>> =
                all[..if name == "set" { 3 } else { 2 }].iter().map(|a| a.to_vec()).collect();
            let mut i = cmd.len();
            while i < all.len() {
                let a = all[i];
                let conv = if eq(a, "ex") {
                    Some((1000, false))
                } else if eq(a, "px") {
                    Some((1, false))
                } else if eq(a, "exat") {
                    Some((1000, true))
                } else {
                    None
                };
                match conv {
                    Some((unit, abs)) if i + 1 < all.len() => {
                        cmd.push(b"PXAT".to_vec());
                        cmd.push(ms_abs(unit, all[i + 1], abs));
                        i += 2;
                    }
                    _ => {
                        cmd.push(a.to_vec());
                        i += 1;
                    }
                }
            }
            let refs: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
            encode(out, &refs);
        }
        "setex" | "psetex" => {
            let unit = if name == "setex" { 1000 } else { 1 };
            let at = ms_abs(unit, all[2], false);
            encode(out, &[b"SET", all[1], all[3], b"PXAT", &at]);
        }
        "expire" | "pexpire" | "expireat" | "pexpireat" => {
            let (unit, abs) = match name {
                "expire" => (1000, false),
                "pexpire" => (1, false),
                "expireat" => (1000, true),
                _ => (1, true),
            };
            let at = ms_abs(unit, all[2], abs);
            let past = int(&at).is_some_and(|t| t <= now_ms as i64);
            if past && reply.starts_with(b":1") {
                // The key was deleted here; a replica must not keep it as a hidden key.
                encode(out, &[b"DEL", all[1]]);
            } else {
                let mut cmd: Vec<&[u8]> = vec![b"PEXPIREAT", all[1], &at];
                cmd.extend_from_slice(&all[3..]);
                encode(out, &cmd);
            }
        }
        "restore" => {
            let absttl = all[4..].iter().any(|a| eq(a, "absttl"));
            let ttl = int(all[2]).unwrap_or(0);
            if ttl > 0 && !absttl {
                let at = ms_abs(1, all[2], false);
                let mut cmd: Vec<&[u8]> = vec![all[0], all[1], &at];
                cmd.extend_from_slice(&all[3..]);
                cmd.push(b"ABSTTL");
                encode(out, &cmd);
            } else {
                encode(out, &all);
            }
        }
        "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => {
            if is_null(reply) {
                return;
            }
            let keys = &all[1..all.len() - 1];
            let n = keys.len().to_string();
            let (cmd, side): (&[u8], &[u8]) = match name {
                "blpop" => (b"LMPOP", b"LEFT"),
                "brpop" => (b"LMPOP", b"RIGHT"),
                "bzpopmin" => (b"ZMPOP", b"MIN"),
                _ => (b"ZMPOP", b"MAX"),
            };
            let mut c: Vec<&[u8]> = vec![cmd, n.as_bytes()];
            c.extend_from_slice(keys);
            c.push(side);
            encode(out, &c);
        }
        "blmpop" | "bzmpop" => {
            if is_null(reply) {
                return;
            }
            let mut c: Vec<&[u8]> = vec![if name == "blmpop" { b"LMPOP" } else { b"ZMPOP" }];
            c.extend_from_slice(&all[2..]);
            encode(out, &c);
        }
        "blmove" => {
            if !is_null(reply) {
                encode(out, &[b"LMOVE", all[1], all[2], all[3], all[4]]);
            }
        }
        "brpoplpush" => {
            if !is_null(reply) {
                encode(out, &[b"RPOPLPUSH", all[1], all[2]]);
            }
        }
        _ => encode(out, &all),
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
