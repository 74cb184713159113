//! Sorted-set commands: the Z* family (ZUNION/ZINTER/ZDIFF, ZMPOP and the blocking forms come
//! later).

use super::collection::{self, Got};
use super::string::parse_float;
use super::{int_arg, Ctx};
use cachet_resp::{Args, Protocol, ReplyWriter};
use cachet_store::{format_score, Value, ZSet};

/// Members with their scores, in reply order.
type Scored = Vec<(Vec<u8>, f64)>;

fn read<T>(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&ZSet) -> T) -> Got<T> {
    collection::read(ctx, key, f)
}

/// Changes the sorted set at `key`; `f` also gets the packed-encoding limits in force.
fn write<T>(
    ctx: &mut Ctx,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut ZSet, (usize, usize)) -> T,
) -> Got<T> {
    let l = limits(ctx);
    collection::write(ctx, key, create, |z| f(z, l))
}

fn limits(ctx: &Ctx) -> (usize, usize) {
    (ctx.live.zset_max_listpack_entries, ctx.live.zset_max_listpack_value)
}

fn double(w: &mut ReplyWriter, v: f64) {
    w.double_text(format_score(v).as_bytes());
}

/// Members (with scores when asked): RESP2 a flat array, RESP3 an array of [member, score].
fn write_scored(w: &mut ReplyWriter, items: &[(Vec<u8>, f64)], withscores: bool) {
    if withscores && w.proto == Protocol::Resp3 {
        w.array(items.len());
        for (m, s) in items {
            w.array(2);
            w.bulk(m);
            double(w, *s);
        }
    } else {
        w.array(items.len() * if withscores { 2 } else { 1 });
        for (m, s) in items {
            w.bulk(m);
            if withscores {
                double(w, *s);
            }
        }
    }
}

/// One end of a score range: `(1` exclusive, `-inf`/`+inf`.
#[derive(Clone, Copy)]
struct ScoreBound {
    v: f64,
    excl: bool,
}

fn score_bound(a: &[u8]) -> Option<ScoreBound> {
    let (excl, rest) = match a.first() {
        Some(b'(') => (true, &a[1..]),
        _ => (false, a),
    };
    parse_float(rest).map(|v| ScoreBound { v, excl })
}

/// One end of a lex range: `[a` inclusive, `(a` exclusive, `-`, `+`.
#[derive(Clone)]
enum LexBound {
    Min,
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

fn lex_bound(a: &[u8]) -> Option<LexBound> {
    match a.first()? {
        b'-' if a.len() == 1 => Some(LexBound::Min),
        b'+' if a.len() == 1 => Some(LexBound::Max),
        b'[' => Some(LexBound::Incl(a[1..].to_vec())),
        b'(' => Some(LexBound::Excl(a[1..].to_vec())),
        _ => None,
    }
}

fn above_min(m: &[u8], b: &LexBound) -> bool {
    match b {
        LexBound::Min => true,
        LexBound::Max => false,
        LexBound::Incl(x) => m >= &x[..],
        LexBound::Excl(x) => m > &x[..],
    }
}

fn below_max(m: &[u8], b: &LexBound) -> bool {
    match b {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Incl(x) => m <= &x[..],
        LexBound::Excl(x) => m < &x[..],
    }
}

/// What a range selects.
#[derive(Clone)]
enum Range {
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound, LexBound),
}

/// The members a range selects, in ascending order or reversed (`rev`), then `limit`
/// (offset, count; a negative count means all).
fn select(z: &ZSet, range: &Range, rev: bool, limit: Option<(i64, i64)>) -> Scored {
    let (offset, count) = limit.unwrap_or((0, -1));
    if offset < 0 {
        return Vec::new();
    }
    let take = if count < 0 { usize::MAX } else { count as usize };
    match range {
        Range::Rank(start, stop) => {
            let len = z.len() as i64;
            let mut a = if *start < 0 { start + len } else { *start };
            let b = if *stop < 0 { stop + len } else { *stop };
            a = a.max(0);
            if a > b || a >= len {
                return Vec::new();
            }
            let b = b.min(len - 1);
            z.iter(rev).skip(a as usize).take((b - a + 1) as usize).map(|(m, s)| (m.to_vec(), s)).collect()
        }
        Range::Score(min, max) => z
            .iter(rev)
            .filter(|(_, s)| {
                (if min.excl { *s > min.v } else { *s >= min.v })
                    && (if max.excl { *s < max.v } else { *s <= max.v })
            })
            .skip(offset as usize)
            .take(take)
            .map(|(m, s)| (m.to_vec(), s))
            .collect(),
        Range::Lex(min, max) => z
            .iter(rev)
            .filter(|(m, _)| above_min(m, min) && below_max(m, max))
            .skip(offset as usize)
            .take(take)
            .map(|(m, s)| (m.to_vec(), s))
            .collect(),
    }
}

