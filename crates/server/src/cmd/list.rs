//! List commands: the L*/R* family (the blocking forms come with cross-worker wake-ups).

use super::collection::{self, Got};
use super::{int_arg, Ctx};
use cachet_resp::Args;
use cachet_store::Value;
use std::collections::VecDeque;

type List = VecDeque<Box<[u8]>>;

fn read<T>(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&List) -> T) -> Got<T> {
    collection::read(ctx, key, f)
}

fn write<T>(ctx: &mut Ctx, key: &[u8], create: bool, f: impl FnOnce(&mut List) -> T) -> Got<T> {
    collection::write(ctx, key, create, f)
}

fn push(ctx: &mut Ctx, args: Args, left: bool, only_existing: bool) {
    let items: Vec<&[u8]> = args.iter().skip(2).collect();
    let got = write(ctx, args.get(1), !only_existing, |l| {
        for it in &items {
            if left {
                l.push_front((*it).into());
            } else {
                l.push_back((*it).into());
            }
        }
        l.len()
    });
    match got {
        Got::WrongType => ctx.wrongtype(),
        Got::Missing => ctx.w().integer(0),
        Got::Found(n) => ctx.w().integer(n as i64),
    }
}

pub fn lpush(ctx: &mut Ctx, args: Args) {
    push(ctx, args, true, false)
}
pub fn rpush(ctx: &mut Ctx, args: Args) {
    push(ctx, args, false, false)
}
pub fn lpushx(ctx: &mut Ctx, args: Args) {
    push(ctx, args, true, true)
}
pub fn rpushx(ctx: &mut Ctx, args: Args) {
    push(ctx, args, false, true)
}

fn pop(ctx: &mut Ctx, args: Args, left: bool) {
    let Some(count) = super::pop_count(ctx, &args) else { return };
    let n = count.unwrap_or(1);
    let got = write(ctx, args.get(1), false, |l| {
        (0..n.min(l.len()))
            .filter_map(|_| if left { l.pop_front() } else { l.pop_back() })
            .collect::<Vec<_>>()
    });
    match (got, count) {
        (Got::WrongType, _) => ctx.wrongtype(),
        (Got::Missing, None) => ctx.w().null(),
        (Got::Missing, Some(_)) => ctx.w().null_array(),
        (Got::Found(items), None) => ctx.w().bulk(&items[0]),
        (Got::Found(items), Some(_)) => {
            let mut w = ctx.w();
            w.array(items.len());
            for it in &items {
                w.bulk(it);
            }
        }
    }
}

pub fn lpop(ctx: &mut Ctx, args: Args) {
    pop(ctx, args, true)
}
pub fn rpop(ctx: &mut Ctx, args: Args) {
    pop(ctx, args, false)
}

/// Pops one element (for the blocking forms). Err(()) = WRONGTYPE.
pub(super) fn pop_one(ctx: &mut Ctx, key: &[u8], left: bool) -> Result<Option<Box<[u8]>>, ()> {
    match write(ctx, key, false, |l| if left { l.pop_front() } else { l.pop_back() }) {
        Got::WrongType => Err(()),
        Got::Missing => Ok(None),
        Got::Found(v) => Ok(v),
    }
}

pub fn llen(ctx: &mut Ctx, args: Args) {
    match read(ctx, args.get(1), |l| l.len()) {
        Got::WrongType => ctx.wrongtype(),
        Got::Missing => ctx.w().integer(0),
        Got::Found(n) => ctx.w().integer(n as i64),
    }
}

/// Redis's range rules (LRANGE, LTRIM): negative indexes count from the end; returns the
/// inclusive range, or None when empty.
fn range(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { start + len } else { start };
    let mut stop = if stop < 0 { stop + len } else { stop };
    start = start.max(0);
    if start > stop || start >= len {
        return None;
    }
    stop = stop.min(len - 1);
    Some((start as usize, stop as usize))
}

pub fn lrange(ctx: &mut Ctx, args: Args) {
    let (Some(start), Some(stop)) = (int_arg(args.get(2)), int_arg(args.get(3))) else {
        return ctx.not_an_integer();
    };
    let got = read(ctx, args.get(1), |l| match range(l.len(), start, stop) {
        None => Vec::new(),
        Some((a, b)) => l.range(a..=b).map(|e| e.to_vec()).collect(),
    });
    let items = match got {
        Got::WrongType => return ctx.wrongtype(),
        Got::Missing => Vec::new(),
        Got::Found(v) => v,
    };
    let mut w = ctx.w();
    w.array(items.len());
    for it in &items {
        w.bulk(it);
    }
}

fn index(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { i + len as i64 } else { i };
    (i >= 0 && (i as usize) < len).then_some(i as usize)
}

pub fn lindex(ctx: &mut Ctx, args: Args) {
    let Some(i) = int_arg(args.get(2)) else { return ctx.not_an_integer() };
    match read(ctx, args.get(1), |l| index(l.len(), i).map(|i| l[i].to_vec())) {
        Got::WrongType => ctx.wrongtype(),
        Got::Found(Some(v)) => ctx.w().bulk(&v),
        _ => ctx.w().null(),
    }
}

