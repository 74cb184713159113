//! The command table and dispatch.
//!
//! A request is checked the way Redis 7's `processCommand` checks it, in the same order, so the
//! same bad request gets the same error: unknown command, then arity, then authentication.
//! Names are matched case-insensitively through a stack buffer (no allocation).

pub mod blocking;
mod collection;
pub mod debug;
mod hash;
mod keys;
mod list;
mod propagate;
pub mod pubsub;
pub mod repl;
mod server;
mod set;
mod string;
pub mod tx;
mod zset;

use crate::conn::ClientState;
use crate::node::{Live, Node, WorkerStats};
use cachet_resp::{Args, ReplyWriter};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::LazyLock;

/// The Redis version cachet answers as (HELLO, INFO `redis_version`): the command set and
/// reply formats it follows.
pub const REDIS_COMPAT_VERSION: &str = "7.0.0";

/// What a handler gets: the node, this client's state, and the reply buffer.
pub struct Ctx<'a> {
    pub node: &'a Node,
    pub ws: &'a WorkerStats,
    pub live: &'a Live,
    pub state: &'a mut ClientState,
    pub out: &'a mut Vec<u8>,
    /// Unix milliseconds, read once per batch of requests.
    pub now_ms: u64,
    /// Running a batch of requests from a connection's input (not EXEC's queue, not a retry):
    /// cheap commands' time is then shared out when the batch ends ([`finish_batch`]).
    pub batched: bool,
}

/// Ends a batch started at counter value `start`: the time not spent in individually timed
/// commands is shared out evenly among the cheap ones that ran.
pub fn finish_batch(ws: &WorkerStats, state: &mut ClientState, start: u64) {
    let n = state.batch_fast.len() as u64;
    if n > 0 {
        let total = crate::clock::ticks().wrapping_sub(start);
        let each = total.saturating_sub(state.batch_timed).checked_div(n).unwrap_or(0);
        for &id in &state.batch_fast {
            crate::node::bump(&ws.cmds[id as usize].ticks, each);
        }
        state.batch_fast.clear();
    }
    state.batch_timed = 0;
}

impl Ctx<'_> {
    pub fn w(&mut self) -> ReplyWriter<'_> {
        ReplyWriter::new(self.out, self.state.proto)
    }

    /// Sends an error reply (`msg` includes its code, e.g. `ERR ...`) and counts it (INFO
    /// `total_error_replies` and errorstats).
    pub fn error(&mut self, msg: &str) {
        count_error(self.ws, msg);
        self.w().error(msg.as_bytes());
    }

    /// An error that refuses a command before it runs (counted as `rejected_calls`).
    fn reject(&mut self, r: Resolved, msg: &str) {
        crate::node::bump(&self.ws.cmds[r.acl_id()].rejected, 1);
        tx::flag(self);
        self.error(msg);
    }

    /// Runs `f` with the key's stripe locked: (stripe, hash, db, now).
    pub fn with_key<R>(
        &mut self,
        key: &[u8],
        f: impl FnOnce(&mut cachet_store::Stripe, u64, usize, u64) -> R,
    ) -> R {
        let ks = &self.node.keyspace;
        let h = ks.hash(key);
        let mut stripe = ks.stripe(h);
        f(&mut stripe, h, self.state.db, self.now_ms)
    }

    /// A HELP subcommand's reply: one status line per text line, as Redis sends them.
    pub fn help(&mut self, lines: &[&str]) {
        let mut w = self.w();
        w.array(lines.len());
        for l in lines {
            w.simple(l.as_bytes());
        }
    }

    pub fn wrongtype(&mut self) {
        self.error("WRONGTYPE Operation against a key holding the wrong kind of value");
    }

    pub fn syntax_error(&mut self) {
        self.error("ERR syntax error");
    }

    pub fn not_an_integer(&mut self) {
        self.error("ERR value is not an integer or out of range");
    }

    /// Redis's reply for a subcommand with the wrong number of arguments.
    pub fn wrong_arity(&mut self, name: &str) {
        self.error(&format!("ERR wrong number of arguments for '{name}' command"));
    }

    pub fn unknown_subcommand(&mut self, sub: &[u8], cmd: &str) {
        let sub = String::from_utf8_lossy(sub);
        self.error(&format!("ERR unknown subcommand '{sub:.128}'. Try {cmd} HELP."));
    }
}

/// Counts an error reply by its code (the first word), as INFO errorstats shows them.
pub fn count_error(ws: &WorkerStats, msg: &str) {
    ws.error_replies.fetch_add(1, Relaxed);
    let code = msg.split(' ').next().unwrap_or("ERR");
    let mut errors = ws.errors.lock().unwrap_or_else(|p| p.into_inner());
    match errors.get_mut(code) {
        Some(n) => *n += 1,
        None => {
            errors.insert(code.to_string(), 1);
        }
    }
}

pub type Handler = fn(&mut Ctx, Args);

/// A command: Redis's name, arity (negative: at least that many) and properties.
pub struct CommandSpec {
    pub name: &'static str,
    pub arity: i32,
    pub handler: Handler,
    /// Allowed before authentication.
    pub no_auth: bool,
    /// Takes a `numkeys` argument: its keys go beyond the key specification (which, as in
    /// Redis's COMMAND INFO, names the destination only), so EXEC must hold every stripe.
    pub numkeys: bool,
    /// Has subcommands in [`SUBCOMMANDS`] (checked against that table by a test).
    pub container: bool,
    /// Command flags as `COMMAND INFO` reports them.
    pub flags: &'static [&'static str],
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub categories: &'static [&'static str],
}

const fn spec(
    name: &'static str,
    arity: i32,
    handler: Handler,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
    categories: &'static [&'static str],
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        handler,
        no_auth: false,
        numkeys: false,
        container: false,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        categories,
    }
}

const fn numkeys(mut c: CommandSpec) -> CommandSpec {
    c.numkeys = true;
    c
}

const fn container(mut c: CommandSpec) -> CommandSpec {
    c.container = true;
    c
}

const fn no_auth(mut c: CommandSpec) -> CommandSpec {
    c.no_auth = true;
    c
}

const NONE: (i32, i32, i32) = (0, 0, 0);
const K1: (i32, i32, i32) = (1, 1, 1);
const KALL: (i32, i32, i32) = (1, -1, 1);