fn not_float(ctx: &mut Ctx) {
    ctx.error("ERR value is not a valid float");
}

pub fn zadd(ctx: &mut Ctx, args: Args) {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) = (false, false, false, false, false, false);
    let mut i = 2;
    while i < args.len() {
        match args.get(i).to_ascii_lowercase().as_slice() {
            b"nx" => nx = true,
            b"xx" => xx = true,
            b"gt" => gt = true,
            b"lt" => lt = true,
            b"ch" => ch = true,
            b"incr" => incr = true,
            _ => break,
        }
        i += 1;
    }
    let rest = args.len() - i;
    if rest == 0 || !rest.is_multiple_of(2) {
        return ctx.syntax_error();
    }
    if nx && xx {
        return ctx.error("ERR XX and NX options at the same time are not compatible");
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return ctx.error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if incr && rest > 2 {
        return ctx.error("ERR INCR option supports a single increment-element pair");
    }
    let mut pairs = Vec::with_capacity(rest / 2);
    for j in (i..args.len()).step_by(2) {
        let Some(score) = parse_float(args.get(j)) else { return not_float(ctx) };
        pairs.push((score, args.get(j + 1)));
    }
    // Ok((added, changed, last score or None when skipped)) or Err(NaN).
    let got = write(ctx, args.get(1), true, |z, l| {
        let (mut added, mut changed, mut last) = (0, 0, None);
        for (score, m) in &pairs {
            let cur = z.score(m);
            if (nx && cur.is_some()) || (xx && cur.is_none()) {
                last = None;
                continue;
            }
            let new = match (incr, cur) {
                (true, Some(c)) => c + score,
                _ => *score,
            };
            if new.is_nan() {
                return Err(());
            }
            if let Some(c) = cur {
                if (gt && new <= c) || (lt && new >= c) {
                    last = None;
                    continue;
                }
                if new != c {
                    z.insert(m, new, l);
                    changed += 1;
                }
            } else {
                z.insert(m, new, l);
                added += 1;
            }
            last = Some(new);
        }
        Ok((added, changed, last))
    });
    match got {
        Got::WrongType => ctx.wrongtype(),
        Got::Missing => unreachable!("created"),
        Got::Found(Err(())) => ctx.error("ERR resulting score is not a number (NaN)"),
        Got::Found(Ok((_, _, last))) if incr => match last {
            Some(s) => double(&mut ctx.w(), s),
            None => ctx.w().null(),
        },
        Got::Found(Ok((added, changed, _))) => ctx.w().integer(if ch { added + changed } else { added }),
    }
}

pub fn zincrby(ctx: &mut Ctx, args: Args) {
    let Some(by) = parse_float(args.get(2)) else { return not_float(ctx) };
    let m = args.get(3);
    let got = write(ctx, args.get(1), true, |z, l| {
        let new = z.score(m).unwrap_or(0.0) + by;
        if new.is_nan() {
            return None;
        }
        z.insert(m, new, l);
        Some(new)
    });
    match got {
        Got::WrongType => ctx.wrongtype(),
        Got::Found(Some(s)) => double(&mut ctx.w(), s),
        _ => ctx.error("ERR resulting score is not a number (NaN)"),
    }
}

