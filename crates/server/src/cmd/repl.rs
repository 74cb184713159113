//! The primary's side of Redis's replication handshake, as far as it goes today: SYNC and
//! PSYNC answer with a full RDB snapshot (so `redis-cli --rdb FILE`, over TLS too, takes a
//! backup of a node), and REPLCONF is acknowledged. Streaming the writes that follow the
//! snapshot to a replica is not implemented yet (see docs/replication.md).

use super::Ctx;
use cachet_resp::Args;

/// The whole dataset as an RDB file. Every stripe is held while it is written, so the
/// snapshot is one point in time across stripes (writes wait meanwhile: see
/// docs/replication.md for the stripe-at-a-time method that will replace this).
pub fn snapshot(ctx: &Ctx) -> Vec<u8> {
    let node = ctx.node;
    let now = ctx.now_ms;
    let ks = &node.keyspace;
    let used = node.used_memory();
    let replid = node.run_id.clone();
    ks.exec(None, move || {
        let mut w = cachet_repl::RdbWriter::new(
            now / 1000,
            used,
            &[("repl-stream-db", b"0"), ("repl-id", replid.as_bytes()), ("repl-offset", b"0")],
        );
        for db in 0..ks.databases() {
            let (mut keys, mut expires) = (0, 0);
            ks.for_each_stripe(|s| {
                s.for_each_live(db, now, |_, e| {
                    keys += 1;
                    expires += (e.expire_at_ms != 0) as usize;
                })
            });
            if keys == 0 {
                continue;
            }
            w.select_db(db, keys, expires);
            ks.for_each_stripe(|s| s.for_each_live(db, now, |k, e| w.key(k, &e.value, e.expire_at_ms)));
        }
        w.finish()
    })
}

fn send_snapshot(ctx: &mut Ctx) {
    let rdb = snapshot(ctx);
    tracing::info!(client = ctx.state.handle.id, bytes = rdb.len(), "sent a full RDB snapshot");
    ctx.out.extend_from_slice(format!("${}\r\n", rdb.len()).as_bytes());
    ctx.out.extend_from_slice(&rdb);
}

/// SYNC: the snapshot as `$<len>\r\n<rdb>` (no trailing CRLF, as Redis sends it).
pub fn sync(ctx: &mut Ctx, _args: Args) {
    send_snapshot(ctx);
}

/// PSYNC replid offset: always a full resynchronisation for now.
pub fn psync(ctx: &mut Ctx, _args: Args) {
    let line = format!("+FULLRESYNC {} 0\r\n", ctx.node.run_id);
    ctx.out.extend_from_slice(line.as_bytes());
    send_snapshot(ctx);
}

/// REPLCONF: listening-port, capa, rdb-only... are acknowledged; ACK gets no reply.
pub fn replconf(ctx: &mut Ctx, args: Args) {
    if args.len() >= 2 && args.get(1).eq_ignore_ascii_case(b"ack") {
        return;
    }
    if args.len().is_multiple_of(2) {
        return ctx.syntax_error();
    }
    ctx.w().ok();
}

/// ROLE: a primary with no replicas attached (replicas arrive with the write stream).
pub fn role(ctx: &mut Ctx, _args: Args) {
    let mut w = ctx.w();
    w.array(3);
    w.bulk(b"master");
    w.integer(0);
    w.array(0);
}