pub static COMMANDS: &[CommandSpec] = &[
    spec("get", 2, string::get, &["readonly", "fast"], K1, &["@read", "@string", "@fast"]),
    spec("set", -3, string::set, &["write", "denyoom"], K1, &["@write", "@string", "@slow"]),
    spec("mget", -2, string::mget, &["readonly", "fast"], KALL, &["@read", "@string", "@fast"]),
    spec("mset", -3, string::mset, &["write", "denyoom"], (1, -1, 2), &["@write", "@string", "@slow"]),
    spec("incr", 2, string::incr, &["write", "denyoom", "fast"], K1, &["@write", "@string", "@fast"]),
    spec("decr", 2, string::decr, &["write", "denyoom", "fast"], K1, &["@write", "@string", "@fast"]),
    spec("incrby", 3, string::incrby, &["write", "denyoom", "fast"], K1, &["@write", "@string", "@fast"]),
    spec("decrby", 3, string::decrby, &["write", "denyoom", "fast"], K1, &["@write", "@string", "@fast"]),
    spec("append", 3, string::append, &["write", "denyoom", "fast"], K1, &["@write", "@string", "@fast"]),
    spec("strlen", 2, string::strlen, &["readonly", "fast"], K1, &["@read", "@string", "@fast"]),
    spec("getrange", 4, string::getrange, &["readonly"], K1, &["@read", "@string", "@slow"]),
    spec("setrange", 4, string::setrange, &["write", "denyoom"], K1, &["@write", "@string", "@slow"]),
    spec("getset", 3, string::getset, &["write", "denyoom", "fast"], K1, &["@write", "@string", "@fast"]),
    spec("getdel", 2, string::getdel, &["write", "fast"], K1, &["@write", "@string", "@fast"]),
    spec("getex", -2, string::getex, &["write", "fast"], K1, &["@write", "@string", "@fast"]),
    spec("setnx", 3, string::setnx, &["write", "denyoom", "fast"], K1, &["@write", "@string", "@fast"]),
    spec("setex", 4, string::setex, &["write", "denyoom"], K1, &["@write", "@string", "@slow"]),
    spec("psetex", 4, string::psetex, &["write", "denyoom"], K1, &["@write", "@string", "@slow"]),
    spec("msetnx", -3, string::msetnx, &["write", "denyoom"], (1, -1, 2), &["@write", "@string", "@slow"]),
    spec(
        "incrbyfloat",
        3,
        string::incrbyfloat,
        &["write", "denyoom", "fast"],
        K1,
        &["@write", "@string", "@fast"],
    ),
    spec("dump", 2, keys::dump, &["readonly"], K1, &["@keyspace", "@read", "@slow"]),
    spec(
        "restore",
        -4,
        keys::restore,
        &["write", "denyoom"],
        K1,
        &["@keyspace", "@write", "@slow", "@dangerous"],
    ),
    spec("lcs", -3, string::lcs, &["readonly"], (1, 2, 1), &["@read", "@string", "@slow"]),
    spec("hset", -4, hash::hset, &["write", "denyoom", "fast"], K1, &["@write", "@hash", "@fast"]),
    spec("hmset", -4, hash::hmset, &["write", "denyoom", "fast"], K1, &["@write", "@hash", "@fast"]),
    spec("hsetnx", 4, hash::hsetnx, &["write", "denyoom", "fast"], K1, &["@write", "@hash", "@fast"]),
    spec("hget", 3, hash::hget, &["readonly", "fast"], K1, &["@read", "@hash", "@fast"]),
    spec("hmget", -3, hash::hmget, &["readonly", "fast"], K1, &["@read", "@hash", "@fast"]),
    spec("hdel", -3, hash::hdel, &["write", "fast"], K1, &["@write", "@hash", "@fast"]),
    spec("hlen", 2, hash::hlen, &["readonly", "fast"], K1, &["@read", "@hash", "@fast"]),
    spec("hstrlen", 3, hash::hstrlen, &["readonly", "fast"], K1, &["@read", "@hash", "@fast"]),
    spec("hexists", 3, hash::hexists, &["readonly", "fast"], K1, &["@read", "@hash", "@fast"]),
    spec("hkeys", 2, hash::hkeys, &["readonly"], K1, &["@read", "@hash", "@slow"]),
    spec("hvals", 2, hash::hvals, &["readonly"], K1, &["@read", "@hash", "@slow"]),
    spec("hgetall", 2, hash::hgetall, &["readonly"], K1, &["@read", "@hash", "@slow"]),
    spec("hincrby", 4, hash::hincrby, &["write", "denyoom", "fast"], K1, &["@write", "@hash", "@fast"]),
    spec(
        "hincrbyfloat",
        4,
        hash::hincrbyfloat,
        &["write", "denyoom", "fast"],
        K1,
        &["@write", "@hash", "@fast"],
    ),
    spec("hrandfield", -2, hash::hrandfield, &["readonly"], K1, &["@read", "@hash", "@slow"]),
    spec("hscan", -3, hash::hscan, &["readonly"], K1, &["@read", "@hash", "@slow"]),
    spec("sadd", -3, set::sadd, &["write", "denyoom", "fast"], K1, &["@write", "@set", "@fast"]),
    spec("srem", -3, set::srem, &["write", "fast"], K1, &["@write", "@set", "@fast"]),
    spec("smembers", 2, set::smembers, &["readonly"], K1, &["@read", "@set", "@slow"]),
    spec("sismember", 3, set::sismember, &["readonly", "fast"], K1, &["@read", "@set", "@fast"]),
    spec("smismember", -3, set::smismember, &["readonly", "fast"], K1, &["@read", "@set", "@fast"]),
    spec("scard", 2, set::scard, &["readonly", "fast"], K1, &["@read", "@set", "@fast"]),
    spec("srandmember", -2, set::srandmember, &["readonly"], K1, &["@read", "@set", "@slow"]),
    spec("spop", -2, set::spop, &["write", "fast"], K1, &["@write", "@set", "@fast"]),
    spec("smove", 4, set::smove, &["write", "fast"], (1, 2, 1), &["@write", "@set", "@fast"]),
    spec("sinter", -2, set::sinter, &["readonly"], KALL, &["@read", "@set", "@slow"]),
    spec("sunion", -2, set::sunion, &["readonly"], KALL, &["@read", "@set", "@slow"]),
    spec("sdiff", -2, set::sdiff, &["readonly"], KALL, &["@read", "@set", "@slow"]),
    spec("sinterstore", -3, set::sinterstore, &["write", "denyoom"], KALL, &["@write", "@set", "@slow"]),
    spec("sunionstore", -3, set::sunionstore, &["write", "denyoom"], KALL, &["@write", "@set", "@slow"]),
    spec("sdiffstore", -3, set::sdiffstore, &["write", "denyoom"], KALL, &["@write", "@set", "@slow"]),
    numkeys(spec("sintercard", -3, set::sintercard, &["readonly"], NONE, &["@read", "@set", "@slow"])),
    spec("sscan", -3, set::sscan, &["readonly"], K1, &["@read", "@set", "@slow"]),
    spec("lpush", -3, list::lpush, &["write", "denyoom", "fast"], K1, &["@write", "@list", "@fast"]),
    spec("rpush", -3, list::rpush, &["write", "denyoom", "fast"], K1, &["@write", "@list", "@fast"]),
    spec("lpushx", -3, list::lpushx, &["write", "denyoom", "fast"], K1, &["@write", "@list", "@fast"]),
    spec("rpushx", -3, list::rpushx, &["write", "denyoom", "fast"], K1, &["@write", "@list", "@fast"]),
    spec("lpop", -2, list::lpop, &["write", "fast"], K1, &["@write", "@list", "@fast"]),
    spec("rpop", -2, list::rpop, &["write", "fast"], K1, &["@write", "@list", "@fast"]),
    spec("llen", 2, list::llen, &["readonly", "fast"], K1, &["@read", "@list", "@fast"]),
    spec("lrange", 4, list::lrange, &["readonly"], K1, &["@read", "@list", "@slow"]),
    spec("lindex", 3, list::lindex, &["readonly"], K1, &["@read", "@list", "@slow"]),
    spec("lset", 4, list::lset, &["write", "denyoom"], K1, &["@write", "@list", "@slow"]),
    spec("linsert", 5, list::linsert, &["write", "denyoom"], K1, &["@write", "@list", "@slow"]),
    spec("lrem", 4, list::lrem, &["write"], K1, &["@write", "@list", "@slow"]),
    spec("ltrim", 4, list::ltrim, &["write"], K1, &["@write", "@list", "@slow"]),
    spec("lpos", -3, list::lpos, &["readonly"], K1, &["@read", "@list", "@slow"]),
    spec("lmove", 5, list::lmove, &["write", "denyoom"], (1, 2, 1), &["@write", "@list", "@slow"]),
    spec("rpoplpush", 3, list::rpoplpush, &["write", "denyoom"], (1, 2, 1), &["@write", "@list", "@slow"]),
    numkeys(spec("lmpop", -4, list::lmpop, &["write"], NONE, &["@write", "@list", "@slow"])),
    spec(
        "multi",
        1,
        tx::multi,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        NONE,
        &["@fast", "@transaction"],
    ),
    spec(
        "exec",
        1,
        tx::exec,
        &["noscript", "loading", "stale", "skip_slowlog"],
        NONE,
        &["@slow", "@transaction"],
    ),
    spec(
        "discard",
        1,
        tx::discard,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        NONE,
        &["@fast", "@transaction"],
    ),
    spec(
        "watch",
        -2,
        tx::watch,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        KALL,
        &["@fast", "@transaction"],
    ),
    spec(
        "unwatch",
        1,
        tx::unwatch,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        NONE,
        &["@fast", "@transaction"],
    ),
    spec("zadd", -4, zset::zadd, &["write", "denyoom", "fast"], K1, &["@write", "@sortedset", "@fast"]),
    spec("zincrby", 4, zset::zincrby, &["write", "denyoom", "fast"], K1, &["@write", "@sortedset", "@fast"]),
    spec("zrem", -3, zset::zrem, &["write", "fast"], K1, &["@write", "@sortedset", "@fast"]),
    spec("zcard", 2, zset::zcard, &["readonly", "fast"], K1, &["@read", "@sortedset", "@fast"]),
    spec("zscore", 3, zset::zscore, &["readonly", "fast"], K1, &["@read", "@sortedset", "@fast"]),
    spec("zmscore", -3, zset::zmscore, &["readonly", "fast"], K1, &["@read", "@sortedset", "@fast"]),
    spec("zrank", 3, zset::zrank, &["readonly", "fast"], K1, &["@read", "@sortedset", "@fast"]),
    spec("zrevrank", 3, zset::zrevrank, &["readonly", "fast"], K1, &["@read", "@sortedset", "@fast"]),
    spec("zcount", 4, zset::zcount, &["readonly", "fast"], K1, &["@read", "@sortedset", "@fast"]),
    spec("zlexcount", 4, zset::zlexcount, &["readonly", "fast"], K1, &["@read", "@sortedset", "@fast"]),
    spec("zrange", -4, zset::zrange, &["readonly"], K1, &["@read", "@sortedset", "@slow"]),
    spec(
        "zrangestore",
        -5,
        zset::zrangestore,
        &["write", "denyoom"],
        (1, 2, 1),
        &["@write", "@sortedset", "@slow"],
    ),
    spec("zrangebyscore", -4, zset::zrangebyscore, &["readonly"], K1, &["@read", "@sortedset", "@slow"]),
    spec(
        "zrevrangebyscore",
        -4,
        zset::zrevrangebyscore,
        &["readonly"],
        K1,
        &["@read", "@sortedset", "@slow"],
    ),
    spec("zrangebylex", -4, zset::zrangebylex, &["readonly"], K1, &["@read", "@sortedset", "@slow"]),
    spec("zrevrangebylex", -4, zset::zrevrangebylex, &["readonly"], K1, &["@read", "@sortedset", "@slow"]),
    spec("zrevrange", -4, zset::zrevrange, &["readonly"], K1, &["@read", "@sortedset", "@slow"]),
    spec("zremrangebyrank", 4, zset::zremrangebyrank, &["write"], K1, &["@write", "@sortedset", "@slow"]),
    spec("zremrangebyscore", 4, zset::zremrangebyscore, &["write"], K1, &["@write", "@sortedset", "@slow"]),
    spec("zremrangebylex", 4, zset::zremrangebylex, &["write"], K1, &["@write", "@sortedset", "@slow"]),
    spec("zpopmin", -2, zset::zpopmin, &["write", "fast"], K1, &["@write", "@sortedset", "@fast"]),
    spec("zpopmax", -2, zset::zpopmax, &["write", "fast"], K1, &["@write", "@sortedset", "@fast"]),
    spec("zrandmember", -2, zset::zrandmember, &["readonly"], K1, &["@read", "@sortedset", "@slow"]),
    numkeys(spec("zunion", -3, zset::zunion, &["readonly"], NONE, &["@read", "@sortedset", "@slow"])),
    numkeys(spec("zinter", -3, zset::zinter, &["readonly"], NONE, &["@read", "@sortedset", "@slow"])),
    numkeys(spec("zdiff", -3, zset::zdiff, &["readonly"], NONE, &["@read", "@sortedset", "@slow"])),
    numkeys(spec(
        "zunionstore",
        -4,
        zset::zunionstore,
        &["write", "denyoom"],
        K1,
        &["@write", "@sortedset", "@slow"],
    )),
    numkeys(spec(
        "zinterstore",
        -4,
        zset::zinterstore,
        &["write", "denyoom"],
        K1,
        &["@write", "@sortedset", "@slow"],
    )),
    numkeys(spec(
        "zdiffstore",
        -4,
        zset::zdiffstore,
        &["write", "denyoom"],
        K1,
        &["@write", "@sortedset", "@slow"],
    )),
    numkeys(spec("zintercard", -3, zset::zintercard, &["readonly"], NONE, &["@read", "@sortedset", "@slow"])),
    numkeys(spec("zmpop", -4, zset::zmpop, &["write"], NONE, &["@write", "@sortedset", "@slow"])),
    spec("zscan", -3, zset::zscan, &["readonly"], K1, &["@read", "@sortedset", "@slow"]),
    spec(
        "blpop",
        -3,
        blocking::blpop,
        &["write", "noscript", "blocking"],
        (1, -2, 1),
        &["@write", "@list", "@slow", "@blocking"],
    ),
    spec(
        "brpop",
        -3,
        blocking::brpop,
        &["write", "noscript", "blocking"],
        (1, -2, 1),
        &["@write", "@list", "@slow", "@blocking"],
    ),
    spec(
        "blmove",
        6,
        blocking::blmove,
        &["write", "denyoom", "noscript", "blocking"],
        (1, 2, 1),
        &["@write", "@list", "@slow", "@blocking"],
    ),
    spec(
        "brpoplpush",
        4,
        blocking::brpoplpush,
        &["write", "denyoom", "noscript", "blocking"],
        (1, 2, 1),
        &["@write", "@list", "@slow", "@blocking"],
    ),
    numkeys(spec(
        "blmpop",
        -5,
        blocking::blmpop,
        &["write", "blocking"],
        NONE,
        &["@write", "@list", "@slow", "@blocking"],
    )),
    spec(
        "bzpopmin",
        -3,
        blocking::bzpopmin,
        &["write", "noscript", "blocking", "fast"],
        (1, -2, 1),
        &["@write", "@sortedset", "@fast", "@blocking"],
    ),
    spec(
        "bzpopmax",
        -3,
        blocking::bzpopmax,
        &["write", "noscript", "blocking", "fast"],
        (1, -2, 1),
        &["@write", "@sortedset", "@fast", "@blocking"],
    ),
    spec(
        "subscribe",
        -2,
        pubsub::subscribe,
        &["pubsub", "noscript", "loading", "stale"],
        NONE,
        &["@pubsub", "@slow"],
    ),
    spec(
        "unsubscribe",
        -1,
        pubsub::unsubscribe,
        &["pubsub", "noscript", "loading", "stale"],
        NONE,
        &["@pubsub", "@slow"],
    ),
    spec(
        "psubscribe",
        -2,
        pubsub::psubscribe,
        &["pubsub", "noscript", "loading", "stale"],
        NONE,
        &["@pubsub", "@slow"],
    ),
    spec(
        "punsubscribe",
        -1,
        pubsub::punsubscribe,
        &["pubsub", "noscript", "loading", "stale"],
        NONE,
        &["@pubsub", "@slow"],
    ),
    spec(
        "ssubscribe",
        -2,
        pubsub::ssubscribe,
        &["pubsub", "noscript", "loading", "stale"],
        NONE,
        &["@pubsub", "@slow"],
    ),
    spec(
        "sunsubscribe",
        -1,
        pubsub::sunsubscribe,
        &["pubsub", "noscript", "loading", "stale"],
        NONE,
        &["@pubsub", "@slow"],
    ),
    spec(
        "spublish",
        3,
        pubsub::spublish,
        &["pubsub", "loading", "stale", "fast"],
        NONE,
        &["@pubsub", "@fast"],
    ),
    spec("publish", 3, pubsub::publish, &["pubsub", "loading", "stale", "fast"], NONE, &["@pubsub", "@fast"]),
    container(spec("pubsub", -2, pubsub::pubsub, &["loading", "stale"], NONE, &["@slow"])),
    spec("del", -2, keys::del, &["write"], KALL, &["@keyspace", "@write", "@slow"]),
    spec("unlink", -2, keys::del, &["write", "fast"], KALL, &["@keyspace", "@write", "@fast"]),
    spec("type", 2, keys::key_type, &["readonly", "fast"], K1, &["@keyspace", "@read", "@fast"]),
    spec("rename", 3, keys::rename, &["write"], (1, 2, 1), &["@keyspace", "@write", "@slow"]),
    spec("renamenx", 3, keys::renamenx, &["write", "fast"], (1, 2, 1), &["@keyspace", "@write", "@fast"]),
    spec("keys", 2, keys::keys, &["readonly"], NONE, &["@keyspace", "@read", "@slow", "@dangerous"]),
    spec("scan", -2, keys::scan, &["readonly"], NONE, &["@keyspace", "@read", "@slow"]),
    spec("randomkey", 1, keys::randomkey, &["readonly"], NONE, &["@keyspace", "@read", "@slow"]),
    spec("expireat", -3, keys::expireat, &["write", "fast"], K1, &["@keyspace", "@write", "@fast"]),
    spec("pexpireat", -3, keys::pexpireat, &["write", "fast"], K1, &["@keyspace", "@write", "@fast"]),
    spec("expiretime", 2, keys::expiretime, &["readonly", "fast"], K1, &["@keyspace", "@read", "@fast"]),
    spec("pexpiretime", 2, keys::pexpiretime, &["readonly", "fast"], K1, &["@keyspace", "@read", "@fast"]),
    spec("touch", -2, keys::touch, &["readonly", "fast"], KALL, &["@keyspace", "@read", "@fast"]),
    spec("copy", -3, keys::copy, &["write", "denyoom"], (1, 2, 1), &["@keyspace", "@write", "@slow"]),
    spec("move", 3, keys::move_key, &["write", "fast"], K1, &["@keyspace", "@write", "@fast"]),
    spec(
        "swapdb",
        3,
        keys::swapdb,
        &["write", "fast"],
        NONE,
        &["@keyspace", "@write", "@fast", "@dangerous"],
    ),
    container(spec("object", -2, keys::object, &["readonly"], (2, 2, 1), &["@keyspace", "@read", "@slow"])),
    spec("exists", -2, keys::exists, &["readonly", "fast"], KALL, &["@keyspace", "@read", "@fast"]),
    spec("expire", -3, keys::expire, &["write", "fast"], K1, &["@keyspace", "@write", "@fast"]),
    spec("pexpire", -3, keys::pexpire, &["write", "fast"], K1, &["@keyspace", "@write", "@fast"]),
    spec("ttl", 2, keys::ttl, &["readonly", "fast"], K1, &["@keyspace", "@read", "@fast"]),
    spec("pttl", 2, keys::pttl, &["readonly", "fast"], K1, &["@keyspace", "@read", "@fast"]),
    spec("persist", 2, keys::persist, &["write", "fast"], K1, &["@keyspace", "@write", "@fast"]),
    spec("dbsize", 1, keys::dbsize, &["readonly", "fast"], NONE, &["@keyspace", "@read", "@fast"]),
    spec("flushdb", -1, keys::flushdb, &["write"], NONE, &["@keyspace", "@write", "@slow", "@dangerous"]),
    spec("flushall", -1, keys::flushall, &["write"], NONE, &["@keyspace", "@write", "@slow", "@dangerous"]),
    spec("select", 2, keys::select, &["loading", "stale", "fast"], NONE, &["@keyspace", "@fast"]),
    spec("ping", -1, server::ping, &["fast"], NONE, &["@fast", "@connection"]),
    spec("echo", 2, server::echo, &["fast"], NONE, &["@fast", "@connection"]),
    no_auth(spec(
        "quit",
        -1,
        server::quit,
        &["noscript", "loading", "stale", "fast", "no_auth"],
        NONE,
        &["@fast", "@connection"],
    )),
    no_auth(spec(
        "auth",
        -2,
        server::auth,
        &["noscript", "loading", "stale", "fast", "no_auth"],
        NONE,
        &["@fast", "@connection"],
    )),
    no_auth(spec(
        "hello",
        -1,
        server::hello,
        &["noscript", "loading", "stale", "fast", "no_auth"],
        NONE,
        &["@fast", "@connection"],
    )),
    spec("time", 1, server::time, &["loading", "stale", "fast"], NONE, &["@fast"]),
    spec(
        "lastsave",
        1,
        server::lastsave,
        &["loading", "stale", "fast"],
        NONE,
        &["@fast", "@admin", "@dangerous"],
    ),
    no_auth(spec(
        "reset",
        1,
        server::reset,
        &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
        NONE,
        &["@fast", "@connection"],
    )),
    container(spec("command", -1, server::command, &["loading", "stale"], NONE, &["@slow", "@connection"])),
    spec("info", -1, server::info, &["loading", "stale"], NONE, &["@slow", "@dangerous"]),
    container(spec(
        "config",
        -2,
        server::config,
        &["admin", "noscript", "loading", "stale"],
        NONE,
        &["@admin", "@slow", "@dangerous"],
    )),
    container(spec("client", -2, server::client, &["loading", "stale"], NONE, &["@slow", "@connection"])),
    container(spec("acl", -2, crate::acl::command, &[], NONE, &[])),
    spec(
        "replicaof",
        3,
        repl::replicaof,
        &["admin", "noscript", "stale", "no_async_loading"],
        NONE,
        &["@admin", "@slow", "@dangerous"],
    ),
    spec(
        "slaveof",
        3,
        repl::replicaof,
        &["admin", "noscript", "stale", "no_async_loading"],
        NONE,
        &["@admin", "@slow", "@dangerous"],
    ),
    spec("wait", 3, repl::wait, &["noscript"], NONE, &["@slow", "@connection"]),
    spec(
        "role",
        1,
        repl::role,
        &["noscript", "loading", "stale", "fast"],
        NONE,
        &["@admin", "@fast", "@dangerous"],
    ),
    spec(
        "sync",
        1,
        repl::sync,
        &["admin", "noscript", "no_async_loading", "no_multi"],
        NONE,
        &["@admin", "@slow", "@dangerous"],
    ),
    spec(
        "psync",
        -3,
        repl::psync,
        &["admin", "noscript", "no_async_loading", "no_multi"],
        NONE,
        &["@admin", "@slow", "@dangerous"],
    ),
    spec(
        "replconf",
        -1,
        repl::replconf,
        &["admin", "noscript", "loading", "stale", "allow_busy"],
        NONE,
        &["@admin", "@slow", "@dangerous"],
    ),
    container(spec("slowlog", -2, server::slowlog, &[], NONE, &[])),
    container(spec("memory", -2, server::memory, &[], NONE, &[])),
    spec(
        "monitor",
        1,
        server::monitor,
        &["admin", "noscript", "loading", "stale"],
        NONE,
        &["@admin", "@slow", "@dangerous"],
    ),
    spec(
        "debug",
        -2,
        debug::debug,
        &["admin", "noscript", "loading", "stale"],
        NONE,
        &["@admin", "@slow", "@dangerous"],
    ),
];