pub fn zrem(ctx: &mut Ctx, args: Args) {
    let members: Vec<&[u8]> = args.iter().skip(2).collect();
    match write(ctx, args.get(1), false, |z, _| members.iter().filter(|m| z.remove(m).is_some()).count()) {
        Got::WrongType => ctx.wrongtype(),
        Got::Missing => ctx.w().integer(0),
        Got::Found(n) => ctx.w().integer(n as i64),
    }
}

pub fn zcard(ctx: &mut Ctx, args: Args) {
    match read(ctx, args.get(1), |z| z.len()) {
        Got::WrongType => ctx.wrongtype(),
        Got::Missing => ctx.w().integer(0),
        Got::Found(n) => ctx.w().integer(n as i64),
    }
}

pub fn zscore(ctx: &mut Ctx, args: Args) {
    let m = args.get(2);
    match read(ctx, args.get(1), |z| z.score(m)) {
        Got::WrongType => ctx.wrongtype(),
        Got::Found(Some(s)) => double(&mut ctx.w(), s),
        _ => ctx.w().null(),
    }
}

pub fn zmscore(ctx: &mut Ctx, args: Args) {
    let members: Vec<&[u8]> = args.iter().skip(2).collect();
    let scores = match read(ctx, args.get(1), |z| members.iter().map(|m| z.score(m)).collect::<Vec<_>>()) {
        Got::WrongType => return ctx.wrongtype(),
        Got::Missing => vec![None; members.len()],
        Got::Found(v) => v,
    };
    let mut w = ctx.w();
    w.array(scores.len());
    for s in scores {
        match s {
            Some(s) => double(&mut w, s),
            None => w.null(),
        }
    }
}

fn rank_generic(ctx: &mut Ctx, args: Args, rev: bool) {
    let m = args.get(2);
    match read(ctx, args.get(1), |z| z.rank(m, rev)) {
        Got::WrongType => ctx.wrongtype(),
        Got::Found(Some(r)) => ctx.w().integer(r as i64),
        _ => ctx.w().null(),
    }
}

pub fn zrank(ctx: &mut Ctx, args: Args) {
    rank_generic(ctx, args, false)
}
pub fn zrevrank(ctx: &mut Ctx, args: Args) {
    rank_generic(ctx, args, true)
}

fn score_range(ctx: &mut Ctx, min: &[u8], max: &[u8]) -> Option<Range> {
    match (score_bound(min), score_bound(max)) {
        (Some(a), Some(b)) => Some(Range::Score(a, b)),
        _ => {
            ctx.error("ERR min or max is not a float");
            None
        }
    }
}

fn lex_range(ctx: &mut Ctx, min: &[u8], max: &[u8]) -> Option<Range> {
    match (lex_bound(min), lex_bound(max)) {
        (Some(a), Some(b)) => Some(Range::Lex(a, b)),
        _ => {
            ctx.error("ERR min or max not valid string range item");
            None
        }
    }
}

fn count_in(ctx: &mut Ctx, key: &[u8], range: Range) {
    match read(ctx, key, |z| select(z, &range, false, None).len()) {
        Got::WrongType => ctx.wrongtype(),
        Got::Missing => ctx.w().integer(0),
        Got::Found(n) => ctx.w().integer(n as i64),
    }
}

pub fn zcount(ctx: &mut Ctx, args: Args) {
    if let Some(r) = score_range(ctx, args.get(2), args.get(3)) {
        count_in(ctx, args.get(1), r)
    }
}