pub fn lset(ctx: &mut Ctx, args: Args) {
    let Some(i) = int_arg(args.get(2)) else { return ctx.not_an_integer() };
    let v = args.get(3);
    match write(ctx, args.get(1), false, |l| index(l.len(), i).map(|i| l[i] = v.into()).is_some()) {
        Got::WrongType => ctx.wrongtype(),
        Got::Missing => ctx.error("ERR no such key"),
        Got::Found(false) => ctx.error("ERR index out of range"),
        Got::Found(true) => ctx.w().ok(),
    }
}

pub fn linsert(ctx: &mut Ctx, args: Args) {
    let before = match args.get(2).to_ascii_lowercase().as_slice() {
        b"before" => true,
        b"after" => false,
        _ => return ctx.syntax_error(),
    };
    let (pivot, elem) = (args.get(3), args.get(4));
    let got = write(ctx, args.get(1), false, |l| match l.iter().position(|e| &**e == pivot) {
        None => -1,
        Some(p) => {
            l.insert(if before { p } else { p + 1 }, elem.into());
            l.len() as i64
        }
    });
    match got {
        Got::WrongType => ctx.wrongtype(),
        Got::Missing => ctx.w().integer(0),
        Got::Found(n) => ctx.w().integer(n),
    }
}

pub fn lrem(ctx: &mut Ctx, args: Args) {
    let Some(count) = int_arg(args.get(2)) else { return ctx.not_an_integer() };
    let elem = args.get(3);
    let got = write(ctx, args.get(1), false, |l| {
        let limit = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
        let mut removed = 0;
        if count >= 0 {
            let mut i = 0;
            while i < l.len() && removed < limit {
                if &*l[i] == elem {
                    l.remove(i);
                    removed += 1;
                } else {
                    i += 1;
                }
            }
        } else {
            let mut i = l.len();
            while i > 0 && removed < limit {
                i -= 1;
                if &*l[i] == elem {
                    l.remove(i);
                    removed += 1;
                }
            }
        }
        removed
    });
    match got {
        Got::WrongType => ctx.wrongtype(),
        Got::Missing => ctx.w().integer(0),
        Got::Found(n) => ctx.w().integer(n as i64),
    }
}

pub fn ltrim(ctx: &mut Ctx, args: Args) {
    let (Some(start), Some(stop)) = (int_arg(args.get(2)), int_arg(args.get(3))) else {
        return ctx.not_an_integer();
    };
    let got = write(ctx, args.get(1), false, |l| match range(l.len(), start, stop) {
        None => l.clear(),
        Some((a, b)) => {
            l.truncate(b + 1);
            l.drain(..a);
        }
    });
    match got {
        Got::WrongType => ctx.wrongtype(),
        _ => ctx.w().ok(),
    }
}

pub fn lpos(ctx: &mut Ctx, args: Args) {
    let elem = args.get(2);
    let (mut rank, mut count, mut maxlen): (i64, Option<usize>, usize) = (1, None, 0);
    let mut i = 3;
    while i < args.len() {
        if i + 1 >= args.len() {
            return ctx.syntax_error();
        }
        let Some(v) = int_arg(args.get(i + 1)) else { return ctx.not_an_integer() };
        match args.get(i).to_ascii_lowercase().as_slice() {
            b"rank" => {
                if v == 0 {
                    return ctx.error(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                    );
                }
                if v == i64::MIN {
                    return ctx.error("ERR value is out of range");
                }
                rank = v;
            }
            b"count" => {
                if v < 0 {
                    return ctx.error("ERR COUNT can't be negative");
                }
                count = Some(v as usize);
            }
            b"maxlen" => {
                if v < 0 {
                    return ctx.error("ERR MAXLEN can't be negative");
                }
                maxlen = v as usize;
            }
            _ => return ctx.syntax_error(),
        }
        i += 2;
    }
    let got = read(ctx, args.get(1), |l| {
        let want = match count {
            Some(0) => usize::MAX,
            Some(c) => c,
            None => 1,
        };
        let mut skip = rank.unsigned_abs() as usize - 1;
        let mut found = Vec::new();
        let len = l.len();
        let limit = if maxlen == 0 { len } else { maxlen.min(len) };
        for step in 0..limit {
            let idx = if rank > 0 { step } else { len - 1 - step };
            if &*l[idx] == elem {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                found.push(idx as i64);
                if found.len() >= want {
                    break;
                }
            }
        }
        found
    });
    let found = match got {
        Got::WrongType => return ctx.wrongtype(),
        Got::Missing => Vec::new(),
        Got::Found(f) => f,
    };
    let mut w = ctx.w();
    match count {
        None => match found.first() {
            Some(&p) => w.integer(p),
            None => w.null(),
        },
        Some(_) => {
            w.array(found.len());
            for p in found {
                w.integer(p);
            }
        }
    }
}

pub(super) fn side(a: &[u8]) -> Option<bool> {
    match a.to_ascii_lowercase().as_slice() {
        b"left" => Some(true),
        b"right" => Some(false),
        _ => None,
    }
}

