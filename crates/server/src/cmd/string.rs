//! String commands: GET, SET, MGET, MSET, INCR family.
//!
//! Replies are encoded while the key's stripe is locked, straight from the stored bytes: a
//! GET copies the value once, into the reply buffer, and allocates nothing.

use super::{int_arg, Ctx};
use cachet_resp::{Args, ReplyWriter};
use cachet_store::{Str, Value};

/// Writes a string value as a bulk reply. Callers answer WRONGTYPE for other types first.
pub(crate) fn write_value(w: &mut ReplyWriter, v: &Value) {
    match v {
        Value::Int(i) => w.bulk_integer(*i),
        Value::Raw(b) => w.bulk(b),
        _ => w.null(),
    }
}

/// What a string command found under its key.
pub(crate) enum Found<T> {
    Missing,
    WrongType,
    Str(T),
}

/// Applies `f` to the key's value if it is a string.
pub(crate) fn string_of<T>(
    e: Option<&mut cachet_store::Entry>,
    f: impl FnOnce(&mut cachet_store::Entry) -> T,
) -> Found<T> {
    match e {
        None => Found::Missing,
        Some(e) if !e.value.is_string() => Found::WrongType,
        Some(e) => Found::Str(f(e)),
    }
}

pub fn get(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let node = ctx.node;
    let ks = &node.keyspace;
    let h = ks.hash(key);
    let (db, now) = (ctx.state.db, ctx.now_ms);
    let mut stripe = ks.stripe(h);
    match stripe.get(db, h, key, now) {
        Some(e) if e.value.is_string() => write_value(&mut ctx.w(), &e.value),
        Some(_) => ctx.wrongtype(),
        None => ctx.w().null(),
    }
}

/// The condition and expiry options of SET.
#[derive(Default)]
struct SetOptions {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    /// Absolute expiry in Unix ms, when given.
    expire_at: Option<u64>,
}

/// Converts a relative or absolute expiry argument to absolute Unix ms, as Redis's
/// `getExpireMillisecondsOrReply`: must be an integer, positive, and not overflow.
fn expire_ms(ctx: &mut Ctx, arg: &[u8], unit_ms: i64, absolute: bool, cmd: &str) -> Option<u64> {
    let Some(v) = int_arg(arg) else {
        ctx.not_an_integer();
        return None;
    };
    let invalid = |ctx: &mut Ctx| ctx.error(&format!("ERR invalid expire time in '{cmd}' command"));
    if v <= 0 {
        invalid(ctx);
        return None;
    }
    let Some(ms) = v.checked_mul(unit_ms) else {
        invalid(ctx);
        return None;
    };
    let at = if absolute { Some(ms) } else { ms.checked_add(ctx.now_ms as i64) };
    match at {
        Some(at) => Some(at as u64),
        None => {
            invalid(ctx);
            None
        }
    }
}

fn parse_set_options(ctx: &mut Ctx, args: &Args) -> Option<SetOptions> {
    let mut o = SetOptions::default();
    let mut i = 3;
    let mut have_expire = false;
    while i < args.len() {
        let a = args.get(i);
        let next = (i + 1 < args.len()).then(|| args.get(i + 1));
        let eq = |s: &str| a.eq_ignore_ascii_case(s.as_bytes());
        if eq("nx") && !o.xx {
            o.nx = true;
        } else if eq("xx") && !o.nx {
            o.xx = true;
        } else if eq("get") {
            o.get = true;
        } else if eq("keepttl") && !have_expire {
            o.keepttl = true;
            have_expire = true;
        } else if (eq("ex") || eq("px") || eq("exat") || eq("pxat")) && !have_expire && next.is_some() {
            let (unit, abs) = match a.to_ascii_lowercase().as_slice() {
                b"ex" => (1000, false),
                b"px" => (1, false),
                b"exat" => (1000, true),
                _ => (1, true),
            };
            o.expire_at = Some(expire_ms(ctx, next.unwrap_or_default(), unit, abs, "set")?);
            have_expire = true;
            i += 1;
        } else {
            ctx.syntax_error();
            return None;
        }
        i += 1;
    }
    Some(o)
}