pub fn zlexcount(ctx: &mut Ctx, args: Args) {
    if let Some(r) = lex_range(ctx, args.get(2), args.get(3)) {
        count_in(ctx, args.get(1), r)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// The shared engine of ZRANGE, its older forms and ZRANGESTORE. `lo`/`hi` are the range
/// arguments as given (for BYSCORE/BYLEX with REV, max comes first, as Redis's syntax has it).
/// Returns None after replying with an error.
fn range_generic(ctx: &mut Ctx, key: &[u8], lo: &[u8], hi: &[u8], o: &RangeOptions) -> Option<Got<Scored>> {
    let (by, rev, limit) = (o.by, o.rev, o.limit);
    let range = match by {
        By::Rank => {
            let (Some(a), Some(b)) = (int_arg(lo), int_arg(hi)) else {
                ctx.not_an_integer();
                return None;
            };
            Range::Rank(a, b)
        }
        By::Score if rev => score_range(ctx, hi, lo)?,
        By::Score => score_range(ctx, lo, hi)?,
        By::Lex if rev => lex_range(ctx, hi, lo)?,
        By::Lex => lex_range(ctx, lo, hi)?,
    };
    Some(read(ctx, key, |z| select(z, &range, rev, limit)))
}

/// ZRANGE's options.
struct RangeOptions {
    by: By,
    rev: bool,
    limit: Option<(i64, i64)>,
    withscores: bool,
}

/// Parses ZRANGE's options from `args[from..]`.
fn zrange_options(ctx: &mut Ctx, args: &Args, from: usize, allow_scores: bool) -> Option<RangeOptions> {
    let (mut by, mut rev, mut limit, mut withscores) = (By::Rank, false, None, false);
    let mut i = from;
    while i < args.len() {
        match args.get(i).to_ascii_lowercase().as_slice() {
            b"byscore" => by = By::Score,
            b"bylex" => by = By::Lex,
            b"rev" => rev = true,
            b"withscores" if allow_scores => withscores = true,
            b"limit" if i + 2 < args.len() => {
                let (Some(o), Some(c)) = (int_arg(args.get(i + 1)), int_arg(args.get(i + 2))) else {
                    ctx.not_an_integer();
                    return None;
                };
                limit = Some((o, c));
                i += 2;
            }
            _ => {
                ctx.syntax_error();
                return None;
            }
        }
        i += 1;
    }
    if limit.is_some() && by == By::Rank {
        ctx.error("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
        return None;
    }
    if withscores && by == By::Lex {
        ctx.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return None;
    }
    Some(RangeOptions { by, rev, limit, withscores })
}

fn reply_range(ctx: &mut Ctx, got: Got<Scored>, withscores: bool) {
    match got {
        Got::WrongType => ctx.wrongtype(),
        Got::Missing => ctx.w().array(0),
        Got::Found(items) => write_scored(&mut ctx.w(), &items, withscores),
    }
}

pub fn zrange(ctx: &mut Ctx, args: Args) {
    let Some(o) = zrange_options(ctx, &args, 4, true) else { return };
    if let Some(got) = range_generic(ctx, args.get(1), args.get(2), args.get(3), &o) {
        reply_range(ctx, got, o.withscores)
    }
}

/// ZRANGEBYSCORE/ZREVRANGEBYSCORE/ZRANGEBYLEX/ZREVRANGEBYLEX/ZREVRANGE: [WITHSCORES] [LIMIT o c].
fn legacy_range(ctx: &mut Ctx, args: Args, by: By, rev: bool) {
    let (mut limit, mut ws) = (None, false);
    let mut i = 4;
    while i < args.len() {
        match args.get(i).to_ascii_lowercase().as_slice() {
            b"withscores" if by != By::Lex => ws = true,
            b"limit" if by != By::Rank && i + 2 < args.len() => {
                let (Some(o), Some(c)) = (int_arg(args.get(i + 1)), int_arg(args.get(i + 2))) else {
                    return ctx.not_an_integer();
                };
                limit = Some((o, c));
                i += 2;
            }
            _ => return ctx.syntax_error(),
        }
        i += 1;
    }
    let o = RangeOptions { by, rev, limit, withscores: ws };
    if let Some(got) = range_generic(ctx, args.get(1), args.get(2), args.get(3), &o) {
        reply_range(ctx, got, o.withscores)
    }
}

pub fn zrangebyscore(ctx: &mut Ctx, args: Args) {
    legacy_range(ctx, args, By::Score, false)
}
pub fn zrevrangebyscore(ctx: &mut Ctx, args: Args) {
    legacy_range(ctx, args, By::Score, true)
}
pub fn zrangebylex(ctx: &mut Ctx, args: Args) {
    legacy_range(ctx, args, By::Lex, false)
}
pub fn zrevrangebylex(ctx: &mut Ctx, args: Args) {
    legacy_range(ctx, args, By::Lex, true)
}
pub fn zrevrange(ctx: &mut Ctx, args: Args) {
    legacy_range(ctx, args, By::Rank, true)
}

pub fn zrangestore(ctx: &mut Ctx, args: Args) {
    let Some(o) = zrange_options(ctx, &args, 5, false) else { return };
    let Some(got) = range_generic(ctx, args.get(2), args.get(3), args.get(4), &o) else {
        return;
    };
    let items = match got {
        Got::WrongType => return ctx.wrongtype(),
        Got::Missing => Vec::new(),
        Got::Found(v) => v,
    };
    let dst = args.get(1);
    let n = items.len();
    let l = limits(ctx);
    ctx.with_key(dst, |s, h, db, now| {
        s.remove(db, h, dst, now);
        if !items.is_empty() {
            let mut z = ZSet::default();
            for (m, sc) in &items {
                z.insert(m, *sc, l);
            }
            s.set(db, h, dst, Value::ZSet(Box::new(z)), 0, now);
        }
    });
    ctx.w().integer(n as i64);
}

fn remrange(ctx: &mut Ctx, key: &[u8], range: Range) {
    let got = write(ctx, key, false, |z, _| {
        let gone = select(z, &range, false, None);
        for (m, _) in &gone {
            z.remove(m);
        }
        gone.len()
    });
    match got {
        Got::WrongType => ctx.wrongtype(),
        Got::Missing => ctx.w().integer(0),
        Got::Found(n) => ctx.w().integer(n as i64),
    }
}

pub fn zremrangebyrank(ctx: &mut Ctx, args: Args) {
    let (Some(a), Some(b)) = (int_arg(args.get(2)), int_arg(args.get(3))) else {
        return ctx.not_an_integer();
    };
    remrange(ctx, args.get(1), Range::Rank(a, b))
}

pub fn zremrangebyscore(ctx: &mut Ctx, args: Args) {
    if let Some(r) = score_range(ctx, args.get(2), args.get(3)) {
        remrange(ctx, args.get(1), r)
    }
}

pub fn zremrangebylex(ctx: &mut Ctx, args: Args) {
    if let Some(r) = lex_range(ctx, args.get(2), args.get(3)) {
        remrange(ctx, args.get(1), r)
    }
}

fn pop_generic(ctx: &mut Ctx, args: Args, max: bool) {
    let Some(count) = super::pop_count(ctx, &args) else { return };
    let n = count.unwrap_or(1);
    let got = write(ctx, args.get(1), false, |z, _| {
        let items: Vec<(Vec<u8>, f64)> = z.iter(max).take(n).map(|(m, s)| (m.to_vec(), s)).collect();
        for (m, _) in &items {
            z.remove(m);
        }
        items
    });
    let items = match got {
        Got::WrongType => return ctx.wrongtype(),
        Got::Missing => Vec::new(),
        Got::Found(v) => v,
    };
    let mut w = ctx.w();
    if count.is_none() {
        // Without a count, one flat [member, score] pair (or an empty array).
        w.array(items.len() * 2);
        for (m, s) in &items {
            w.bulk(m);
            double(&mut w, *s);
        }
    } else {
        write_scored(&mut w, &items, true);
    }
}

/// Pops the lowest (or highest) member (for the blocking forms). Err(()) = WRONGTYPE.
pub(super) fn pop_one(ctx: &mut Ctx, key: &[u8], max: bool) -> Result<Option<(Vec<u8>, f64)>, ()> {
    let got = write(ctx, key, false, |z, _| {
        let first = z.iter(max).next().map(|(m, s)| (m.to_vec(), s));
        if let Some((m, _)) = &first {
            z.remove(m);
        }
        first
    });
    match got {
        Got::WrongType => Err(()),
        Got::Missing => Ok(None),
        Got::Found(v) => Ok(v),
    }
}

pub fn zpopmin(ctx: &mut Ctx, args: Args) {
    pop_generic(ctx, args, false)
}
pub fn zpopmax(ctx: &mut Ctx, args: Args) {
    pop_generic(ctx, args, true)
}

/// ZRANDMEMBER key [count [WITHSCORES]]: as SRANDMEMBER (distinct for a positive count, with
/// repeats for a negative one).
pub fn zrandmember(ctx: &mut Ctx, args: Args) {
    if args.len() > 4 || (args.len() == 4 && !args.get(3).eq_ignore_ascii_case(b"withscores")) {
        return ctx.syntax_error();
    }
    let count = match args.len() {
        2 => None,
        _ => match int_arg(args.get(2)) {
            Some(c) => Some(c),
            None => return ctx.not_an_integer(),
        },
    };
    let ws = args.len() == 4;
    let mut rng = super::rng(ctx);
    let mut rnd = move || rng() as usize;
    let got = read(ctx, args.get(1), |z| {
        let all: Vec<(Vec<u8>, f64)> = z.iter(false).map(|(m, s)| (m.to_vec(), s)).collect();
        let len = all.len();
        match count {
            None => vec![all[rnd() % len].clone()],
            Some(c) if c >= 0 && c as usize >= len => all,
            Some(c) if c >= 0 => {
                let mut r = || rnd() as u64;
                super::distinct(len, c as usize, &mut r).into_iter().map(|i| all[i].clone()).collect()
            }
            Some(c) => (0..c.unsigned_abs() as usize).map(|_| all[rnd() % len].clone()).collect(),
        }
    });
    match (got, count) {
        (Got::WrongType, _) => ctx.wrongtype(),
        (Got::Missing, None) => ctx.w().null(),
        (Got::Missing, Some(_)) => ctx.w().array(0),
        (Got::Found(items), None) => ctx.w().bulk(&items[0].0),
        (Got::Found(items), Some(_)) => write_scored(&mut ctx.w(), &items, ws),
    }
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]: the whole set in one reply, cursor 0,
/// scores as bulk strings (also in RESP3, as Redis).
pub fn zscan(ctx: &mut Ctx, args: Args) {
    let Some((_, o)) = super::scan_args(ctx, &args, 2, false) else { return };
    let pattern = o.pattern;
    let items = match read(ctx, args.get(1), |z| {
        z.iter(false)
            .filter(|(m, _)| pattern.is_none_or(|p| cachet_store::glob_match(p, m, false)))
            .map(|(m, s)| (m.to_vec(), s))
            .collect::<Vec<_>>()
    }) {
        Got::WrongType => return ctx.wrongtype(),
        Got::Missing => Vec::new(),
        Got::Found(v) => v,
    };
    let mut w = ctx.w();
    w.array(2);
    w.bulk(b"0");
    w.array(items.len() * 2);
    for (m, s) in &items {
        w.bulk(m);
        w.bulk(format_score(*s).as_bytes());
    }
}

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES] from `args[at]`.
struct Combine<'a> {
    keys: Vec<&'a [u8]>,
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
}

fn combine_args<'a>(
    ctx: &mut Ctx,
    args: &Args<'a>,
    at: usize,
    op: SetOp,
    store: bool,
    name: &str,
) -> Option<Combine<'a>> {
    let Some(numkeys) = int_arg(args.get(at)) else {
        ctx.not_an_integer();
        return None;
    };
    if numkeys < 1 {
        ctx.error(&format!("ERR at least 1 input key is needed for '{name}' command"));
        return None;
    }
    let numkeys = numkeys as usize;
    if at + 1 + numkeys > args.len() {
        ctx.syntax_error();
        return None;
    }
    let mut c = Combine {
        keys: (at + 1..at + 1 + numkeys).map(|i| args.get(i)).collect(),
        weights: vec![1.0; numkeys],
        aggregate: Aggregate::Sum,
        withscores: false,
    };
    let mut i = at + 1 + numkeys;
    while i < args.len() {
        let opt = args.get(i).to_ascii_lowercase();
        match opt.as_slice() {
            b"weights" if op != SetOp::Diff && i + numkeys < args.len() => {
                for j in 0..numkeys {
                    let Some(w) = parse_float(args.get(i + 1 + j)) else {
                        ctx.error("ERR weight value is not a float");
                        return None;
                    };
                    c.weights[j] = w;
                }
                i += numkeys;
            }
            b"aggregate" if op != SetOp::Diff && i + 1 < args.len() => {
                c.aggregate = match args.get(i + 1).to_ascii_lowercase().as_slice() {
                    b"sum" => Aggregate::Sum,
                    b"min" => Aggregate::Min,
                    b"max" => Aggregate::Max,
                    _ => {
                        ctx.syntax_error();
                        return None;
                    }
                };
                i += 1;
            }
            b"withscores" if !store => c.withscores = true,
            _ => {
                ctx.syntax_error();
                return None;
            }
        }
        i += 1;
    }
    Some(c)
}