/// A client's CLIENT LIST line (also ACL LOG's `client-info`).
pub fn client_info(node: &Node, h: &crate::node::ClientHandle) -> String {
    server::client_line(node, h)
}

const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale"];
const ADMIN_CATS: &[&str] = &["@admin", "@slow", "@dangerous"];
const CONN_CATS: &[&str] = &["@slow", "@connection"];
const CLIENT_ADMIN_CATS: &[&str] = &["@admin", "@slow", "@dangerous", "@connection"];
const LS: &[&str] = &["loading", "stale"];

/// Subcommands of the container commands, named `parent|sub` as Redis 7 names them: their own
/// arity (counting the parent), flags and ACL categories. ACL rules address them one by one
/// (`+config|get`); their ACL ids follow the top-level commands'.
pub static SUBCOMMANDS: &[CommandSpec] = &[
    spec("config|get", -3, server::config, ADMIN, NONE, ADMIN_CATS),
    spec(
        "config|set",
        -4,
        server::config,
        &["admin", "noscript", "loading", "stale", "may_replicate"],
        NONE,
        ADMIN_CATS,
    ),
    spec("config|resetstat", 2, server::config, ADMIN, NONE, ADMIN_CATS),
    spec("config|rewrite", 2, server::config, ADMIN, NONE, ADMIN_CATS),
    spec("config|help", 2, server::config, LS, NONE, &["@slow"]),
    spec("client|id", 2, server::client, &["noscript", "loading", "stale"], NONE, CONN_CATS),
    spec("client|getname", 2, server::client, &["noscript", "loading", "stale"], NONE, CONN_CATS),
    spec("client|setname", 3, server::client, &["noscript", "loading", "stale"], NONE, CONN_CATS),
    spec("client|setinfo", 4, server::client, &["noscript", "loading", "stale"], NONE, CONN_CATS),
    spec("client|info", 2, server::client, &["noscript", "loading", "stale"], NONE, CONN_CATS),
    spec("client|list", -2, server::client, ADMIN, NONE, CLIENT_ADMIN_CATS),
    spec("client|kill", -3, server::client, ADMIN, NONE, CLIENT_ADMIN_CATS),
    spec("client|pause", -3, server::client, ADMIN, NONE, CLIENT_ADMIN_CATS),
    spec("client|unpause", 2, server::client, ADMIN, NONE, CLIENT_ADMIN_CATS),
    spec("client|unblock", -3, server::client, ADMIN, NONE, CLIENT_ADMIN_CATS),
    spec("client|reply", 3, server::client, &["noscript", "loading", "stale"], NONE, CONN_CATS),
    spec("client|no-evict", 3, server::client, ADMIN, NONE, CLIENT_ADMIN_CATS),
    spec("client|help", 2, server::client, LS, NONE, CONN_CATS),
    spec("command|count", 2, server::command, LS, NONE, CONN_CATS),
    spec("command|list", -2, server::command, LS, NONE, CONN_CATS),
    spec("command|info", -2, server::command, LS, NONE, CONN_CATS),
    spec("command|docs", -2, server::command, LS, NONE, CONN_CATS),
    spec("command|getkeys", -3, server::command, LS, NONE, CONN_CATS),
    spec("command|help", 2, server::command, LS, NONE, CONN_CATS),
    spec("object|encoding", 3, keys::object, &["readonly"], (2, 2, 1), &["@keyspace", "@read", "@slow"]),
    spec("object|refcount", 3, keys::object, &["readonly"], (2, 2, 1), &["@keyspace", "@read", "@slow"]),
    spec("object|idletime", 3, keys::object, &["readonly"], (2, 2, 1), &["@keyspace", "@read", "@slow"]),
    spec("object|freq", 3, keys::object, &["readonly"], (2, 2, 1), &["@keyspace", "@read", "@slow"]),
    spec("object|help", 2, keys::object, LS, NONE, &["@keyspace", "@slow"]),
    spec("pubsub|channels", -2, pubsub::pubsub, &["pubsub", "loading", "stale"], NONE, &["@pubsub", "@slow"]),
    spec("pubsub|numsub", -2, pubsub::pubsub, &["pubsub", "loading", "stale"], NONE, &["@pubsub", "@slow"]),
    spec("pubsub|numpat", 2, pubsub::pubsub, &["pubsub", "loading", "stale"], NONE, &["@pubsub", "@slow"]),
    spec(
        "pubsub|shardchannels",
        -2,
        pubsub::pubsub,
        &["pubsub", "loading", "stale"],
        NONE,
        &["@pubsub", "@slow"],
    ),
    spec(
        "pubsub|shardnumsub",
        -2,
        pubsub::pubsub,
        &["pubsub", "loading", "stale"],
        NONE,
        &["@pubsub", "@slow"],
    ),
    spec("pubsub|help", 2, pubsub::pubsub, LS, NONE, &["@slow"]),
    spec("acl|cat", -2, crate::acl::command, &["noscript", "loading", "stale"], NONE, &["@slow"]),
    spec("acl|deluser", -3, crate::acl::command, ADMIN, NONE, ADMIN_CATS),
    spec("acl|dryrun", -4, crate::acl::command, ADMIN, NONE, ADMIN_CATS),
    spec("acl|genpass", -2, crate::acl::command, &["noscript", "loading", "stale"], NONE, &["@slow"]),
    spec("acl|getuser", 3, crate::acl::command, ADMIN, NONE, ADMIN_CATS),
    spec("acl|list", 2, crate::acl::command, ADMIN, NONE, ADMIN_CATS),
    spec("acl|load", 2, crate::acl::command, ADMIN, NONE, ADMIN_CATS),
    spec("acl|log", -2, crate::acl::command, ADMIN, NONE, ADMIN_CATS),
    spec("acl|save", 2, crate::acl::command, ADMIN, NONE, ADMIN_CATS),
    spec("acl|setuser", -3, crate::acl::command, ADMIN, NONE, ADMIN_CATS),
    spec("acl|users", 2, crate::acl::command, ADMIN, NONE, ADMIN_CATS),
    spec("acl|whoami", 2, crate::acl::command, &["noscript", "loading", "stale"], NONE, &["@slow"]),
    spec("acl|help", 2, crate::acl::command, LS, NONE, &["@slow"]),
    spec("memory|usage", -3, server::memory, &["readonly"], (2, 2, 1), &["@read", "@slow"]),
    spec("memory|stats", 2, server::memory, &[], NONE, &["@slow"]),
    spec("memory|doctor", 2, server::memory, &[], NONE, &["@slow"]),
    spec("memory|malloc-stats", 2, server::memory, &[], NONE, &["@slow"]),
    spec("memory|purge", 2, server::memory, &[], NONE, &["@slow"]),
    spec("memory|help", 2, server::memory, LS, NONE, &["@slow"]),
    spec("slowlog|get", -2, server::slowlog, ADMIN, NONE, ADMIN_CATS),
    spec("slowlog|len", 2, server::slowlog, ADMIN, NONE, ADMIN_CATS),
    spec("slowlog|reset", 2, server::slowlog, ADMIN, NONE, ADMIN_CATS),
    spec("slowlog|help", 2, server::slowlog, LS, NONE, &["@slow"]),
];

