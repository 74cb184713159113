//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! EXEC runs its queue inside `Keyspace::exec`, holding every stripe the queued commands touch
//! (all stripes when a queued command is keyspace-wide), so no other worker sees a transaction
//! half done. WATCH records each key's modification counter in its stripe; EXEC compares them
//! with those stripes held, so a change made by any worker aborts the transaction, and a
//! change to another key of the same stripe does not.

use super::Ctx;
use cachet_resp::{Args, Span};

/// A queued command, its arguments copied out of the query buffer.
pub struct Queued {
    idx: usize,
    buf: Vec<u8>,
    spans: Vec<Span>,
}

#[derive(Default)]
pub struct Multi {
    queued: Vec<Queued>,
    /// A command was rejected while queueing: EXEC must answer EXECABORT.
    failed: bool,
}

/// A WATCHed key.
pub struct Watched {
    db: usize,
    key: Vec<u8>,
    hash: u64,
    version: u64,
}

/// The transaction commands run at once even inside MULTI.
pub fn runs_in_multi(name: &str) -> bool {
    matches!(name, "exec" | "discard" | "multi" | "watch" | "quit" | "unwatch" | "reset")
}

/// Marks the open transaction as failed (a command was rejected while queueing).
pub fn flag(ctx: &mut Ctx) {
    if let Some(m) = ctx.state.multi.as_mut() {
        m.failed = true;
    }
}

pub fn queue(ctx: &mut Ctx, idx: usize, args: Args) {
    let mut buf = Vec::new();
    let mut spans = Vec::with_capacity(args.len());
    for a in args.iter() {
        spans.push(buf.len()..buf.len() + a.len());
        buf.extend_from_slice(a);
    }
    if let Some(m) = ctx.state.multi.as_mut() {
        m.queued.push(Queued { idx, buf, spans });
    }
    ctx.w().simple(b"QUEUED");
}

pub fn multi(ctx: &mut Ctx, _args: Args) {
    if ctx.state.multi.is_some() {
        return ctx.error("ERR MULTI calls can not be nested");
    }
    ctx.state.multi = Some(Multi::default());
    ctx.w().ok();
}

pub fn discard(ctx: &mut Ctx, _args: Args) {
    if ctx.state.multi.take().is_none() {
        return ctx.error("ERR DISCARD without MULTI");
    }
    unwatch_all(ctx.node, ctx.state);
    ctx.w().ok();
}

pub fn watch(ctx: &mut Ctx, args: Args) {
    if ctx.state.multi.is_some() {
        return ctx.error("ERR WATCH inside MULTI is not allowed");
    }
    let node = ctx.node;
    let db = ctx.state.db;
    for key in args.iter().skip(1) {
        if ctx.state.watched.iter().any(|w| w.db == db && w.key == key) {
            continue;
        }
        let hash = node.keyspace.hash(key);
        let version = node.keyspace.stripe(hash).watch(db, key);
        ctx.state.watched.push(Watched { db, key: key.to_vec(), hash, version });
    }
    ctx.w().ok();
}

pub fn unwatch(ctx: &mut Ctx, _args: Args) {
    unwatch_all(ctx.node, ctx.state);
    ctx.w().ok();
}

/// Forgets every watched key (UNWATCH, EXEC, DISCARD, disconnect).
pub fn unwatch_all(node: &crate::Node, state: &mut crate::conn::ClientState) {
    for w in state.watched.drain(..) {
        node.keyspace.stripe(w.hash).unwatch(w.db, &w.key);
    }
}

pub fn exec(ctx: &mut Ctx, _args: Args) {
    let Some(m) = ctx.state.multi.take() else {
        return ctx.error("ERR EXEC without MULTI");
    };
    if m.failed {
        unwatch_all(ctx.node, ctx.state);
        return ctx.error("EXECABORT Transaction discarded because of previous errors.");
    }
    let node = ctx.node;
    let ks = &node.keyspace;
    // Hold the queued commands' stripes and the watched keys' stripes.
    let mut stripes: Vec<usize> = ctx.state.watched.iter().map(|w| ks.stripe_index(w.hash)).collect();
    let mut all = false;
    for q in &m.queued {
        if !super::stripes_touched(ks, q.idx, &Args::from_parts(&q.buf, &q.spans), &mut stripes) {
            all = true;
        }
    }
    let watched = std::mem::take(&mut ctx.state.watched);
    let now = ctx.now_ms;
    ks.exec(if all { None } else { Some(&stripes) }, || {
        // A watched key that changed, or expired, since WATCH aborts the transaction.
        let changed = watched.iter().any(|w| {
            let mut s = ks.stripe(w.hash);
            s.contains(w.db, w.hash, &w.key, now);
            s.watch_version(w.db, &w.key) != w.version
        });
        if changed {
            ctx.w().null_array();
            return;
        }
        ctx.w().array(m.queued.len());
        ctx.state.in_exec = true;
        ctx.state.exec_prop.clear();
        for q in &m.queued {
            super::run(ctx, q.idx, Args::from_parts(&q.buf, &q.spans));
        }
        ctx.state.in_exec = false;
        // The transaction's writes reach replicas as one MULTI/EXEC block, appended while its
        // stripes are still held.
        if !ctx.state.exec_prop.is_empty() {
            let items = std::mem::take(&mut ctx.state.exec_prop);
            node.repl.feed_transaction(node, &items);
        }
    });
    ctx.state.watched = watched;
    unwatch_all(node, ctx.state);
}