pub fn set(ctx: &mut Ctx, args: Args) {
    let Some(o) = parse_set_options(ctx, &args) else { return };
    let (key, value) = (args.get(1), args.get(2));
    let node = ctx.node;
    let ks = &node.keyspace;
    let h = ks.hash(key);
    let (db, now) = (ctx.state.db, ctx.now_ms);
    let mut stripe = ks.stripe(h);
    let existing = stripe.get(db, h, key, now);
    if o.get && existing.as_ref().is_some_and(|e| !e.value.is_string()) {
        drop(stripe);
        return ctx.wrongtype();
    }
    let exists = existing.is_some();
    let old_ttl = existing.as_ref().map(|e| e.expire_at_ms).unwrap_or(0);
    if o.get {
        // The old value is the reply whether or not the condition lets the write happen.
        match &existing {
            Some(e) => write_value(&mut ReplyWriter::new(ctx.out, ctx.state.proto), &e.value),
            None => ReplyWriter::new(ctx.out, ctx.state.proto).null(),
        }
    }
    if (o.nx && exists) || (o.xx && !exists) {
        if !o.get {
            ctx.w().null();
        }
        return;
    }
    let expire = match (o.expire_at, o.keepttl) {
        (Some(at), _) => at,
        (None, true) => old_ttl,
        (None, false) => 0,
    };
    if expire != 0 && expire <= now {
        // An absolute time in the past: Redis deletes the key rather than store it expired.
        stripe.remove(db, h, key, now);
    } else {
        stripe.set(db, h, key, Value::string(value), expire, now);
    }
    drop(stripe);
    if !o.get {
        ctx.w().ok();
    }
}

pub fn mget(ctx: &mut Ctx, args: Args) {
    let node = ctx.node;
    let ks = &node.keyspace;
    let keys: Vec<&[u8]> = args.iter().skip(1).collect();
    let hashes: Vec<u64> = keys.iter().map(|k| ks.hash(k)).collect();
    let mut locked = ks.lock_keys(&hashes);
    let (db, now) = (ctx.state.db, ctx.now_ms);
    let mut w = ReplyWriter::new(ctx.out, ctx.state.proto);
    w.array(keys.len());
    for (k, &h) in keys.iter().zip(&hashes) {
        match locked.stripe(h).get(db, h, k, now) {
            Some(e) if e.value.is_string() => write_value(&mut w, &e.value),
            // MGET answers nil for keys of other types, never an error.
            _ => w.null(),
        }
    }
}

/// MSET/MSETNX's key/value pairs, or None after the arity error.
fn kv_pairs<'a>(ctx: &mut Ctx, args: &Args<'a>, name: &str) -> Option<Vec<(&'a [u8], &'a [u8])>> {
    if args.len().is_multiple_of(2) {
        ctx.wrong_arity(name);
        return None;
    }
    Some((1..args.len()).step_by(2).map(|i| (args.get(i), args.get(i + 1))).collect())
}

pub fn mset(ctx: &mut Ctx, args: Args) {
    let Some(pairs) = kv_pairs(ctx, &args, "mset") else { return };
    let node = ctx.node;
    let ks = &node.keyspace;
    let hashes: Vec<u64> = pairs.iter().map(|(k, _)| ks.hash(k)).collect();
    let mut locked = ks.lock_keys(&hashes);
    let (db, now) = (ctx.state.db, ctx.now_ms);
    for ((k, v), &h) in pairs.iter().zip(&hashes) {
        locked.stripe(h).set(db, h, k, Value::string(v), 0, now);
    }
    drop(locked);
    ctx.w().ok();
}

