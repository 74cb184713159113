//! Keyspace commands: DEL, EXISTS, EXPIRE family, TTL family, PERSIST, SELECT, DBSIZE, FLUSH*.

use super::{int_arg, Ctx};
use cachet_resp::Args;
use cachet_store::Value;

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
    let n = each_key(ctx, &args, |s, h, k| s.peek(db, h, k, now).is_some());
    ctx.w().integer(n);
}

/// EXPIRE/PEXPIRE with Redis 7's NX/XX/GT/LT.
fn expire_generic(ctx: &mut Ctx, args: Args, unit_ms: i64, name: &str) {
    let base = ctx.now_ms as i64;
    expire_with_base(ctx, args, unit_ms, name, base)
}

/// The EXPIRE family: the time is `base + arg * unit_ms` (base 0 for the *AT forms).
fn expire_with_base(ctx: &mut Ctx, args: Args, unit_ms: i64, name: &str, base: i64) {
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
    let Some(when) = v.checked_mul(unit_ms).and_then(|ms| ms.checked_add(base)) else {
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
    let found = ks.stripe(h).peek(db, h, key, now).map(|e| e.expire_at_ms);
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

pub fn key_type(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let name = ctx.with_key(key, |s, h, db, now| s.peek(db, h, key, now).map(|e| e.value.type_name()));
    ctx.w().simple(name.unwrap_or("none").as_bytes());
}

/// RENAME and RENAMENX: move the entry (with its expiry) under the new name, both stripes held.
fn rename_generic(ctx: &mut Ctx, args: Args, nx: bool) {
    let (from, to) = (args.get(1), args.get(2));
    let node = ctx.node;
    let ks = &node.keyspace;
    let (hf, ht) = (ks.hash(from), ks.hash(to));
    let (db, now) = (ctx.state.db, ctx.now_ms);
    let mut locked = ks.lock_keys(&[hf, ht]);
    if !locked.stripe(hf).contains(db, hf, from, now) {
        drop(locked);
        return ctx.error("ERR no such key");
    }
    if from == to {
        drop(locked);
        return if nx { ctx.w().integer(0) } else { ctx.w().ok() };
    }
    if nx && locked.stripe(ht).contains(db, ht, to, now) {
        drop(locked);
        return ctx.w().integer(0);
    }
    let e = locked.stripe(hf).remove(db, hf, from, now).expect("checked above");
    locked.stripe(ht).set(db, ht, to, e.value, e.expire_at_ms, now);
    drop(locked);
    if nx {
        ctx.w().integer(1)
    } else {
        ctx.w().ok()
    }
}

pub fn rename(ctx: &mut Ctx, args: Args) {
    rename_generic(ctx, args, false)
}

pub fn renamenx(ctx: &mut Ctx, args: Args) {
    rename_generic(ctx, args, true)
}

pub fn keys(ctx: &mut Ctx, args: Args) {
    let pattern = args.get(1);
    let node = ctx.node;
    let ks = &node.keyspace;
    let (db, now) = (ctx.state.db, ctx.now_ms);
    let mut found: Vec<Box<[u8]>> = Vec::new();
    for i in 0..ks.stripe_count() {
        ks.stripe_at(i).for_each_live(db, now, |k, _| {
            if cachet_store::glob_match(pattern, k, false) {
                found.push(k.into());
            }
        });
    }
    let mut w = ctx.w();
    w.array(found.len());
    for k in &found {
        w.bulk(k);
    }
}

/// SCAN's cursor is a stripe index: each call returns whole stripes (each read under its lock)
/// until COUNT keys are gathered, so every key that exists throughout an iteration is returned
/// once its stripe is visited. COUNT is a hint, as in Redis: a call may return more.
pub fn scan(ctx: &mut Ctx, args: Args) {
    let Some((cursor, o)) = super::scan_args(ctx, &args, 1, true) else { return };
    let (pattern, count, kind) = (o.pattern, o.count, o.kind);
    let node = ctx.node;
    let ks = &node.keyspace;
    let (db, now) = (ctx.state.db, ctx.now_ms);
    let stripes = ks.stripe_count() as u64;
    let mut next = cursor.min(stripes);
    let mut found: Vec<Box<[u8]>> = Vec::new();
    while next < stripes && found.len() < count {
        ks.stripe_at(next as usize).for_each_live(db, now, |k, e| {
            let type_ok = kind.as_deref().is_none_or(|t| t == e.value.type_name().as_bytes());
            if type_ok && pattern.is_none_or(|p| cachet_store::glob_match(p, k, false)) {
                found.push(k.into());
            }
        });
        next += 1;
    }
    let next = if next >= stripes { 0 } else { next };
    let mut w = ctx.w();
    w.array(2);
    w.bulk_integer(next as i64);
    w.array(found.len());
    for k in &found {
        w.bulk(k);
    }
}

pub fn randomkey(ctx: &mut Ctx, _args: Args) {
    let seed = ctx.now_ms ^ ctx.state.handle.id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    match ctx.node.keyspace.random_key(ctx.state.db, ctx.now_ms, seed) {
        Some(k) => ctx.w().bulk(&k),
        None => ctx.w().null(),
    }
}

/// EXPIREAT and PEXPIREAT: an absolute time, with the same options as EXPIRE.
fn expireat_generic(ctx: &mut Ctx, args: Args, unit_ms: i64, name: &str) {
    expire_with_base(ctx, args, unit_ms, name, 0)
}

pub fn expireat(ctx: &mut Ctx, args: Args) {
    expireat_generic(ctx, args, 1000, "expireat")
}

pub fn pexpireat(ctx: &mut Ctx, args: Args) {
    expireat_generic(ctx, args, 1, "pexpireat")
}

fn expiretime_generic(ctx: &mut Ctx, args: Args, ms: bool) {
    let key = args.get(1);
    let reply = match ctx.with_key(key, |s, h, db, now| s.peek(db, h, key, now).map(|e| e.expire_at_ms)) {
        None => -2,
        Some(0) => -1,
        Some(at) if ms => at as i64,
        Some(at) => (at / 1000) as i64,
    };
    ctx.w().integer(reply);
}

pub fn expiretime(ctx: &mut Ctx, args: Args) {
    expiretime_generic(ctx, args, false)
}

pub fn pexpiretime(ctx: &mut Ctx, args: Args) {
    expiretime_generic(ctx, args, true)
}

pub fn touch(ctx: &mut Ctx, args: Args) {
    exists(ctx, args)
}

fn db_arg(ctx: &mut Ctx, a: &[u8]) -> Option<usize> {
    match int_arg(a) {
        Some(db) if db >= 0 && (db as usize) < ctx.node.keyspace.databases() => Some(db as usize),
        Some(_) => {
            ctx.error("ERR DB index is out of range");
            None
        }
        None => {
            ctx.not_an_integer();
            None
        }
    }
}

pub fn copy(ctx: &mut Ctx, args: Args) {
    let (from, to) = (args.get(1), args.get(2));
    let mut dst_db = ctx.state.db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        let opt = args.get(i).to_ascii_lowercase();
        if opt == b"replace" {
            replace = true;
        } else if opt == b"db" && i + 1 < args.len() {
            let Some(db) = db_arg(ctx, args.get(i + 1)) else { return };
            dst_db = db;
            i += 1;
        } else {
            return ctx.syntax_error();
        }
        i += 1;
    }
    let src_db = ctx.state.db;
    if from == to && src_db == dst_db {
        return ctx.error("ERR source and destination objects are the same");
    }
    let node = ctx.node;
    let ks = &node.keyspace;
    let (hf, ht) = (ks.hash(from), ks.hash(to));
    let now = ctx.now_ms;
    let mut locked = ks.lock_keys(&[hf, ht]);
    let Some(e) = locked.stripe(hf).get(src_db, hf, from, now).cloned() else {
        drop(locked);
        return ctx.w().integer(0);
    };
    if !replace && locked.stripe(ht).contains(dst_db, ht, to, now) {
        drop(locked);
        return ctx.w().integer(0);
    }
    locked.stripe(ht).set(dst_db, ht, to, e.value, e.expire_at_ms, now);
    drop(locked);
    ctx.w().integer(1);
}

pub fn move_key(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let Some(dst) = db_arg(ctx, args.get(2)) else { return };
    if dst == ctx.state.db {
        return ctx.error("ERR source and destination objects are the same");
    }
    let moved = ctx.with_key(key, |s, h, db, now| {
        if !s.contains(db, h, key, now) || s.contains(dst, h, key, now) {
            return false;
        }
        let e = s.remove(db, h, key, now).expect("checked above");
        s.set(dst, h, key, e.value, e.expire_at_ms, now);
        true
    });
    ctx.w().integer(moved as i64);
}

pub fn swapdb(ctx: &mut Ctx, args: Args) {
    let parse = |a: &[u8]| int_arg(a).filter(|&d| d >= 0);
    let Some(a) = parse(args.get(1)) else { return ctx.error("ERR invalid first DB index") };
    let Some(b) = parse(args.get(2)) else { return ctx.error("ERR invalid second DB index") };
    let n = ctx.node.keyspace.databases() as i64;
    if a >= n || b >= n {
        return ctx.error("ERR DB index is out of range");
    }
    // Atomic for every client: all stripes are held while the tables are exchanged.
    for mut s in ctx.node.keyspace.lock_all() {
        s.swap_dbs(a as usize, b as usize);
    }
    ctx.w().ok();
}

/// OBJECT ENCODING and REFCOUNT. (IDLETIME and FREQ need the access clock that comes with
/// eviction.)
const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// What OBJECT reports of a key, read without counting as a use of it.
enum ObjectInfo {
    Encoding(&'static str),
    Refcount(i64),
    Idle(u64),
    Freq(u32),
    NotLfu,
    NotLru,
}

pub fn object(ctx: &mut Ctx, args: Args) {
    let sub = args.get(1).to_ascii_lowercase();
    if sub == b"help" {
        ctx.help(OBJECT_HELP);
        return;
    }
    let key = args.get(2);
    let info = ctx.with_key(key, |s, h, db, now| {
        let policy = s.access_policy();
        let e = s.peek(db, h, key, now)?;
        Some(match sub.as_slice() {
            b"encoding" => ObjectInfo::Encoding(match &e.value {
                Value::Int(_) => "int",
                // Redis embeds strings of up to 44 bytes in the object header.
                Value::Raw(b) if b.len() <= 44 => "embstr",
                Value::Raw(_) => "raw",
                Value::Hash(h) => h.encoding(),
                Value::Set(s) => s.encoding(),
                Value::List(_) => "quicklist",
                Value::ZSet(z) => z.encoding(),
            }),
            // Redis shares the integers 0..9999, reporting them with INT_MAX references.
            b"refcount" => ObjectInfo::Refcount(match e.value {
                Value::Int(i) if (0..10000).contains(&i) => i32::MAX as i64,
                _ => 1,
            }),
            b"idletime" if policy.lfu => ObjectInfo::NotLru,
            b"idletime" => ObjectInfo::Idle(policy.idle_secs(e.access, now)),
            b"freq" if !policy.lfu => ObjectInfo::NotLfu,
            _ => ObjectInfo::Freq(policy.decayed(e.access, now)),
        })
    });
    match info {
        None => ctx.w().null(),
        Some(ObjectInfo::Encoding(e)) => ctx.w().bulk(e.as_bytes()),
        Some(ObjectInfo::Refcount(n)) => ctx.w().integer(n),
        Some(ObjectInfo::Idle(n)) => ctx.w().integer(n as i64),
        Some(ObjectInfo::Freq(n)) => ctx.w().integer(n as i64),
        Some(ObjectInfo::NotLru) => ctx.error(
            "ERR An LRU maxmemory policy is not selected, access time not tracked. Please note that when \
             switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ),
        Some(ObjectInfo::NotLfu) => ctx.error(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when \
             switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ),
    }
}

/// The node's encoding limits, for values RESTORE builds.
fn rdb_limits(ctx: &Ctx) -> cachet_repl::rdb::Limits {
    ctx.live.rdb_limits()
}

/// DUMP: the value in Redis's RDB version 10 payload, which RESTORE (here or in Redis 7)
/// reads back.
pub fn dump(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let payload = ctx
        .with_key(key, |s, h, db, now| s.get(db, h, key, now).map(|e| cachet_repl::dump_payload(&e.value)));
    match payload {
        Some(p) => ctx.w().bulk(&p),
        None => ctx.w().null(),
    }
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency], checked in
/// Redis's order.
pub fn restore(ctx: &mut Ctx, args: Args) {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < args.len() {
        let more = args.len() - j - 1;
        let opt = args.get(j).to_ascii_lowercase();
        match opt.as_slice() {
            b"replace" => replace = true,
            b"absttl" => absttl = true,
            b"idletime" if more >= 1 && freq.is_none() => {
                let Some(v) = int_arg(args.get(j + 1)) else { return ctx.not_an_integer() };
                if v < 0 {
                    return ctx.error("ERR Invalid IDLETIME value, must be >= 0");
                }
                idle = Some(v);
                j += 1;
            }
            b"freq" if more >= 1 && idle.is_none() => {
                let Some(v) = int_arg(args.get(j + 1)) else { return ctx.not_an_integer() };
                if !(0..=255).contains(&v) {
                    return ctx.error("ERR Invalid FREQ value, must be >= 0 and <= 255");
                }
                freq = Some(v);
                j += 1;
            }
            _ => return ctx.syntax_error(),
        }
        j += 1;
    }
    let key = args.get(1);
    let (db, now) = (ctx.state.db, ctx.now_ms);
    if !replace && ctx.with_key(key, |s, h, _, _| s.peek(db, h, key, now).is_some()) {
        return ctx.error("BUSYKEY Target key name already exists.");
    }
    let Some(ttl) = int_arg(args.get(2)) else { return ctx.not_an_integer() };
    if ttl < 0 {
        return ctx.error("ERR Invalid TTL value, must be >= 0");
    }
    let limits = rdb_limits(ctx);
    let value = match cachet_repl::restore_payload(args.get(3), &limits) {
        Ok(v) => v,
        Err(cachet_repl::RdbError::Checksum) => {
            return ctx.error("ERR DUMP payload version or checksum are wrong")
        }
        Err(cachet_repl::RdbError::Format) => return ctx.error("ERR Bad data format"),
    };
    let expire_at = match (ttl, absttl) {
        (0, _) => 0,
        (t, true) => t as u64,
        (t, false) => now.saturating_add(t as u64),
    };
    ctx.with_key(key, |s, h, db, now| {
        if replace {
            s.remove(db, h, key, now);
        }
        if expire_at != 0 && expire_at <= now {
            return; // already expired: nothing is added (Redis answers OK all the same)
        }
        s.set(db, h, key, value, expire_at, now);
        let policy = s.access_policy();
        if let (Some(f), true) = (freq, policy.lfu) {
            s.set_access(db, h, key, now, ((((now / 60_000) & 0xFFFF) as u32) << 8) | f as u32);
        } else if let (Some(i), false) = (idle, policy.lfu) {
            s.set_access(db, h, key, now, now.saturating_sub(i as u64 * 1000) as u32);
        }
    });
    ctx.w().ok();
}
