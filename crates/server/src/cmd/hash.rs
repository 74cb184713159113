//! Hash commands: the H* family.

use super::collection::{self, Got};
use super::{int_arg, Ctx};
use cachet_resp::{Args, ReplyWriter};
use cachet_store::{Hash, PackLimits};

fn read<T>(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&Hash) -> T) -> Got<T> {
    collection::read(ctx, key, f)
}

/// Changes the hash at `key`; `f` also gets the packed-encoding limits in force.
fn write<T>(ctx: &mut Ctx, key: &[u8], create: bool, f: impl FnOnce(&mut Hash, PackLimits) -> T) -> Got<T> {
    let l =
        PackLimits { entries: ctx.live.hash_max_listpack_entries, value: ctx.live.hash_max_listpack_value };
    collection::write(ctx, key, create, |h| f(h, l))
}

const NOT_INT: &str = "ERR hash value is not an integer";
const NOT_FLOAT: &str = "ERR hash value is not a float";

macro_rules! reply {
    ($ctx:expr, $got:expr, |$v:pat_param| $ok:expr, missing: $missing:expr) => {
        match $got {
            Got::WrongType => $ctx.wrongtype(),
            Got::Missing => $missing,
            Got::Found($v) => $ok,
        }
    };
}

fn pairs_or_arity<'a>(ctx: &mut Ctx, args: &Args<'a>, name: &str) -> Option<Vec<(&'a [u8], &'a [u8])>> {
    if args.len() < 4 || !args.len().is_multiple_of(2) {
        ctx.wrong_arity(name);
        return None;
    }
    Some((2..args.len()).step_by(2).map(|i| (args.get(i), args.get(i + 1))).collect())
}

pub fn hset(ctx: &mut Ctx, args: Args) {
    let Some(pairs) = pairs_or_arity(ctx, &args, "hset") else { return };
    let got = write(ctx, args.get(1), true, |h, l| pairs.iter().filter(|(f, v)| h.set(f, v, l)).count());
    reply!(ctx, got, |n| ctx.w().integer(n as i64), missing: unreachable!("created"))
}

pub fn hmset(ctx: &mut Ctx, args: Args) {
    let Some(pairs) = pairs_or_arity(ctx, &args, "hmset") else { return };
    let got = write(ctx, args.get(1), true, |h, l| {
        pairs.iter().for_each(|(f, v)| {
            h.set(f, v, l);
        })
    });
    reply!(ctx, got, |_| ctx.w().ok(), missing: unreachable!("created"))
}

pub fn hsetnx(ctx: &mut Ctx, args: Args) {
    let (f, v) = (args.get(2), args.get(3));
    let got = write(ctx, args.get(1), true, |h, l| h.get(f).is_none() && h.set(f, v, l));
    reply!(ctx, got, |n| ctx.w().integer(n as i64), missing: unreachable!("created"))
}

pub fn hget(ctx: &mut Ctx, args: Args) {
    let f = args.get(2);
    let got = read(ctx, args.get(1), |h| h.get(f).map(|v| v.to_vec()));
    reply!(ctx, got, |v| match v {
        Some(v) => ctx.w().bulk(&v),
        None => ctx.w().null(),
    }, missing: ctx.w().null())
}

pub fn hmget(ctx: &mut Ctx, args: Args) {
    let fields: Vec<&[u8]> = args.iter().skip(2).collect();
    let got =
        read(ctx, args.get(1), |h| fields.iter().map(|f| h.get(f).map(|v| v.to_vec())).collect::<Vec<_>>());
    let vals = match got {
        Got::WrongType => return ctx.wrongtype(),
        Got::Missing => vec![None; fields.len()],
        Got::Found(v) => v,
    };
    let mut w = ctx.w();
    w.array(vals.len());
    for v in vals {
        match v {
            Some(v) => w.bulk(&v),
            None => w.null(),
        }
    }
}

pub fn hdel(ctx: &mut Ctx, args: Args) {
    let fields: Vec<&[u8]> = args.iter().skip(2).collect();
    let got = write(ctx, args.get(1), false, |h, _| fields.iter().filter(|f| h.remove(f)).count());
    reply!(ctx, got, |n| ctx.w().integer(n as i64), missing: ctx.w().integer(0))
}

pub fn hlen(ctx: &mut Ctx, args: Args) {
    let got = read(ctx, args.get(1), |h| h.len());
    reply!(ctx, got, |n| ctx.w().integer(n as i64), missing: ctx.w().integer(0))
}

pub fn hstrlen(ctx: &mut Ctx, args: Args) {
    let f = args.get(2);
    let got = read(ctx, args.get(1), |h| h.get(f).map_or(0, |v| v.len()));
    reply!(ctx, got, |n| ctx.w().integer(n as i64), missing: ctx.w().integer(0))
}

pub fn hexists(ctx: &mut Ctx, args: Args) {
    let f = args.get(2);
    let got = read(ctx, args.get(1), |h| h.get(f).is_some());
    reply!(ctx, got, |b| ctx.w().integer(b as i64), missing: ctx.w().integer(0))
}

/// HKEYS, HVALS, HGETALL: which parts of each pair to send.
fn hgetall_generic(ctx: &mut Ctx, args: Args, keys: bool, vals: bool) {
    let proto = ctx.state.proto;
    let got = read(ctx, args.get(1), |h| {
        let mut out = Vec::new();
        let mut w = ReplyWriter::new(&mut out, proto);
        if keys && vals {
            w.map(h.len());
        } else {
            w.array(h.len());
        }
        for (f, v) in h.iter() {
            if keys {
                w.bulk(f);
            }
            if vals {
                w.bulk(v);
            }
        }
        out
    });
    match got {
        Got::WrongType => ctx.wrongtype(),
        Got::Missing if keys && vals => ctx.w().map(0),
        Got::Missing => ctx.w().array(0),
        Got::Found(bytes) => ctx.out.extend_from_slice(&bytes),
    }
}