/// `(parent index, subcommand name)` to index in [`SUBCOMMANDS`].
type SubIndex = HashMap<(usize, &'static [u8]), usize, foldhash::fast::FixedState>;

static SUB_BY_NAME: LazyLock<SubIndex> = LazyLock::new(|| {
    SUBCOMMANDS
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (parent, sub) = c.name.split_once('|').expect("subcommand names are parent|sub");
            ((lookup(parent.as_bytes()).expect("parent is in COMMANDS"), sub.as_bytes()), i)
        })
        .collect()
});

/// Whether each command has subcommands, indexed like [`COMMANDS`].
/// The subcommand `sub` of the command at `parent`, matched case-insensitively.
pub fn lookup_sub(parent: usize, sub: &[u8]) -> Option<usize> {
    if sub.len() > MAX_NAME {
        return None;
    }
    let mut buf = [0u8; MAX_NAME];
    let lower = &mut buf[..sub.len()];
    lower.copy_from_slice(sub);
    lower.make_ascii_lowercase();
    SUB_BY_NAME.get(&(parent, &*lower)).copied()
}

/// The subcommands of the command at `parent`, in table order.
pub fn subcommands_of(parent: usize) -> impl Iterator<Item = &'static CommandSpec> {
    let name = COMMANDS[parent].name;
    SUBCOMMANDS.iter().filter(move |s| s.name.split('|').next() == Some(name))
}

