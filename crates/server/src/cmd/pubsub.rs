//! Pub/sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, the shard channels
//! (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH: a namespace of their own, as in standalone Redis 7),
//! and PUBSUB.
//!
//! Subscriptions live in the node's registry; PUBLISH leaves each message in the subscriber's
//! inbox (on its client handle) and pokes the subscriber's worker, which encodes the messages
//! for that client's protocol ([`deliver`]).

use super::Ctx;
use crate::conn::ClientState;
use crate::node::{Delivery, Node};
use cachet_resp::{Args, Protocol, ReplyWriter};

/// Whether the client is in RESP2's subscribed mode (where only a few commands are allowed).
pub fn subscribed(state: &ClientState) -> bool {
    !state.subs.is_empty() || !state.psubs.is_empty() || !state.ssubs.is_empty()
}

/// The commands RESP2 allows in subscribed mode.
pub fn allowed_when_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

fn count(state: &ClientState) -> i64 {
    (state.subs.len() + state.psubs.len()) as i64
}

fn ack(ctx: &mut Ctx, kind: &[u8], name: Option<&[u8]>) {
    // Shard subscriptions are counted apart from channels and patterns, as Redis counts them.
    let shard = kind == b"ssubscribe" || kind == b"sunsubscribe";
    let n = if shard { ctx.state.ssubs.len() as i64 } else { count(ctx.state) };
    let mut w = ctx.w();
    w.push(3);
    w.bulk(kind);
    match name {
        Some(c) => w.bulk(c),
        None => w.null(),
    }
    w.integer(n);
}

pub fn subscribe(ctx: &mut Ctx, args: Args) {
    join(ctx, &args, false, b"subscribe")
}

/// SUBSCRIBE or SSUBSCRIBE: one ack per channel.
fn join(ctx: &mut Ctx, args: &Args, shard: bool, reply: &[u8]) {
    for ch in args.iter().skip(1) {
        let mine = if shard { &mut ctx.state.ssubs } else { &mut ctx.state.subs };
        if mine.insert(ch.to_vec()) {
            ctx.node.subscribe(shard, ch, &ctx.state.handle);
        }
        ack(ctx, reply, Some(ch));
    }
}

pub fn psubscribe(ctx: &mut Ctx, args: Args) {
    for p in args.iter().skip(1) {
        if ctx.state.psubs.insert(p.to_vec()) {
            ctx.node.psubscribe(p, &ctx.state.handle);
        }
        ack(ctx, b"psubscribe", Some(p));
    }
}

/// Which kind of subscription an (un)subscribe command is about.
#[derive(Clone, Copy)]
enum Kind {
    Channel,
    Pattern,
    Shard,
}

fn subs_of(state: &mut ClientState, kind: Kind) -> &mut std::collections::BTreeSet<Vec<u8>> {
    match kind {
        Kind::Channel => &mut state.subs,
        Kind::Pattern => &mut state.psubs,
        Kind::Shard => &mut state.ssubs,
    }
}

/// UNSUBSCRIBE, PUNSUBSCRIBE, SUNSUBSCRIBE: the names given, or all of that kind; one ack
/// each, or one with a null name when there was nothing to leave.
fn leave(ctx: &mut Ctx, args: &Args, kind: Kind, reply: &[u8]) {
    let names: Vec<Vec<u8>> = if args.len() > 1 {
        args.iter().skip(1).map(|c| c.to_vec()).collect()
    } else {
        subs_of(ctx.state, kind).iter().cloned().collect()
    };
    if names.is_empty() {
        return ack(ctx, reply, None);
    }
    let id = ctx.state.handle.id;
    for name in names {
        if subs_of(ctx.state, kind).remove(&name) {
            match kind {
                Kind::Channel => ctx.node.unsubscribe(false, &name, id),
                Kind::Pattern => ctx.node.punsubscribe(&name, id),
                Kind::Shard => ctx.node.unsubscribe(true, &name, id),
            }
        }
        ack(ctx, reply, Some(&name));
    }
}