fn incr_by(ctx: &mut Ctx, key: &[u8], by: i64) {
    let node = ctx.node;
    let ks = &node.keyspace;
    let h = ks.hash(key);
    let (db, now) = (ctx.state.db, ctx.now_ms);
    let mut stripe = ks.stripe(h);
    let found = string_of(stripe.get(db, h, key, now), |e| match &e.value {
        Value::Int(i) => Some(*i),
        Value::Raw(b) => int_arg(b),
        _ => None,
    });
    let current = match found {
        Found::Missing => 0,
        Found::Str(Some(v)) => v,
        Found::Str(None) => {
            drop(stripe);
            return ctx.not_an_integer();
        }
        Found::WrongType => {
            drop(stripe);
            return ctx.wrongtype();
        }
    };
    let Some(next) = current.checked_add(by) else {
        drop(stripe);
        return ctx.error("ERR increment or decrement would overflow");
    };
    // In place, so the key keeps its time to live, as in Redis.
    if stripe.update(db, h, key, now, |e| e.value = Value::Int(next)).is_none() {
        stripe.set(db, h, key, Value::Int(next), 0, now);
    }
    drop(stripe);
    ctx.w().integer(next);
}

fn incr_arg(ctx: &mut Ctx, args: &Args) -> Option<i64> {
    let v = int_arg(args.get(2));
    if v.is_none() {
        ctx.not_an_integer();
    }
    v
}

pub fn incr(ctx: &mut Ctx, args: Args) {
    incr_by(ctx, args.get(1), 1)
}

pub fn decr(ctx: &mut Ctx, args: Args) {
    incr_by(ctx, args.get(1), -1)
}

pub fn incrby(ctx: &mut Ctx, args: Args) {
    if let Some(by) = incr_arg(ctx, &args) {
        incr_by(ctx, args.get(1), by)
    }
}

pub fn decrby(ctx: &mut Ctx, args: Args) {
    let Some(by) = incr_arg(ctx, &args) else { return };
    match by.checked_neg() {
        Some(neg) => incr_by(ctx, args.get(1), neg),
        None => ctx.error("ERR decrement would overflow"),
    }
}

/// Redis refuses to build strings past `proto-max-bulk-len`.
fn too_big(ctx: &mut Ctx, len: usize) -> bool {
    if len as i64 > ctx.live.proto_max_bulk_len {
        ctx.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return true;
    }
    false
}

pub fn append(ctx: &mut Ctx, args: Args) {
    let (key, add) = (args.get(1), args.get(2));
    let current =
        match ctx.with_key(key, |s, h, db, now| string_of(s.get(db, h, key, now), |e| e.value.str_len())) {
            Found::WrongType => return ctx.wrongtype(),
            Found::Missing => 0,
            Found::Str(n) => n,
        };
    if too_big(ctx, current + add.len()) {
        return;
    }
    let len = ctx.with_key(key, |s, h, db, now| {
        let appended = s.update(db, h, key, now, |e| {
            let mut v = e.value.to_vec();
            v.extend_from_slice(add);
            let len = v.len();
            e.value = Value::Raw(Str::from_vec(v));
            len
        });
        appended.unwrap_or_else(|| {
            s.set(db, h, key, Value::Raw(Str::from(add)), 0, now);
            add.len()
        })
    });
    ctx.w().integer(len as i64);
}

pub fn strlen(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    match ctx.with_key(key, |s, h, db, now| string_of(s.get(db, h, key, now), |e| e.value.str_len())) {
        Found::WrongType => ctx.wrongtype(),
        Found::Missing => ctx.w().integer(0),
        Found::Str(n) => ctx.w().integer(n as i64),
    }
}

pub fn getrange(ctx: &mut Ctx, args: Args) {
    let (Some(mut start), Some(mut end)) = (int_arg(args.get(2)), int_arg(args.get(3))) else {
        return ctx.not_an_integer();
    };
    let key = args.get(1);
    let value =
        match ctx.with_key(key, |s, h, db, now| string_of(s.get(db, h, key, now), |e| e.value.to_vec())) {
            Found::WrongType => return ctx.wrongtype(),
            Found::Missing => Vec::new(),
            Found::Str(v) => v,
        };
    let len = value.len() as i64;
    // Redis 7's index rules (getrangeCommand).
    if start < 0 && end < 0 && start > end {
        return ctx.w().bulk(b"");
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0).min(len - 1);
    if start > end || len == 0 {
        return ctx.w().bulk(b"");
    }
    ctx.w().bulk(&value[start as usize..=end as usize]);
}