/// What a request resolves to: a command, or a subcommand of a container (whose id for ACL
/// purposes is `COMMANDS.len() + index`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub idx: usize,
    pub sub: Option<usize>,
}

/// A command or subcommand by its ACL id.
pub fn spec_of_id(id: usize) -> &'static CommandSpec {
    if id < COMMANDS.len() {
        &COMMANDS[id]
    } else {
        &SUBCOMMANDS[id - COMMANDS.len()]
    }
}

/// The full name (`get`, `config|get`) of a command by its ACL id.
pub fn name_of_id(id: usize) -> &'static str {
    spec_of_id(id).name
}

impl Resolved {
    pub fn spec(self) -> &'static CommandSpec {
        match self.sub {
            Some(s) => &SUBCOMMANDS[s],
            None => &COMMANDS[self.idx],
        }
    }

    /// The ACL id: top-level commands first, then subcommands.
    pub fn acl_id(self) -> usize {
        match self.sub {
            Some(s) => COMMANDS.len() + s,
            None => self.idx,
        }
    }
}

/// Resolves a request's command as Redis 7's `processCommand` does, replying with its error
/// (unknown command, unknown subcommand, wrong arity) and returning None when it fails.
pub fn resolve(args: &Args) -> Result<Resolved, String> {
    resolve_with(args, None)
}

