//! Set commands: the S* family.

use super::collection::{self, Got};
use super::{distinct, int_arg, rng, Ctx};
use cachet_resp::{Args, ReplyWriter};
use cachet_store::{Set, Value};

fn read<T>(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&Set) -> T) -> Got<T> {
    collection::read(ctx, key, f)
}

/// Changes the set at `key`; `f` also gets `set-max-intset-entries`.
fn write<T>(ctx: &mut Ctx, key: &[u8], create: bool, f: impl FnOnce(&mut Set, usize) -> T) -> Got<T> {
    let max = max_ints(ctx);
    collection::write(ctx, key, create, |s| f(s, max))
}

fn max_ints(ctx: &Ctx) -> usize {
    ctx.live.set_max_intset_entries
}

fn write_members(w: &mut ReplyWriter, members: &[Vec<u8>], as_set: bool) {
    if as_set {
        w.set(members.len());
    } else {
        w.array(members.len());
    }
    for m in members {
        w.bulk(m);
    }
}

pub fn sadd(ctx: &mut Ctx, args: Args) {
    let members: Vec<&[u8]> = args.iter().skip(2).collect();
    match write(ctx, args.get(1), true, |s, max| members.iter().filter(|m| s.add(m, max)).count()) {
        Got::WrongType => ctx.wrongtype(),
        Got::Missing => unreachable!("created"),
        Got::Found(n) => ctx.w().integer(n as i64),
    }
}

pub fn srem(ctx: &mut Ctx, args: Args) {
    let members: Vec<&[u8]> = args.iter().skip(2).collect();
    match write(ctx, args.get(1), false, |s, _| members.iter().filter(|m| s.remove(m)).count()) {
        Got::WrongType => ctx.wrongtype(),
        Got::Missing => ctx.w().integer(0),
        Got::Found(n) => ctx.w().integer(n as i64),
    }
}

pub fn smembers(ctx: &mut Ctx, args: Args) {
    match read(ctx, args.get(1), |s| s.members()) {
        Got::WrongType => ctx.wrongtype(),
        Got::Missing => ctx.w().set(0),
        Got::Found(m) => write_members(&mut ctx.w(), &m, true),
    }
}

pub fn sismember(ctx: &mut Ctx, args: Args) {
    let m = args.get(2);
    match read(ctx, args.get(1), |s| s.contains(m)) {
        Got::WrongType => ctx.wrongtype(),
        Got::Missing => ctx.w().integer(0),
        Got::Found(b) => ctx.w().integer(b as i64),
    }
}

pub fn smismember(ctx: &mut Ctx, args: Args) {
    let members: Vec<&[u8]> = args.iter().skip(2).collect();
    let found = match read(ctx, args.get(1), |s| members.iter().map(|m| s.contains(m)).collect::<Vec<_>>()) {
        Got::WrongType => return ctx.wrongtype(),
        Got::Missing => vec![false; members.len()],
        Got::Found(v) => v,
    };
    let mut w = ctx.w();
    w.array(found.len());
    for b in found {
        w.integer(b as i64);
    }
}

pub fn scard(ctx: &mut Ctx, args: Args) {
    match read(ctx, args.get(1), |s| s.len()) {
        Got::WrongType => ctx.wrongtype(),
        Got::Missing => ctx.w().integer(0),
        Got::Found(n) => ctx.w().integer(n as i64),
    }
}

pub fn srandmember(ctx: &mut Ctx, args: Args) {
    if args.len() > 3 {
        return ctx.syntax_error();
    }
    let count = match args.len() {
        3 => match int_arg(args.get(2)) {
            Some(c) => Some(c),
            None => return ctx.not_an_integer(),
        },
        _ => None,
    };
    let mut rnd = rng(ctx);
    let got = read(ctx, args.get(1), |s| {
        let len = s.len();
        match count {
            None => vec![s.get_index(rnd() as usize % len).expect("in range")],
            Some(c) if c >= 0 && c as usize >= len => s.members(),
            Some(c) if c >= 0 => {
                distinct(len, c as usize, &mut rnd).into_iter().filter_map(|i| s.get_index(i)).collect()
            }
            Some(c) => {
                (0..c.unsigned_abs() as usize).filter_map(|_| s.get_index(rnd() as usize % len)).collect()
            }
        }
    });
    match (got, count) {
        (Got::WrongType, _) => ctx.wrongtype(),
        (Got::Missing, None) => ctx.w().null(),
        (Got::Missing, Some(_)) => ctx.w().array(0),
        (Got::Found(m), None) => ctx.w().bulk(&m[0]),
        (Got::Found(m), Some(_)) => write_members(&mut ctx.w(), &m, false),
    }
}