pub fn unsubscribe(ctx: &mut Ctx, args: Args) {
    leave(ctx, &args, Kind::Channel, b"unsubscribe")
}

pub fn punsubscribe(ctx: &mut Ctx, args: Args) {
    leave(ctx, &args, Kind::Pattern, b"punsubscribe")
}

pub fn ssubscribe(ctx: &mut Ctx, args: Args) {
    join(ctx, &args, true, b"ssubscribe")
}

pub fn sunsubscribe(ctx: &mut Ctx, args: Args) {
    leave(ctx, &args, Kind::Shard, b"sunsubscribe")
}

pub fn spublish(ctx: &mut Ctx, args: Args) {
    let n = ctx.node.spublish(args.get(1), args.get(2));
    ctx.w().integer(n as i64);
}

pub fn publish(ctx: &mut Ctx, args: Args) {
    let n = ctx.node.publish(args.get(1), args.get(2));
    ctx.w().integer(n as i64);
}

pub fn pubsub(ctx: &mut Ctx, args: Args) {
    let sub = args.get(1).to_ascii_lowercase();
    match sub.as_slice() {
        b"channels" | b"shardchannels" if args.len() <= 3 => {
            let pattern = (args.len() == 3).then(|| args.get(2));
            let chans = ctx.node.channels(sub.starts_with(b"shard"), pattern);
            let mut w = ctx.w();
            w.array(chans.len());
            for c in &chans {
                w.bulk(c);
            }
        }
        b"numsub" | b"shardnumsub" => {
            let shard = sub.starts_with(b"shard");
            let counts: Vec<(&[u8], usize)> =
                args.iter().skip(2).map(|c| (c, ctx.node.numsub(shard, c))).collect();
            let mut w = ctx.w();
            w.map(counts.len());
            for (c, n) in counts {
                w.bulk(c);
                w.integer(n as i64);
            }
        }
        b"numpat" if args.len() == 2 => {
            let n = ctx.node.numpat();
            ctx.w().integer(n as i64)
        }
        b"help" => {
            ctx.help(HELP);
        }
        b"channels" | b"shardchannels" => {
            let name = format!("pubsub|{}", String::from_utf8_lossy(&sub));
            ctx.wrong_arity(&name)
        }
        b"numpat" => ctx.wrong_arity("pubsub|numpat"),
        _ => ctx.unknown_subcommand(args.get(1), "PUBSUB"),
    }
}

/// Encodes the messages waiting in this client's inbox into `out`.
pub fn deliver(state: &ClientState, proto: Protocol, out: &mut Vec<u8>) {
    let items = {
        let mut inbox = state.handle.inbox.lock().unwrap_or_else(|p| p.into_inner());
        inbox.bytes = 0;
        std::mem::take(&mut inbox.items)
    };
    let mut w = ReplyWriter::new(out, proto);
    for d in items {
        match d {
            Delivery::Message { channel, payload } => {
                w.push(3);
                w.bulk(b"message");
                w.bulk(&channel);
                w.bulk(&payload);
            }
            Delivery::Raw(bytes) => w.raw(&bytes),
            Delivery::SMessage { channel, payload } => {
                w.push(3);
                w.bulk(b"smessage");
                w.bulk(&channel);
                w.bulk(&payload);
            }
            Delivery::PMessage { pattern, channel, payload } => {
                w.push(4);
                w.bulk(b"pmessage");
                w.bulk(&pattern);
                w.bulk(&channel);
                w.bulk(&payload);
            }
        }
    }
}

/// Drops every subscription of a departing client.
pub fn remove_all(node: &Node, state: &mut ClientState) {
    for ch in std::mem::take(&mut state.subs) {
        node.unsubscribe(false, &ch, state.handle.id);
    }
    for p in std::mem::take(&mut state.psubs) {
        node.punsubscribe(&p, state.handle.id);
    }
    for ch in std::mem::take(&mut state.ssubs) {
        node.unsubscribe(true, &ch, state.handle.id);
    }
}

const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];