/// The last command name a connection resolved, as sent (case included), and its index: a
/// pipeline of one command compares a few bytes instead of hashing the name each time.
#[derive(Default)]
pub struct NameCache {
    name: [u8; 16],
    len: u8,
    idx: u32,
}

impl NameCache {
    fn get(&self, name: &[u8]) -> Option<usize> {
        (self.len as usize == name.len() && self.len > 0 && &self.name[..name.len()] == name)
            .then_some(self.idx as usize)
    }

    fn put(&mut self, name: &[u8], idx: usize) {
        if name.len() <= self.name.len() {
            self.name[..name.len()].copy_from_slice(name);
            self.len = name.len() as u8;
            self.idx = idx as u32;
        }
    }
}

/// [`lookup`] through a connection's [`NameCache`].
pub fn lookup_cached(name: &[u8], cache: &mut NameCache) -> Option<usize> {
    if let Some(i) = cache.get(name) {
        return Some(i);
    }
    let i = lookup(name)?;
    cache.put(name, i);
    Some(i)
}

/// [`resolve`], with the connection's [`NameCache`] when there is one.
pub fn resolve_with(args: &Args, cache: Option<&mut NameCache>) -> Result<Resolved, String> {
    let name = args.get(0);
    let found = match cache {
        Some(c) => lookup_cached(name, c),
        None => lookup(name),
    };
    let Some(idx) = found else {
        return Err(unknown_command_text(args));
    };
    let mut r = Resolved { idx, sub: None };
    if COMMANDS[idx].container && args.len() >= 2 {
        match lookup_sub(idx, args.get(1)) {
            Some(s) => r.sub = Some(s),
            None => {
                let sub = String::from_utf8_lossy(args.get(1));
                let sub: String = sub.chars().take(128).collect();
                return Err(format!(
                    "ERR unknown subcommand '{sub}'. Try {} HELP.",
                    COMMANDS[idx].name.to_ascii_uppercase()
                ));
            }
        }
    }
    let spec = r.spec();
    let argc = args.len() as i32;
    if (spec.arity > 0 && argc != spec.arity) || argc < -spec.arity {
        return Err(format!("ERR wrong number of arguments for '{}' command", spec.name));
    }
    Ok(r)
}

/// Whether each command is a write (`write` flag), indexed like [`COMMANDS`].
static WRITE: LazyLock<Box<[bool]>> =
    LazyLock::new(|| COMMANDS.iter().map(|c| c.flags.contains(&"write")).collect());

/// Whether each command may grow memory (`denyoom`), indexed like [`COMMANDS`].
static DENY_OOM: LazyLock<Box<[bool]>> =
    LazyLock::new(|| COMMANDS.iter().map(|c| c.flags.contains(&"denyoom")).collect());

/// Commands whose time is shared out per batch instead of measured one by one: Redis's `fast`
/// ones (O(1) or O(log N)) and the plain string writes. Reading the CPU counter costs ~20 ns
/// on this machine's VM, as much as a GET itself; a batch of them costs two reads in all.
static AMORTISED: LazyLock<Box<[bool]>> = LazyLock::new(|| {
    COMMANDS
        .iter()
        .map(|c| {
            c.flags.contains(&"fast") || matches!(c.name, "set" | "mset" | "msetnx" | "setex" | "psetex")
        })
        .collect()
});

/// Longest command name we look up; longer names are unknown.
const MAX_NAME: usize = 32;

