//! String commands: GET, SET, MGET, MSET, INCR family.
//!
//! Replies are encoded while the key's stripe is locked, straight from the stored bytes: a
//! GET copies the value once, into the reply buffer, and allocates nothing.

use super::{int_arg, Ctx};
use cachet_resp::{Args, ReplyWriter};
use cachet_store::Value;

pub(crate) fn write_value(w: &mut ReplyWriter, v: &Value) {
    match v {
        Value::Int(i) => w.bulk_integer(*i),
        Value::Raw(b) => w.bulk(b),
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
        Some(e) => write_value(&mut ctx.w(), &e.value),
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
    let mut guards = ks.lock_stripes(&hashes);
    let (db, now) = (ctx.state.db, ctx.now_ms);
    let mut w = ReplyWriter::new(ctx.out, ctx.state.proto);
    w.array(keys.len());
    for (k, &h) in keys.iter().zip(&hashes) {
        let i = ks.stripe_index(h);
        let g = guards.iter_mut().find(|(idx, _)| *idx == i).map(|(_, g)| g).expect("locked above");
        match g.get(db, h, k, now) {
            Some(e) => write_value(&mut w, &e.value),
            None => w.null(),
        }
    }
}

pub fn mset(ctx: &mut Ctx, args: Args) {
    if args.len().is_multiple_of(2) {
        return ctx.wrong_arity("mset");
    }
    let node = ctx.node;
    let ks = &node.keyspace;
    let pairs: Vec<(&[u8], &[u8])> =
        (1..args.len()).step_by(2).map(|i| (args.get(i), args.get(i + 1))).collect();
    let hashes: Vec<u64> = pairs.iter().map(|(k, _)| ks.hash(k)).collect();
    let mut guards = ks.lock_stripes(&hashes);
    let (db, now) = (ctx.state.db, ctx.now_ms);
    for ((k, v), &h) in pairs.iter().zip(&hashes) {
        let i = ks.stripe_index(h);
        let g = guards.iter_mut().find(|(idx, _)| *idx == i).map(|(_, g)| g).expect("locked above");
        g.set(db, h, k, Value::string(v), 0, now);
    }
    drop(guards);
    ctx.w().ok();
}

fn incr_by(ctx: &mut Ctx, key: &[u8], by: i64) {
    let node = ctx.node;
    let ks = &node.keyspace;
    let h = ks.hash(key);
    let (db, now) = (ctx.state.db, ctx.now_ms);
    let mut stripe = ks.stripe(h);
    let found = stripe.get(db, h, key, now).map(|e| match &e.value {
        Value::Int(i) => Some(*i),
        Value::Raw(b) => int_arg(b),
    });
    let current = match found {
        None => 0,
        Some(Some(v)) => v,
        Some(None) => {
            drop(stripe);
            return ctx.not_an_integer();
        }
    };
    let Some(next) = current.checked_add(by) else {
        drop(stripe);
        return ctx.error("ERR increment or decrement would overflow");
    };
    // In place, so the key keeps its time to live, as in Redis.
    match stripe.get(db, h, key, now) {
        Some(e) => e.value = Value::Int(next),
        None => {
            stripe.set(db, h, key, Value::Int(next), 0, now);
        }
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