pub fn setrange(ctx: &mut Ctx, args: Args) {
    let Some(offset) = int_arg(args.get(2)) else { return ctx.not_an_integer() };
    if offset < 0 {
        return ctx.error("ERR offset is out of range");
    }
    let (key, patch) = (args.get(1), args.get(3));
    let current =
        match ctx.with_key(key, |s, h, db, now| string_of(s.get(db, h, key, now), |e| e.value.str_len())) {
            Found::WrongType => return ctx.wrongtype(),
            Found::Missing => None,
            Found::Str(n) => Some(n),
        };
    if patch.is_empty() {
        // Nothing to write: the length as it is (a missing key stays missing).
        return ctx.w().integer(current.unwrap_or(0) as i64);
    }
    if too_big(ctx, offset as usize + patch.len()) {
        return;
    }
    let len = ctx.with_key(key, |s, h, db, now| {
        let (mut v, expire) = match s.get(db, h, key, now) {
            Some(e) => (e.value.to_vec(), e.expire_at_ms),
            None => (Vec::new(), 0),
        };
        let end = offset as usize + patch.len();
        if v.len() < end {
            v.resize(end, 0);
        }
        v[offset as usize..end].copy_from_slice(patch);
        let len = v.len();
        // Moved into whichever branch runs.
        let mut v = Some(v);
        let take = |v: &mut Option<Vec<u8>>| Value::Raw(Str::from_vec(v.take().expect("used once")));
        if s.update(db, h, key, now, |e| e.value = take(&mut v)).is_none() {
            s.set(db, h, key, take(&mut v), expire, now);
        }
        len
    });
    ctx.w().integer(len as i64);
}

pub fn getset(ctx: &mut Ctx, args: Args) {
    let (key, value) = (args.get(1), args.get(2));
    let old = ctx.with_key(key, |s, h, db, now| {
        if s.get(db, h, key, now).is_some_and(|e| !e.value.is_string()) {
            return Found::WrongType;
        }
        match s.set(db, h, key, Value::string(value), 0, now) {
            Some(e) => Found::Str(e),
            None => Found::Missing,
        }
    });
    match old {
        Found::WrongType => ctx.wrongtype(),
        Found::Str(e) => write_value(&mut ctx.w(), &e.value),
        Found::Missing => ctx.w().null(),
    }
}

pub fn getdel(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let got = ctx.with_key(key, |s, h, db, now| {
        if s.get(db, h, key, now).is_some_and(|e| !e.value.is_string()) {
            return Found::WrongType;
        }
        s.remove(db, h, key, now).map_or(Found::Missing, Found::Str)
    });
    match got {
        Found::WrongType => ctx.wrongtype(),
        Found::Str(e) => write_value(&mut ctx.w(), &e.value),
        Found::Missing => ctx.w().null(),
    }
}

pub fn getex(ctx: &mut Ctx, args: Args) {
    // None: leave the expiry; Some(0): PERSIST; Some(t): expire at t.
    let mut change: Option<u64> = None;
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i).to_ascii_lowercase();
        let has_arg = i + 1 < args.len();
        match a.as_slice() {
            b"persist" if change.is_none() => change = Some(0),
            b"ex" | b"px" | b"exat" | b"pxat" if change.is_none() && has_arg => {
                let (unit, abs) = match a.as_slice() {
                    b"ex" => (1000, false),
                    b"px" => (1, false),
                    b"exat" => (1000, true),
                    _ => (1, true),
                };
                let Some(at) = expire_ms(ctx, args.get(i + 1), unit, abs, "getex") else { return };
                change = Some(at);
                i += 1;
            }
            _ => return ctx.syntax_error(),
        }
        i += 1;
    }
    let key = args.get(1);
    let node = ctx.node;
    let ks = &node.keyspace;
    let h = ks.hash(key);
    let (db, now) = (ctx.state.db, ctx.now_ms);
    let mut stripe = ks.stripe(h);
    let Some(e) = stripe.get(db, h, key, now) else {
        drop(stripe);
        return ctx.w().null();
    };
    if !e.value.is_string() {
        drop(stripe);
        return ctx.wrongtype();
    }
    write_value(&mut ReplyWriter::new(ctx.out, ctx.state.proto), &e.value);
    match change {
        Some(at) if at != 0 && at <= now => {
            stripe.remove(db, h, key, now);
        }
        Some(at) => stripe.set_expiry(db, h, key, at),
        None => {}
    }
}

