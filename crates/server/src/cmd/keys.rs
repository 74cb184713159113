//! Keyspace commands: DEL, EXISTS, EXPIRE family, TTL family, PERSIST, SELECT, DBSIZE, FLUSH*.

use super::{int_arg, Ctx};
use cachet_resp::Args;

/// Runs `f` on each key argument (from index 1) with its stripe locked, one stripe at a time.
fn each_key(
    ctx: &mut Ctx,
    args: &Args,
    mut f: impl FnMut(&mut cachet_store::Stripe, u64, &[u8]) -> bool,
) -> i64 {
    let node = ctx.node;
    let ks = &node.keyspace;
    let mut n = 0;
    for key in args.iter().skip(1) {
        let h = ks.hash(key);
        if f(&mut ks.stripe(h), h, key) {
            n += 1;
        }
    }
    n
}

pub fn del(ctx: &mut Ctx, args: Args) {
    let (db, now) = (ctx.state.db, ctx.now_ms);
    let n = each_key(ctx, &args, |s, h, k| s.remove(db, h, k, now).is_some());
    ctx.w().integer(n);
}

pub fn exists(ctx: &mut Ctx, args: Args) {
    let (db, now) = (ctx.state.db, ctx.now_ms);
    let n = each_key(ctx, &args, |s, h, k| s.contains(db, h, k, now));
    ctx.w().integer(n);
}

/// EXPIRE/PEXPIRE with Redis 7's NX/XX/GT/LT.
fn expire_generic(ctx: &mut Ctx, args: Args, unit_ms: i64, name: &str) {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in args.iter().skip(3) {
        match a.to_ascii_lowercase().as_slice() {
            b"nx" => nx = true,
            b"xx" => xx = true,
            b"gt" => gt = true,
            b"lt" => lt = true,
            _ => return ctx.error(&format!("ERR Unsupported option {}", String::from_utf8_lossy(a))),
        }
    }
    if nx && (xx || gt || lt) {
        return ctx.error("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return ctx.error("ERR GT and LT options at the same time are not compatible");
    }
    let Some(v) = int_arg(args.get(2)) else { return ctx.not_an_integer() };
    let invalid = format!("ERR invalid expire time in '{name}' command");
    let Some(when) = v.checked_mul(unit_ms).and_then(|ms| ms.checked_add(ctx.now_ms as i64)) else {
        return ctx.error(&invalid);
    };
    let key = args.get(1);
    let node = ctx.node;
    let ks = &node.keyspace;
    let h = ks.hash(key);
    let (db, now) = (ctx.state.db, ctx.now_ms);
    let mut stripe = ks.stripe(h);
    let Some(current) = stripe.get(db, h, key, now).map(|e| e.expire_at_ms) else {
        drop(stripe);
        return ctx.w().integer(0);
    };
    // A key without expiry counts as an infinite time to live for GT and LT.
    let applies = if nx {
        current == 0
    } else if xx && current == 0 {
        false
    } else if gt {
        current != 0 && when > current as i64
    } else if lt {
        current == 0 || when < current as i64
    } else {
        true
    };
    if !applies {
        drop(stripe);
        return ctx.w().integer(0);
    }
    if when <= now as i64 {
        stripe.remove(db, h, key, now);
    } else {
        stripe.set_expiry(db, h, key, when as u64);
    }
    drop(stripe);
    ctx.w().integer(1);
}

pub fn expire(ctx: &mut Ctx, args: Args) {
    expire_generic(ctx, args, 1000, "expire")
}

pub fn pexpire(ctx: &mut Ctx, args: Args) {
    expire_generic(ctx, args, 1, "pexpire")
}

fn ttl_generic(ctx: &mut Ctx, args: Args, ms: bool) {
    let key = args.get(1);
    let node = ctx.node;
    let ks = &node.keyspace;
    let h = ks.hash(key);
    let (db, now) = (ctx.state.db, ctx.now_ms);
    let found = ks.stripe(h).get(db, h, key, now).map(|e| e.expire_at_ms);
    let reply = match found {
        None => -2,
        Some(0) => -1,
        Some(at) => {
            let left = at.saturating_sub(now) as i64;
            if ms {
                left
            } else {
                (left + 500) / 1000
            }
        }
    };
    ctx.w().integer(reply);
}

pub fn ttl(ctx: &mut Ctx, args: Args) {
    ttl_generic(ctx, args, false)
}

pub fn pttl(ctx: &mut Ctx, args: Args) {
    ttl_generic(ctx, args, true)
}

pub fn persist(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let node = ctx.node;
    let ks = &node.keyspace;
    let h = ks.hash(key);
    let (db, now) = (ctx.state.db, ctx.now_ms);
    let mut stripe = ks.stripe(h);
    let had = matches!(stripe.get(db, h, key, now).map(|e| e.expire_at_ms), Some(t) if t != 0);
    if had {
        stripe.set_expiry(db, h, key, 0);
    }
    drop(stripe);
    ctx.w().integer(had as i64);
}

pub fn select(ctx: &mut Ctx, args: Args) {
    let Some(db) = int_arg(args.get(1)) else { return ctx.not_an_integer() };
    if db < 0 || db as usize >= ctx.node.keyspace.databases() {
        return ctx.error("ERR DB index is out of range");
    }
    ctx.state.db = db as usize;
    ctx.state.handle.db.store(db as usize, std::sync::atomic::Ordering::Relaxed);
    ctx.w().ok();
}

pub fn dbsize(ctx: &mut Ctx, _args: Args) {
    let n = ctx.node.keyspace.len(ctx.state.db);
    ctx.w().integer(n as i64);
}

/// FLUSHDB/FLUSHALL take an optional ASYNC or SYNC; both flush before replying here.
fn flush_mode_ok(ctx: &mut Ctx, args: &Args) -> bool {
    match args.len() {
        1 => true,
        2 if args.get(1).eq_ignore_ascii_case(b"async") || args.get(1).eq_ignore_ascii_case(b"sync") => true,
        _ => {
            ctx.syntax_error();
            false
        }
    }
}

pub fn flushdb(ctx: &mut Ctx, args: Args) {
    if flush_mode_ok(ctx, &args) {
        ctx.node.keyspace.flush(Some(ctx.state.db));
        ctx.w().ok();
    }
}

pub fn flushall(ctx: &mut Ctx, args: Args) {
    if flush_mode_ok(ctx, &args) {
        ctx.node.keyspace.flush(None);
        ctx.w().ok();
    }
}