pub fn spop(ctx: &mut Ctx, args: Args) {
    let Some(count) = super::pop_count(ctx, &args) else { return };
    let mut rnd = rng(ctx);
    let got = write(ctx, args.get(1), false, |s, _| {
        let len = s.len();
        let picked: Vec<Vec<u8>> = match count {
            None => vec![s.get_index(rnd() as usize % len).expect("in range")],
            Some(c) if c >= len => s.members(),
            Some(c) => distinct(len, c, &mut rnd).into_iter().filter_map(|i| s.get_index(i)).collect(),
        };
        for m in &picked {
            s.remove(m);
        }
        picked
    });
    // Replicas remove the members this node picked at random.
    if let Got::Found(m) = &got {
        let mut cmd: Vec<&[u8]> = vec![b"SREM", args.get(1)];
        cmd.extend(m.iter().map(Vec::as_slice));
        ctx.propagate(&cmd);
    }
    // With a count, RESP3 gets a set (SRANDMEMBER's count replies stay arrays), as in Redis.
    match (got, count) {
        (Got::WrongType, _) => ctx.wrongtype(),
        (Got::Missing, None) => ctx.w().null(),
        (Got::Missing, Some(_)) => ctx.w().set(0),
        (Got::Found(m), None) => ctx.w().bulk(&m[0]),
        (Got::Found(m), Some(_)) => write_members(&mut ctx.w(), &m, true),
    }
}