pub fn setnx(ctx: &mut Ctx, args: Args) {
    let (key, value) = (args.get(1), args.get(2));
    let done = ctx.with_key(key, |s, h, db, now| {
        if s.contains(db, h, key, now) {
            false
        } else {
            s.set(db, h, key, Value::string(value), 0, now);
            true
        }
    });
    ctx.w().integer(done as i64);
}

fn setex_generic(ctx: &mut Ctx, args: Args, unit_ms: i64, name: &str) {
    let Some(at) = expire_ms(ctx, args.get(2), unit_ms, false, name) else { return };
    let (key, value) = (args.get(1), args.get(3));
    ctx.with_key(key, |s, h, db, now| s.set(db, h, key, Value::string(value), at, now));
    ctx.w().ok();
}

pub fn setex(ctx: &mut Ctx, args: Args) {
    setex_generic(ctx, args, 1000, "setex")
}

pub fn psetex(ctx: &mut Ctx, args: Args) {
    setex_generic(ctx, args, 1, "psetex")
}

pub fn msetnx(ctx: &mut Ctx, args: Args) {
    let Some(pairs) = kv_pairs(ctx, &args, "msetnx") else { return };
    let node = ctx.node;
    let ks = &node.keyspace;
    let hashes: Vec<u64> = pairs.iter().map(|(k, _)| ks.hash(k)).collect();
    let (db, now) = (ctx.state.db, ctx.now_ms);
    let mut locked = ks.lock_keys(&hashes);
    // All or nothing, with every stripe held: no key may exist.
    let any = pairs.iter().zip(&hashes).any(|((k, _), &h)| locked.stripe(h).contains(db, h, k, now));
    if !any {
        for ((k, v), &h) in pairs.iter().zip(&hashes) {
            locked.stripe(h).set(db, h, k, Value::string(v), 0, now);
        }
    }
    drop(locked);
    ctx.w().integer(!any as i64);
}

