//! DEBUG, behind `enable-debug-command` (no | yes | local) as in Redis 7: LOG, SLEEP,
//! SET-ACTIVE-EXPIRE, OBJECT, DIGEST and DIGEST-VALUE.
//!
//! DIGEST is Redis's own algorithm (SHA-1 mixes and XORs, `debug.c`), so a cachet node and a
//! Redis node holding the same data print the same 40 hex digits: that is how a replica is
//! checked against its primary, whichever server each one is.

use super::{int_arg, Ctx};
use cachet_resp::Args;
use cachet_store::{format_score, Entry, Value};

type Digest = [u8; 20];

fn sha1(parts: &[&[u8]]) -> Digest {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 20];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Redis's `mixDigest`: digest = SHA1(digest ^ SHA1(data)).
fn mix(digest: &mut Digest, data: &[u8]) {
    xor(digest, data);
    *digest = sha1(&[digest]);
}

/// Redis's `xorDigest`: digest ^= SHA1(data).
fn xor(digest: &mut Digest, data: &[u8]) {
    let h = sha1(&[data]);
    for (d, x) in digest.iter_mut().zip(h) {
        *d ^= x;
    }
}

/// Redis's object type numbers (`OBJ_STRING` ...), which the digest mixes in.
fn type_code(v: &Value) -> u32 {
    match v {
        Value::Int(_) | Value::Raw(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
    }
}

/// Redis's `xorObjectDigest`: the digest of one value (and whether it has an expiry).
fn value_digest(digest: &mut Digest, e: &Entry) {
    mix(digest, &type_code(&e.value).to_be_bytes());
    match &e.value {
        Value::Int(_) | Value::Raw(_) => mix(digest, &e.value.to_vec()),
        Value::List(l) => {
            for item in l.iter() {
                mix(digest, item);
            }
        }
        Value::Set(s) => {
            for m in s.members() {
                xor(digest, &m);
            }
        }
        Value::ZSet(z) => {
            for (m, score) in z.iter(false) {
                let mut ele = [0u8; 20];
                mix(&mut ele, m);
                mix(&mut ele, format_score(score).as_bytes());
                xor(digest, &ele);
            }
        }
        Value::Hash(h) => {
            for (f, v) in h.iter() {
                let mut ele = [0u8; 20];
                mix(&mut ele, f);
                mix(&mut ele, v);
                xor(digest, &ele);
            }
        }
    }
    if e.expire_at_ms != 0 {
        xor(digest, b"!!expire!!");
    }
}

fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Redis's `computeDatasetDigest` over every database (logically expired keys included, as
/// Redis walks its dicts without expiring).
pub fn dataset_digest(node: &crate::node::Node) -> String {
    let ks = &node.keyspace;
    let mut fin = [0u8; 20];
    for db in 0..ks.databases() {
        let mut any = false;
        let mut acc = [0u8; 20];
        ks.for_each_stripe(|s| {
            s.for_each_entry(db, |k, e| {
                any = true;
                let mut d = [0u8; 20];
                mix(&mut d, k);
                value_digest(&mut d, e);
                for (a, x) in acc.iter_mut().zip(sha1(&[&d])) {
                    *a ^= x;
                }
            })
        });
        if any {
            // The db id is mixed in before the keys; XOR of the keys' digests commutes, so
            // folding them in afterwards gives Redis's result.
            mix(&mut fin, &(db as u32).to_be_bytes());
            for (f, a) in fin.iter_mut().zip(acc) {
                *f ^= a;
            }
        }
    }
    hex(&fin)
}

fn allowed(ctx: &Ctx) -> bool {
    match ctx.node.config().enable_debug_command.as_str() {
        "yes" => true,
        "local" => {
            let a = &ctx.state.handle.addr;
            a.starts_with("127.") || a.starts_with("[::1]") || a.starts_with("::1")
        }
        _ => false,
    }
}

pub fn debug(ctx: &mut Ctx, args: Args) {
    if !allowed(ctx) {
        return ctx.error(
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it \
             from a local connection, otherwise you need to set this option in the configuration file, and then \
             restart the server.",
        );
    }
    let sub = args.get(1).to_ascii_lowercase();
    match (sub.as_slice(), args.len()) {
        (b"digest", 2) => {
            let d = dataset_digest(ctx.node);
            ctx.w().simple(d.as_bytes());
        }
        (b"digest-value", _) => {
            let db = ctx.state.db;
            let digests: Vec<String> = args
                .iter()
                .skip(2)
                .map(|key| {
                    let mut d = [0u8; 20];
                    ctx.with_key(key, |s, h, _, _| {
                        if let Some(e) = s.entry_any(db, h, key) {
                            value_digest(&mut d, e);
                        }
                    });
                    hex(&d)
                })
                .collect();
            let mut w = ctx.w();
            w.array(digests.len());
            for d in digests {
                w.simple(d.as_bytes());
            }
        }
        (b"sleep", 3) => {
            let secs =
                std::str::from_utf8(args.get(2)).ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
            if let Ok(d) = std::time::Duration::try_from_secs_f64(secs) {
                std::thread::sleep(d);
            }
            ctx.w().ok();
        }
        (b"log", 3) => {
            tracing::warn!("DEBUG LOG: {}", String::from_utf8_lossy(args.get(2)));
            ctx.w().ok();
        }
        (b"set-active-expire", 3) => {
            let on = int_arg(args.get(2)).unwrap_or(1) != 0;
            ctx.node.active_expire.store(on, std::sync::atomic::Ordering::Relaxed);
            ctx.w().ok();
        }
        (b"object", 3) => object(ctx, args.get(2)),
        (b"help", 2) => {
            ctx.help(HELP);
        }
        _ => {
            let sub = String::from_utf8_lossy(args.get(1));
            ctx.error(&format!(
                "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try DEBUG HELP."
            ));
        }
    }
}

/// DEBUG OBJECT: Redis's one-line description (the address is the entry's; the serialized
/// length is an estimate of what RDB would write).
fn object(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.state.db;
    let line = ctx.with_key(key, |s, h, _, now| {
        let policy = s.access_policy();
        let e = s.peek(db, h, key, now)?;
        let (enc, refcount, len): (&str, i64, usize) = match &e.value {
            Value::Int(i) => {
                ("int", if (0..10000).contains(i) { i32::MAX as i64 } else { 1 }, i.to_string().len())
            }
            Value::Raw(b) => (if b.len() <= 44 { "embstr" } else { "raw" }, 1, b.len()),
            Value::Hash(h) => (h.encoding(), 1, h.iter().map(|(f, v)| f.len() + v.len() + 2).sum()),
            Value::Set(st) => (st.encoding(), 1, st.members().iter().map(|m| m.len() + 1).sum()),
            Value::ZSet(z) => (z.encoding(), 1, z.iter(false).map(|(m, _)| m.len() + 9).sum()),
            Value::List(l) => ("quicklist", 1, l.iter().map(|i| i.len() + 1).sum()),
        };
        let mut line = format!(
            "Value at:{:p} refcount:{refcount} encoding:{enc} serializedlength:{} lru:{} lru_seconds_idle:{}",
            e as *const Entry,
            len + 1,
            (e.access as u64 / 1000) & 0xFF_FFFF,
            if policy.lfu { 0 } else { policy.idle_secs(e.access, now) },
        );
        if let Value::List(l) = &e.value {
            let bytes: usize = l.iter().map(|i| i.len()).sum();
            line.push_str(&format!(
                " ql_nodes:1 ql_avg_node:{:.2} ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:{}",
                l.len() as f64,
                bytes + l.len() + 6
            ));
        }
        Some(line)
    });
    match line {
        Some(l) => ctx.w().simple(l.as_bytes()),
        None => ctx.error("ERR no such key"),
    }
}

const HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not accessed (otherwise the Redis",
    "    behavior). Setting it to 1 reenables back the default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "HELP",
    "    Prints this help.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_mix_and_xor_as_redis_does() {
        // Redis: DEBUG DIGEST-VALUE of "hello" (set s hello) on redis-server 7.0.15.
        let e = Entry { value: Value::string(b"hello"), expire_at_ms: 0, access: 0 };
        let mut d = [0u8; 20];
        value_digest(&mut d, &e);
        assert_eq!(hex(&d), "36b23a1456b2dce2c3ed252c456761301dba8060");
        let e = Entry { value: Value::string(b"1"), expire_at_ms: 0, access: 0 };
        let mut d = [0u8; 20];
        value_digest(&mut d, &e);
        assert_eq!(hex(&d), "b4fc66738120fba0b5aa500ab5c2bf89cea1c5da");
    }
}