pub fn hkeys(ctx: &mut Ctx, args: Args) {
    hgetall_generic(ctx, args, true, false)
}

pub fn hvals(ctx: &mut Ctx, args: Args) {
    hgetall_generic(ctx, args, false, true)
}

pub fn hgetall(ctx: &mut Ctx, args: Args) {
    hgetall_generic(ctx, args, true, true)
}

pub fn hincrby(ctx: &mut Ctx, args: Args) {
    let Some(by) = int_arg(args.get(3)) else { return ctx.not_an_integer() };
    let f = args.get(2);
    let got = write(ctx, args.get(1), true, |h, l| {
        let current = match h.get(f) {
            None => 0,
            Some(v) => match int_arg(v) {
                Some(n) => n,
                None => return Err(NOT_INT),
            },
        };
        let next = current.checked_add(by).ok_or("ERR increment or decrement would overflow")?;
        h.set(f, next.to_string().as_bytes(), l);
        Ok(next)
    });
    reply!(ctx, got, |r| match r {
        Ok(n) => ctx.w().integer(n),
        Err(e) => ctx.error(e),
    }, missing: unreachable!("created"))
}

pub fn hincrbyfloat(ctx: &mut Ctx, args: Args) {
    let Some(by) = super::string::parse_float(args.get(3)) else {
        return ctx.error("ERR value is not a valid float");
    };
    let f = args.get(2);
    let got = write(ctx, args.get(1), true, |h, l| {
        let current = match h.get(f) {
            None => 0.0,
            Some(v) => super::string::parse_float(v).ok_or(NOT_FLOAT)?,
        };
        let next = current + by;
        if !next.is_finite() {
            return Err("ERR increment would produce NaN or Infinity");
        }
        let text = super::string::format_float(next);
        h.set(f, text.as_bytes(), l);
        Ok(text)
    });
    reply!(ctx, got, |r| match r {
        Ok(t) => {
            // Replicas get the result, not the sum (their float arithmetic may differ).
            ctx.propagate(&[b"HSET", args.get(1), f, t.as_bytes()]);
            ctx.w().bulk(t.as_bytes())
        }
        Err(e) => ctx.error(e),
    }, missing: unreachable!("created"))
}

/// HRANDFIELD key [count [WITHVALUES]]: a positive count gives distinct fields (at most all),
/// a negative one may repeat; RESP3 WITHVALUES replies with [field, value] pairs.
pub fn hrandfield(ctx: &mut Ctx, args: Args) {
    if args.len() > 4 || (args.len() == 4 && !args.get(3).eq_ignore_ascii_case(b"withvalues")) {
        return ctx.syntax_error();
    }
    let count = if args.len() >= 3 {
        match int_arg(args.get(2)) {
            Some(c) => Some(c),
            None => return ctx.not_an_integer(),
        }
    } else {
        None
    };
    let withvalues = args.len() == 4;
    let mut rnd = super::rng(ctx);
    let picks: Got<Vec<(Vec<u8>, Vec<u8>)>> = read(ctx, args.get(1), |h| {
        let len = h.len();
        let one = |i: usize| h.get_index(i).map(|(f, v)| (f.to_vec(), v.to_vec())).expect("in range");
        match count {
            None => vec![one(rnd() as usize % len)],
            Some(c) if c >= 0 && c as usize >= len => (0..len).map(one).collect(),
            Some(c) if c >= 0 => super::distinct(len, c as usize, &mut rnd).into_iter().map(one).collect(),
            Some(c) => (0..c.unsigned_abs() as usize).map(|_| one(rnd() as usize % len)).collect(),
        }
    });
    let picks = match picks {
        Got::WrongType => return ctx.wrongtype(),
        Got::Missing if count.is_none() => return ctx.w().null(),
        Got::Missing => return ctx.w().array(0),
        Got::Found(p) => p,
    };
    let resp3 = ctx.state.proto == cachet_resp::Protocol::Resp3;
    let mut w = ctx.w();
    if count.is_none() {
        return w.bulk(&picks[0].0);
    }
    if withvalues && resp3 {
        w.array(picks.len());
        for (f, v) in &picks {
            w.array(2);
            w.bulk(f);
            w.bulk(v);
        }
    } else {
        w.array(picks.len() * if withvalues { 2 } else { 1 });
        for (f, v) in &picks {
            w.bulk(f);
            if withvalues {
                w.bulk(v);
            }
        }
    }
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]: the whole hash in one reply with cursor 0
/// (COUNT is a hint; Redis does the same for small hashes).
pub fn hscan(ctx: &mut Ctx, args: Args) {
    let Some((_, o)) = super::scan_args(ctx, &args, 2, false) else { return };
    let pattern = o.pattern;
    let got = read(ctx, args.get(1), |h| {
        h.iter()
            .filter(|(f, _)| pattern.is_none_or(|p| cachet_store::glob_match(p, f, false)))
            .map(|(f, v)| (f.to_vec(), v.to_vec()))
            .collect::<Vec<_>>()
    });
    let items = match got {
        Got::WrongType => return ctx.wrongtype(),
        Got::Missing => Vec::new(),
        Got::Found(v) => v,
    };
    let mut w = ctx.w();
    w.array(2);
    w.bulk(b"0");
    w.array(items.len() * 2);
    for (f, v) in &items {
        w.bulk(f);
        w.bulk(v);
    }
}