/// Pops one element from `src` (left or right) and pushes it onto `dst`, both stripes held.
/// Err(()) = WRONGTYPE.
pub(super) fn move_one(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> Result<Option<Box<[u8]>>, ()> {
    let node = ctx.node;
    let ks = &node.keyspace;
    let (hs, hd) = (ks.hash(src), ks.hash(dst));
    let (db, now) = (ctx.state.db, ctx.now_ms);
    let mut locked = ks.lock_keys(&[hs, hd]);
    let is_list = |l: &mut cachet_store::Locked, h: u64, k: &[u8]| {
        l.stripe(h).get(db, h, k, now).map(|e| matches!(e.value, Value::List(_)))
    };
    match is_list(&mut locked, hs, src) {
        None => return Ok(None),
        Some(false) => return Err(()),
        Some(true) => {}
    }
    let dst_kind = is_list(&mut locked, hd, dst);
    if dst_kind == Some(false) {
        return Err(());
    }
    let item = locked
        .stripe(hs)
        .update(db, hs, src, now, |e| match &mut e.value {
            Value::List(l) => {
                if from_left {
                    l.pop_front()
                } else {
                    l.pop_back()
                }
            }
            _ => None,
        })
        .flatten();
    let Some(item) = item else { return Ok(None) };
    let st = locked.stripe(hd);
    if !st.contains(db, hd, dst, now) {
        st.set(db, hd, dst, Value::List(Box::default()), 0, now);
    }
    let pushed = item.clone();
    st.update(db, hd, dst, now, |e| {
        if let Value::List(l) = &mut e.value {
            if to_left {
                l.push_front(pushed);
            } else {
                l.push_back(pushed);
            }
        }
    });
    Ok(Some(item))
}

fn reply_moved(ctx: &mut Ctx, r: Result<Option<Box<[u8]>>, ()>) {
    match r {
        Err(()) => ctx.wrongtype(),
        Ok(None) => ctx.w().null(),
        Ok(Some(v)) => ctx.w().bulk(&v),
    }
}

pub fn lmove(ctx: &mut Ctx, args: Args) {
    let (Some(from), Some(to)) = (side(args.get(3)), side(args.get(4))) else { return ctx.syntax_error() };
    let r = move_one(ctx, args.get(1), args.get(2), from, to);
    reply_moved(ctx, r)
}

pub fn rpoplpush(ctx: &mut Ctx, args: Args) {
    let r = move_one(ctx, args.get(1), args.get(2), false, true);
    reply_moved(ctx, r)
}

/// LMPOP/BLMPOP's arguments from `args[at]` on: numkeys key [key ...] LEFT|RIGHT [COUNT n].
/// Returns (keys, from the left, count), or None after replying with Redis's error.
pub(super) fn mpop_args<'a>(
    ctx: &mut Ctx,
    args: &Args<'a>,
    at: usize,
) -> Option<(Vec<&'a [u8]>, bool, usize)> {
    let numkeys = match int_arg(args.get(at)) {
        Some(n) if n > 0 => n as usize,
        _ => {
            ctx.error("ERR numkeys should be greater than 0");
            return None;
        }
    };
    let Some(left) = (at + 1 + numkeys < args.len()).then(|| side(args.get(at + 1 + numkeys))).flatten()
    else {
        ctx.syntax_error();
        return None;
    };
    let mut count = 1usize;
    let mut i = at + 2 + numkeys;
    while i < args.len() {
        if args.get(i).eq_ignore_ascii_case(b"count") && i + 1 < args.len() {
            match int_arg(args.get(i + 1)) {
                Some(c) if c > 0 => count = c as usize,
                _ => {
                    ctx.error("ERR count should be greater than 0");
                    return None;
                }
            }
            i += 2;
        } else {
            ctx.syntax_error();
            return None;
        }
    }
    Some(((at + 1..at + 1 + numkeys).map(|i| args.get(i)).collect(), left, count))
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: pops from the first non-empty list.
pub fn lmpop(ctx: &mut Ctx, args: Args) {
    let Some((keys, left, count)) = mpop_args(ctx, &args, 1) else { return };
    match mpop(ctx, &keys, left, count) {
        Err(()) => ctx.wrongtype(),
        Ok(true) => {}
        Ok(false) => ctx.w().null_array(),
    }
}

/// Pops up to `count` from the first non-empty list of `keys` and replies [key, [elements]];
/// Ok(false) when all are empty (nothing replied), Err(()) for WRONGTYPE.
pub(super) fn mpop(ctx: &mut Ctx, keys: &[&[u8]], left: bool, count: usize) -> Result<bool, ()> {
    for key in keys {
        let got = write(ctx, key, false, |l| {
            (0..count.min(l.len()))
                .filter_map(|_| if left { l.pop_front() } else { l.pop_back() })
                .collect::<Vec<_>>()
        });
        match got {
            Got::WrongType => return Err(()),
            Got::Missing => continue,
            Got::Found(items) => {
                let mut w = ctx.w();
                w.array(2);
                w.bulk(key);
                w.array(items.len());
                for it in &items {
                    w.bulk(it);
                }
                return Ok(true);
            }
        }
    }
    Ok(false)
}