/// Snapshots the inputs (sorted sets, or plain sets with score 1; missing = empty) with all
/// their stripes and `dest`'s held, computes the result and stores it at `dest` when given.
/// None = WRONGTYPE.
fn combine(ctx: &mut Ctx, c: &Combine, op: SetOp, dest: Option<&[u8]>) -> Option<ZSet> {
    let node = ctx.node;
    let ks = &node.keyspace;
    let (db, now, l) = (ctx.state.db, ctx.now_ms, limits(ctx));
    let mut hashes: Vec<u64> = c.keys.iter().map(|k| ks.hash(k)).collect();
    if let Some(d) = dest {
        hashes.push(ks.hash(d));
    }
    let mut locked = ks.lock_keys(&hashes);
    let mut inputs: Vec<Vec<(Vec<u8>, f64)>> = Vec::with_capacity(c.keys.len());
    for (k, &h) in c.keys.iter().zip(&hashes) {
        inputs.push(match locked.stripe(h).get(db, h, k, now).map(|e| &e.value) {
            None => Vec::new(),
            Some(Value::ZSet(z)) => z.iter(false).map(|(m, s)| (m.to_vec(), s)).collect(),
            Some(Value::Set(s)) => s.members().into_iter().map(|m| (m, 1.0)).collect(),
            Some(_) => return None,
        });
    }
    let weigh = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let agg = |a: f64, b: f64| {
        let v = match c.aggregate {
            Aggregate::Sum => a + b,
            Aggregate::Min => a.min(b),
            Aggregate::Max => a.max(b),
        };
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut acc: std::collections::HashMap<Vec<u8>, f64> = std::collections::HashMap::new();
    match op {
        SetOp::Union => {
            for (input, &w) in inputs.iter().zip(&c.weights) {
                for (m, s) in input {
                    let v = weigh(*s, w);
                    acc.entry(m.clone()).and_modify(|x| *x = agg(*x, v)).or_insert(v);
                }
            }
        }
        SetOp::Inter => {
            let maps: Vec<std::collections::HashMap<&[u8], f64>> =
                inputs.iter().map(|i| i.iter().map(|(m, s)| (m.as_slice(), *s)).collect()).collect();
            'members: for (m, s) in &inputs[0] {
                let mut v = weigh(*s, c.weights[0]);
                for (j, other) in maps.iter().enumerate().skip(1) {
                    match other.get(m.as_slice()) {
                        Some(&o) => v = agg(v, weigh(o, c.weights[j])),
                        None => continue 'members,
                    }
                }
                acc.insert(m.clone(), v);
            }
        }
        SetOp::Diff => {
            let others: std::collections::HashSet<&[u8]> =
                inputs.iter().skip(1).flat_map(|i| i.iter().map(|(m, _)| m.as_slice())).collect();
            for (m, s) in &inputs[0] {
                if !others.contains(m.as_slice()) {
                    acc.insert(m.clone(), *s);
                }
            }
        }
    }
    let mut out = ZSet::default();
    for (m, s) in acc {
        out.insert(&m, s, l);
    }
    if let Some(d) = dest {
        let h = *hashes.last().expect("dest hash");
        let st = locked.stripe(h);
        st.remove(db, h, d, now);
        if !out.is_empty() {
            st.set(db, h, d, Value::ZSet(Box::new(out.clone())), 0, now);
        }
    }
    Some(out)
}