/// Name to index, hashed with foldhash: std's SipHash showed up at ~4% of CPU at pipeline 16.
static BY_NAME: LazyLock<HashMap<&'static [u8], usize, foldhash::fast::FixedState>> =
    LazyLock::new(|| COMMANDS.iter().enumerate().map(|(i, c)| (c.name.as_bytes(), i)).collect());

/// The command's index in [`COMMANDS`], matching the name case-insensitively.
pub fn lookup(name: &[u8]) -> Option<usize> {
    if name.len() > MAX_NAME {
        return None;
    }
    let mut buf = [0u8; MAX_NAME];
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    BY_NAME.get(&*lower).copied()
}

/// Executes one request, appending its reply. Inside MULTI, commands other than the
/// transaction's own are checked and queued; an error at that point (unknown command, arity,
/// NOAUTH, OOM) makes EXEC fail, as in Redis.
pub fn execute(ctx: &mut Ctx, args: Args) {
    let resolved = match resolve_with(&args, Some(&mut ctx.state.name_cache)) {
        Ok(r) => r,
        Err(e) => {
            // A known command with the wrong arity counts as a rejected call of it.
            if let Some(idx) = lookup(args.get(0)) {
                let sub = if COMMANDS[idx].container && args.len() >= 2 {
                    lookup_sub(idx, args.get(1))
                } else {
                    None
                };
                if sub.is_some() || !COMMANDS[idx].container || args.len() < 2 {
                    crate::node::bump(&ctx.ws.cmds[Resolved { idx, sub }.acl_id()].rejected, 1);
                }
            }
            tx::flag(ctx);
            return ctx.error(&e);
        }
    };
    let idx = resolved.idx;
    let cmd = &COMMANDS[idx];
    // CLIENT LIST's `cmd=` (and ACL LOG's client-info) name the command being run; written
    // only when it changes, so a pipeline of one command writes it once.
    let h = &ctx.state.handle;
    if h.last_cmd.load(Relaxed) != resolved.acl_id() + 1 {
        h.last_cmd.store(resolved.acl_id() + 1, Relaxed);
    }
    if !ctx.state.authenticated && !cmd.no_auth {
        return ctx.reject(resolved, "NOAUTH Authentication required.");
    }
    if ctx.state.user_epoch != ctx.node.acl.epoch() && !crate::acl::revalidate(ctx.node, ctx.state) {
        // The user was deleted: its connections close, as in Redis.
        ctx.state.closing = true;
        return;
    }
    if !ctx.state.unrestricted {
        if let Err(denied) = ctx.state.user.check(resolved, &args) {
            let in_multi = ctx.state.multi.is_some();
            crate::acl::log_denied(ctx, &denied, resolved, &args, in_multi);
            return ctx.reject(resolved, &denied.noperm_text(resolved));
        }
    }
    // A replica holds what its primary sends, whatever its own maxmemory says (Redis's
    // `replica-ignore-maxmemory yes`), and refuses writes from anyone else.
    let replica = ctx.node.is_replica();
    if replica && !ctx.state.master_link && ctx.live.replica_read_only && WRITE[idx] {
        return ctx.reject(resolved, "READONLY You can't write against a read only replica.");
    }
    if ctx.live.maxmemory > 0 && !replica && ctx.node.used_memory() > ctx.live.maxmemory {
        // Over the limit: evict by policy (before any command, as Redis does); a command that
        // may grow memory is refused if that did not make room.
        let seed = ctx.now_ms ^ ctx.state.handle.id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        if !ctx.node.evict_to_fit(ctx.live, ctx.now_ms, seed) && DENY_OOM[idx] {
            return ctx.reject(resolved, "OOM command not allowed when used memory > 'maxmemory'.");
        }
    }
    if ctx.live.maxmemory > 0 && DENY_OOM[idx] {
        let bytes: usize = args.iter().skip(1).map(<[u8]>::len).sum();
        ctx.node.expect_growth(ctx.ws, bytes as u64 + 64);
    }
    if ctx.state.proto == cachet_resp::Protocol::Resp2
        && pubsub::subscribed(ctx.state)
        && !pubsub::allowed_when_subscribed(cmd.name)
    {
        return ctx.error(&format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            cmd.name
        ));
    }
    if ctx.state.multi.is_some() && !tx::runs_in_multi(cmd.name) {
        return tx::queue(ctx, idx, args);
    }
    run(ctx, idx, args);
}

/// Adds to `out` the stripes a command's keys live in (from its key specification and its
/// `numkeys` argument); returns false when it may touch any stripe (a keyspace-wide command,
/// or SORT, whose STORE and BY/GET patterns name keys outside its key specification). What
/// EXEC holds for its queue, and what a write holds while it is propagated.
pub(crate) fn stripes_touched(
    ks: &cachet_store::Keyspace,
    idx: usize,
    args: &Args,
    out: &mut Vec<usize>,
) -> bool {
    let c = &COMMANDS[idx];
    if matches!(c.name, "sort" | "sort_ro") {
        return false;
    }
    if c.first_key == 0 && !c.numkeys {
        // No keys: these touch none; any other (FLUSHALL, DBSIZE, KEYS...) may touch all.
        return matches!(
            c.name,
            "ping"
                | "echo"
                | "select"
                | "auth"
                | "hello"
                | "command"
                | "client"
                | "config"
                | "publish"
                | "spublish"
        );
    }
    for (pos, _) in crate::acl::key_positions(c, args) {
        out.push(ks.stripe_index(ks.hash(args.get(pos))));
    }
    true
}

/// Whether a request must wait during CLIENT PAUSE: every command with ALL (but CLIENT
/// UNPAUSE, so a pause can be lifted), writes and PUBLISH-like commands with WRITE.
pub fn waits_for_pause(args: &Args, all: bool) -> bool {
    let Some(idx) = lookup(args.get(0)) else { return false };
    let name = COMMANDS[idx].name;
    if name == "client" && args.len() >= 2 && args.get(1).eq_ignore_ascii_case(b"unpause") {
        return false;
    }
    // Redis pauses what may replicate: writes and PUBLISH, the set the stream carries.
    all || propagate::propagates(idx)
}

/// Runs a command that has passed the checks (directly, or from EXEC's queue); a write on a
/// node whose replication stream is on goes through [`propagate`].
pub(crate) fn run(ctx: &mut Ctx, idx: usize, args: Args) {
    if ctx.node.repl.active() && propagate::propagates(idx) && !ctx.state.master_link {
        if ctx.state.in_exec {
            return propagate::run_in_exec(ctx, idx, args);
        }
        return propagate::run(ctx, idx, args);
    }
    run_inner(ctx, idx, args)
}