/// Parses a float the way Redis's `string2ld` accepts it: no spaces, not NaN.
pub(crate) fn parse_float(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// Formats like Redis's human-readable long double: no exponent, no trailing zeros. (Redis
/// computes in 80-bit long double; cachet in f64 with the shortest round-trip digits, which
/// agree for the decimal values clients use, e.g. 10.5 + 0.1 = 10.6.)
pub(crate) fn format_float(v: f64) -> String {
    let s = format!("{v}");
    if s.contains('e') {
        format!("{v:.17}").trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

pub fn incrbyfloat(ctx: &mut Ctx, args: Args) {
    let Some(by) = parse_float(args.get(2)) else { return ctx.error("ERR value is not a valid float") };
    let key = args.get(1);
    enum R {
        NotFloat,
        Overflow,
        WrongType,
        Ok(String),
    }
    let r = ctx.with_key(key, |s, h, db, now| {
        let current = match s.get(db, h, key, now) {
            None => 0.0,
            Some(e) => match &e.value {
                Value::Int(i) => *i as f64,
                Value::Raw(b) => match parse_float(b) {
                    Some(v) => v,
                    None => return R::NotFloat,
                },
                _ => return R::WrongType,
            },
        };
        let next = current + by;
        if !next.is_finite() {
            return R::Overflow;
        }
        let text = format_float(next);
        if s.update(db, h, key, now, |e| e.value = Value::string(text.as_bytes())).is_none() {
            s.set(db, h, key, Value::string(text.as_bytes()), 0, now);
        }
        R::Ok(text)
    });
    match r {
        R::NotFloat => ctx.error("ERR value is not a valid float"),
        R::WrongType => ctx.wrongtype(),
        R::Overflow => ctx.error("ERR increment would produce NaN or Infinity"),
        R::Ok(text) => {
            // Replicas get the result, not the sum (their float arithmetic may differ).
            ctx.propagate(&[b"SET", key, text.as_bytes(), b"KEEPTTL"]);
            ctx.w().bulk(text.as_bytes())
        }
    }
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]: the longest common subsequence
/// by Redis's dynamic programme, with its ranges walked back from the end as Redis walks them.
pub fn lcs(ctx: &mut Ctx, args: Args) {
    let (db, now) = (ctx.state.db, ctx.now_ms);
    let mut read = |key: &[u8]| -> Result<Vec<u8>, ()> {
        ctx.with_key(key, |s, h, _, _| match s.get(db, h, key, now) {
            None => Ok(Vec::new()),
            Some(e) if e.value.is_string() => Ok(e.value.to_vec()),
            Some(_) => Err(()),
        })
    };
    let (a, b) = match (read(args.get(1)), read(args.get(2))) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return ctx.error("ERR The specified keys must contain string values"),
    };
    let (mut getidx, mut getlen, mut withmatchlen, mut minmatchlen) = (false, false, false, 0u64);
    let mut j = 3;
    while j < args.len() {
        let opt = args.get(j).to_ascii_lowercase();
        match opt.as_slice() {
            b"idx" => getidx = true,
            b"len" => getlen = true,
            b"withmatchlen" => withmatchlen = true,
            b"minmatchlen" if j + 1 < args.len() => {
                let Some(n) = int_arg(args.get(j + 1)) else { return ctx.not_an_integer() };
                minmatchlen = n.max(0) as u64;
                j += 1;
            }
            _ => return ctx.syntax_error(),
        }
        j += 1;
    }
    if getidx && getlen {
        return ctx.error("ERR If you want both the length and indexes, please just use IDX.");
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen + 1).saturating_mul(blen + 1);
    if cells.saturating_mul(4) as u64 > ctx.live.proto_max_bulk_len as u64 {
        return ctx.error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    let w = blen + 1;
    let mut t = vec![0u32; cells];
    for i in 1..=alen {
        for jj in 1..=blen {
            t[i * w + jj] = if a[i - 1] == b[jj - 1] {
                t[(i - 1) * w + jj - 1] + 1
            } else {
                t[(i - 1) * w + jj].max(t[i * w + jj - 1])
            };
        }
    }
    let total = t[alen * w + blen];
    let mut idx = total as usize;
    let mut result = vec![0u8; idx];
    // Ranges: (a_start, a_end, b_start, b_end); a_start == alen means "none open".
    let mut matches: Vec<(usize, usize, usize, usize)> = Vec::new();
    let (mut ast, mut aend, mut bst, mut bend) = (alen, 0, 0, 0);
    let (mut i, mut jj) = (alen, blen);
    while (getidx || !getlen) && i > 0 && jj > 0 {
        let mut emit = false;
        if a[i - 1] == b[jj - 1] {
            result[idx - 1] = a[i - 1];
            if ast == alen {
                (ast, aend, bst, bend) = (i - 1, i - 1, jj - 1, jj - 1);
            } else if ast == i && bst == jj {
                ast -= 1;
                bst -= 1;
            } else {
                emit = true;
            }
            if ast == 0 || bst == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            jj -= 1;
        } else {
            if t[(i - 1) * w + jj] > t[i * w + jj - 1] {
                i -= 1;
            } else {
                jj -= 1;
            }
            if ast != alen {
                emit = true;
            }
        }
        if emit {
            let len = (aend - ast + 1) as u64;
            if minmatchlen == 0 || len >= minmatchlen {
                matches.push((ast, aend, bst, bend));
            }
            ast = alen;
        }
    }
    let mut w = ctx.w();
    if getidx {
        w.map(2);
        w.bulk(b"matches");
        w.array(matches.len());
        for (ast, aend, bst, bend) in matches {
            w.array(2 + withmatchlen as usize);
            w.array(2);
            w.integer(ast as i64);
            w.integer(aend as i64);
            w.array(2);
            w.integer(bst as i64);
            w.integer(bend as i64);
            if withmatchlen {
                w.integer((aend - ast + 1) as i64);
            }
        }
        w.bulk(b"len");
        w.integer(total as i64);
    } else if getlen {
        w.integer(total as i64);
    } else {
        w.bulk(&result);
    }
}