fn combine_cmd(ctx: &mut Ctx, args: Args, op: SetOp, store: bool, name: &str) {
    let at = if store { 2 } else { 1 };
    let Some(c) = combine_args(ctx, &args, at, op, store, name) else { return };
    let dest = store.then(|| args.get(1));
    match combine(ctx, &c, op, dest) {
        None => ctx.wrongtype(),
        Some(z) if store => ctx.w().integer(z.len() as i64),
        Some(z) => {
            let items: Scored = z.iter(false).map(|(m, s)| (m.to_vec(), s)).collect();
            write_scored(&mut ctx.w(), &items, c.withscores)
        }
    }
}

pub fn zunion(ctx: &mut Ctx, args: Args) {
    combine_cmd(ctx, args, SetOp::Union, false, "zunion")
}
pub fn zinter(ctx: &mut Ctx, args: Args) {
    combine_cmd(ctx, args, SetOp::Inter, false, "zinter")
}
pub fn zdiff(ctx: &mut Ctx, args: Args) {
    combine_cmd(ctx, args, SetOp::Diff, false, "zdiff")
}
pub fn zunionstore(ctx: &mut Ctx, args: Args) {
    combine_cmd(ctx, args, SetOp::Union, true, "zunionstore")
}
pub fn zinterstore(ctx: &mut Ctx, args: Args) {
    combine_cmd(ctx, args, SetOp::Inter, true, "zinterstore")
}
pub fn zdiffstore(ctx: &mut Ctx, args: Args) {
    combine_cmd(ctx, args, SetOp::Diff, true, "zdiffstore")
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]. (Its numkeys errors are ZINTER's, not
/// SINTERCARD's, as in Redis.)
pub fn zintercard(ctx: &mut Ctx, args: Args) {
    let numkeys = match int_arg(args.get(1)) {
        Some(n) if n > 0 => n as usize,
        Some(_) => return ctx.error("ERR at least 1 input key is needed for 'zintercard' command"),
        None => return ctx.not_an_integer(),
    };
    if 2 + numkeys > args.len() {
        return ctx.syntax_error();
    }
    let Some(limit) = super::card_limit(ctx, &args, 2 + numkeys) else { return };
    let c = Combine {
        keys: (2..2 + numkeys).map(|i| args.get(i)).collect(),
        weights: vec![1.0; numkeys],
        aggregate: Aggregate::Sum,
        withscores: false,
    };
    match combine(ctx, &c, SetOp::Inter, None) {
        None => ctx.wrongtype(),
        Some(z) => {
            let n = if limit > 0 { z.len().min(limit) } else { z.len() };
            ctx.w().integer(n as i64)
        }
    }
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]: [key, [[member, score], ...]].
pub fn zmpop(ctx: &mut Ctx, args: Args) {
    let numkeys = match int_arg(args.get(1)) {
        Some(n) if n > 0 => n as usize,
        _ => return ctx.error("ERR numkeys should be greater than 0"),
    };
    if 2 + numkeys >= args.len() {
        return ctx.syntax_error();
    }
    let max = match args.get(2 + numkeys).to_ascii_lowercase().as_slice() {
        b"min" => false,
        b"max" => true,
        _ => return ctx.syntax_error(),
    };
    let mut count = 1usize;
    let mut i = 3 + numkeys;
    while i < args.len() {
        if args.get(i).eq_ignore_ascii_case(b"count") && i + 1 < args.len() {
            match int_arg(args.get(i + 1)) {
                Some(c) if c > 0 => count = c as usize,
                _ => return ctx.error("ERR count should be greater than 0"),
            }
            i += 2;
        } else {
            return ctx.syntax_error();
        }
    }
    for k in 2..2 + numkeys {
        let key = args.get(k);
        let got = write(ctx, key, false, |z, _| {
            let items: Scored = z.iter(max).take(count).map(|(m, s)| (m.to_vec(), s)).collect();
            for (m, _) in &items {
                z.remove(m);
            }
            items
        });
        match got {
            Got::WrongType => return ctx.wrongtype(),
            Got::Missing => continue,
            Got::Found(items) => {
                let mut w = ctx.w();
                w.array(2);
                w.bulk(key);
                w.array(items.len());
                for (m, s) in &items {
                    w.array(2);
                    w.bulk(m);
                    double(&mut w, *s);
                }
                return;
            }
        }
    }
    ctx.w().null_array();
}