/// Runs a command, timing it for INFO commandstats and the SLOWLOG.
fn run_inner(ctx: &mut Ctx, idx: usize, args: Args) {
    let cmd = &COMMANDS[idx];
    let sub = if cmd.container && args.len() >= 2 { lookup_sub(idx, args.get(1)) } else { None };
    let id = Resolved { idx, sub }.acl_id();
    let ws = ctx.ws;
    let errors_before = ws.error_replies.load(Relaxed);
    // In a batch, cheap commands are timed together (see [`AMORTISED`]); others, and anything
    // inside EXEC or a retried blocked command, one by one.
    // With a slow-log threshold under a millisecond every command is timed, so the log sees
    // each one (a cheap command never takes a millisecond).
    let amortised = ctx.batched && AMORTISED[idx] && !ctx.state.in_exec && ctx.node.amortise_timing();
    if amortised {
        (cmd.handler)(ctx, args);
        ctx.state.batch_fast.push(id as u32);
    } else {
        let t0 = crate::clock::ticks();
        (cmd.handler)(ctx, args);
        let dt = crate::clock::ticks().wrapping_sub(t0);
        ctx.state.batch_timed = ctx.state.batch_timed.wrapping_add(dt);
        crate::node::bump(&ws.cmds[id].ticks, dt);
        if dt >= ctx.node.slowlog_ticks() && !cmd.flags.contains(&"skip_slowlog") {
            server::slowlog_record(ctx, args, crate::clock::to_us(dt));
        }
    }
    let st = &ws.cmds[id];
    crate::node::bump(&st.calls, 1);
    if ws.error_replies.load(Relaxed) != errors_before {
        crate::node::bump(&st.failed, 1);
    }
    // Monitors, blocked clients: one load when there are none.
    let rare = ctx.node.rare();
    if rare == 0 {
        return;
    }
    if rare & crate::node::RARE_MONITORS != 0 && ctx.state.retry_deadline.is_none() {
        server::feed_monitors(ctx, idx, args);
    }
    // A command that adds elements may have filled a key someone is blocked on: poke them.
    if rare & crate::node::RARE_BLOCKED != 0 {
        if let Some(pos) = fills_key_at(cmd.name) {
            if pos < args.len() {
                ctx.node.key_ready(ctx.state.db, args.get(pos));
            }
        }
    }
}

/// The argument position of the key a command may add elements to (what a blocked BLPOP or
/// BZPOPMIN waits for). Commands that only take elements are absent on purpose: a blocked
/// client's retry must never wake the others, or they would wake each other forever.
fn fills_key_at(name: &str) -> Option<usize> {
    match name {
        "lpush" | "rpush" | "lpushx" | "rpushx" | "linsert" | "zadd" | "zincrby" | "zrangestore"
        | "restore" | "zunionstore" | "zinterstore" | "zdiffstore" => Some(1),
        "lmove" | "rpoplpush" | "blmove" | "brpoplpush" | "rename" | "renamenx" | "copy" => Some(2),
        _ => None,
    }
}

/// Redis 7: `unknown command 'x', with args beginning with: 'a' 'b' `, arguments cut at 128
/// bytes in total.
fn unknown_command_text(args: &Args) -> String {
    let name = String::from_utf8_lossy(args.get(0));
    let mut listed = String::new();
    for a in args.iter().skip(1) {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        let a = String::from_utf8_lossy(a);
        let a: String = a.chars().take(room).collect();
        listed.push_str(&format!("'{a}' "));
    }
    let name: String = name.chars().take(128).collect();
    format!("ERR unknown command '{name}', with args beginning with: {listed}")
}

/// SCAN-family options after the cursor: MATCH, COUNT (a hint, at least 1) and, for SCAN,
/// TYPE.
pub struct ScanArgs<'a> {
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
    pub kind: Option<Vec<u8>>,
}

/// Parses a SCAN-family cursor (`args[at]`) and the options after it; replies with Redis's
/// error and returns None on bad input.
pub fn scan_args<'a>(
    ctx: &mut Ctx,
    args: &Args<'a>,
    at: usize,
    allow_type: bool,
) -> Option<(u64, ScanArgs<'a>)> {
    let Some(cursor) = std::str::from_utf8(args.get(at)).ok().and_then(|c| c.parse::<u64>().ok()) else {
        ctx.error("ERR invalid cursor");
        return None;
    };
    let mut o = ScanArgs { pattern: None, count: 10, kind: None };
    let mut i = at + 1;
    while i < args.len() {
        if i + 1 >= args.len() {
            ctx.syntax_error();
            return None;
        }
        match args.get(i).to_ascii_lowercase().as_slice() {
            b"match" => o.pattern = Some(args.get(i + 1)),
            b"count" => match int_arg(args.get(i + 1)) {
                Some(n) if n >= 1 => o.count = n as usize,
                Some(_) => {
                    ctx.syntax_error();
                    return None;
                }
                None => {
                    ctx.not_an_integer();
                    return None;
                }
            },
            b"type" if allow_type => o.kind = Some(args.get(i + 1).to_ascii_lowercase()),
            _ => {
                ctx.syntax_error();
                return None;
            }
        }
        i += 2;
    }
    Some((cursor, o))
}

/// SINTERCARD/ZINTERCARD's options after the keys (from `args[at]`): `LIMIT n`, 0 = none.
/// Replies with Redis's error and returns None on bad input.
pub fn card_limit(ctx: &mut Ctx, args: &Args, at: usize) -> Option<usize> {
    let mut limit = 0usize;
    let mut i = at;
    while i < args.len() {
        if !(args.get(i).eq_ignore_ascii_case(b"limit") && i + 1 < args.len()) {
            ctx.syntax_error();
            return None;
        }
        match int_arg(args.get(i + 1)) {
            Some(l) if l >= 0 => limit = l as usize,
            _ => {
                ctx.error("ERR LIMIT can't be negative");
                return None;
            }
        }
        i += 2;
    }
    Some(limit)
}

/// The optional count of LPOP/RPOP/SPOP/ZPOPMIN/ZPOPMAX at `args[2]`: Some(None) when absent;
/// replies with Redis's error and returns None when it is not a non-negative integer (or
/// there are extra arguments).
pub fn pop_count(ctx: &mut Ctx, args: &Args) -> Option<Option<usize>> {
    match args.len() {
        2 => Some(None),
        3 => match int_arg(args.get(2)) {
            Some(c) if c >= 0 => Some(Some(c as usize)),
            _ => {
                ctx.error("ERR value is out of range, must be positive");
                None
            }
        },
        _ => {
            ctx.syntax_error();
            None
        }
    }
}

/// A small random generator (xorshift) seeded per client and call, for the random-member
/// commands (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER, RANDOMKEY's start).
pub fn rng(ctx: &Ctx) -> impl FnMut() -> u64 {
    // `| 1`: xorshift never leaves zero.
    let mut seed = ctx.now_ms ^ ctx.state.handle.id.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// `count` distinct random positions out of `len` (a partial shuffle).
pub fn distinct(len: usize, count: usize, rnd: &mut impl FnMut() -> u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..len).collect();
    for i in 0..count.min(len) {
        let j = i + rnd() as usize % (len - i);
        idx.swap(i, j);
    }
    idx.truncate(count.min(len));
    idx
}

/// Parses an integer argument as Redis's `string2ll` does.
pub fn int_arg(a: &[u8]) -> Option<i64> {
    cachet_resp::parse_i64(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case_and_rejects_long_names() {
        assert_eq!(lookup(b"GET").map(|i| COMMANDS[i].name), Some("get"));
        assert_eq!(lookup(b"gEt").map(|i| COMMANDS[i].name), Some("get"));
        assert!(lookup(b"nope").is_none());
        assert!(lookup(&[b'a'; 40]).is_none());
    }

    #[test]
    fn containers_are_exactly_the_commands_with_subcommands() {
        for c in COMMANDS {
            let has_subs = SUBCOMMANDS.iter().any(|s| s.name.split('|').next() == Some(c.name));
            assert_eq!(c.container, has_subs, "{}", c.name);
        }
    }

    #[test]
    fn command_names_are_unique_and_lowercase() {
        let mut names: Vec<_> = COMMANDS.iter().map(|c| c.name).collect();
        assert!(names.iter().all(|n| n.chars().all(|c| !c.is_ascii_uppercase())));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
    }
}