pub fn smove(ctx: &mut Ctx, args: Args) {
    let (src, dst, m) = (args.get(1), args.get(2), args.get(3));
    let node = ctx.node;
    let ks = &node.keyspace;
    let (hs, hd) = (ks.hash(src), ks.hash(dst));
    let (db, now, max) = (ctx.state.db, ctx.now_ms, max_ints(ctx));
    let mut locked = ks.lock_keys(&[hs, hd]);
    let kind = |l: &mut cachet_store::Locked, h: u64, k: &[u8]| {
        l.stripe(h).get(db, h, k, now).map(|e| matches!(e.value, Value::Set(_)))
    };
    let (src_kind, dst_kind) = (kind(&mut locked, hs, src), kind(&mut locked, hd, dst));
    let reply = match (src_kind, dst_kind) {
        (Some(false), _) | (_, Some(false)) => None,
        (None, _) => Some(0),
        _ if src == dst => {
            let has = locked
                .stripe(hs)
                .get(db, hs, src, now)
                .is_some_and(|e| matches!(&e.value, Value::Set(s) if s.contains(m)));
            Some(has as i64)
        }
        _ => {
            let removed = locked
                .stripe(hs)
                .update(db, hs, src, now, |e| match &mut e.value {
                    Value::Set(s) => s.remove(m),
                    _ => false,
                })
                .unwrap_or(false);
            if removed {
                let st = locked.stripe(hd);
                if dst_kind.is_none() {
                    st.set(db, hd, dst, Value::Set(Box::default()), 0, now);
                }
                st.update(db, hd, dst, now, |e| {
                    if let Value::Set(s) = &mut e.value {
                        s.add(m, max);
                    }
                });
            }
            Some(removed as i64)
        }
    };
    drop(locked);
    match reply {
        None => ctx.wrongtype(),
        Some(n) => ctx.w().integer(n),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// Snapshots the sets at `keys` (missing = empty) with all their stripes and `dest`'s held,
/// computes `op`, and stores the result at `dest` when given. Returns the result, or None for
/// WRONGTYPE.
fn combine(ctx: &mut Ctx, keys: &[&[u8]], op: Op, dest: Option<&[u8]>) -> Option<Set> {
    let node = ctx.node;
    let ks = &node.keyspace;
    let (db, now, max) = (ctx.state.db, ctx.now_ms, max_ints(ctx));
    let mut hashes: Vec<u64> = keys.iter().map(|k| ks.hash(k)).collect();
    if let Some(d) = dest {
        hashes.push(ks.hash(d));
    }
    let mut locked = ks.lock_keys(&hashes);
    let mut sets: Vec<Option<Set>> = Vec::with_capacity(keys.len());
    for (k, &h) in keys.iter().zip(&hashes) {
        match locked.stripe(h).get(db, h, k, now) {
            None => sets.push(None),
            Some(e) => match &e.value {
                Value::Set(s) => sets.push(Some((**s).clone())),
                _ => return None,
            },
        }
    }
    let mut out = Set::default();
    match op {
        Op::Inter => {
            if sets.iter().all(Option::is_some) {
                let mut all: Vec<&Set> = sets.iter().flatten().collect();
                all.sort_by_key(|s| s.len());
                for m in all[0].members() {
                    if all[1..].iter().all(|s| s.contains(&m)) {
                        out.add(&m, max);
                    }
                }
            }
        }
        Op::Union => {
            for s in sets.iter().flatten() {
                for m in s.members() {
                    out.add(&m, max);
                }
            }
        }
        Op::Diff => {
            if let Some(first) = &sets[0] {
                for m in first.members() {
                    if !sets[1..].iter().flatten().any(|s| s.contains(&m)) {
                        out.add(&m, max);
                    }
                }
            }
        }
    }
    if let Some(d) = dest {
        let h = *hashes.last().expect("dest hash");
        let st = locked.stripe(h);
        st.remove(db, h, d, now);
        if !out.is_empty() {
            st.set(db, h, d, Value::Set(Box::new(out.clone())), 0, now);
        }
    }
    Some(out)
}

fn combine_reply(ctx: &mut Ctx, args: Args, op: Op) {
    let keys: Vec<&[u8]> = args.iter().skip(1).collect();
    match combine(ctx, &keys, op, None) {
        None => ctx.wrongtype(),
        Some(s) => write_members(&mut ctx.w(), &s.members(), true),
    }
}

fn combine_store(ctx: &mut Ctx, args: Args, op: Op) {
    let keys: Vec<&[u8]> = args.iter().skip(2).collect();
    match combine(ctx, &keys, op, Some(args.get(1))) {
        None => ctx.wrongtype(),
        Some(s) => ctx.w().integer(s.len() as i64),
    }
}

pub fn sinter(ctx: &mut Ctx, args: Args) {
    combine_reply(ctx, args, Op::Inter)
}
pub fn sunion(ctx: &mut Ctx, args: Args) {
    combine_reply(ctx, args, Op::Union)
}
pub fn sdiff(ctx: &mut Ctx, args: Args) {
    combine_reply(ctx, args, Op::Diff)
}
pub fn sinterstore(ctx: &mut Ctx, args: Args) {
    combine_store(ctx, args, Op::Inter)
}
pub fn sunionstore(ctx: &mut Ctx, args: Args) {
    combine_store(ctx, args, Op::Union)
}
pub fn sdiffstore(ctx: &mut Ctx, args: Args) {
    combine_store(ctx, args, Op::Diff)
}

pub fn sintercard(ctx: &mut Ctx, args: Args) {
    let numkeys = match int_arg(args.get(1)) {
        Some(n) if n > 0 => n as usize,
        _ => return ctx.error("ERR numkeys should be greater than 0"),
    };
    if numkeys > args.len() - 2 {
        return ctx.error("ERR Number of keys can't be greater than number of args");
    }
    let Some(limit) = super::card_limit(ctx, &args, 2 + numkeys) else { return };
    let keys: Vec<&[u8]> = (2..2 + numkeys).map(|i| args.get(i)).collect();
    match combine(ctx, &keys, Op::Inter, None) {
        None => ctx.wrongtype(),
        Some(s) => {
            let n = if limit > 0 { s.len().min(limit) } else { s.len() };
            ctx.w().integer(n as i64)
        }
    }
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]: the whole set in one reply, cursor 0.
pub fn sscan(ctx: &mut Ctx, args: Args) {
    let Some((_, o)) = super::scan_args(ctx, &args, 2, false) else { return };
    let pattern = o.pattern;
    let members = match read(ctx, args.get(1), |s| s.members()) {
        Got::WrongType => return ctx.wrongtype(),
        Got::Missing => Vec::new(),
        Got::Found(m) => m,
    };
    let members: Vec<Vec<u8>> = members
        .into_iter()
        .filter(|m| pattern.is_none_or(|p| cachet_store::glob_match(p, m, false)))
        .collect();
    let mut w = ctx.w();
    w.array(2);
    w.bulk(b"0");
    write_members(&mut w, &members, false);
}
