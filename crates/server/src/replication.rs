//! Replication, the primary's half: the write stream, the backlog, the replicas attached to
//! this node, and the snapshots that start them. (The replica's half, the link to a primary,
//! is in [`crate::replica`].)
//!
//! **The stream.** Every write is appended to the backlog as the command a replica must run
//! (deterministic forms: see `cmd::propagate`), preceded by SELECT when its database differs
//! from the stream's. The backlog is one byte queue shared by every replica (as in Redis 7): a
//! replica is a position in it. It keeps at least `repl-backlog-size` bytes for partial
//! resynchronisation, and whatever an attached replica has not been sent yet, up to
//! `client-output-buffer-limit replica` (past that the replica is dropped and must resync).
//!
//! **Order.** A write appends while it still holds its keys' stripes (the request path locks
//! them before running the command when the stream is on), so for any key the stream's order
//! is the order the primary applied its writes in. Expiry and eviction append their DEL from
//! under the stripe lock too (`cachet_store::RemovalHook`).
//!
//! **Switching the stream on.** Until a replica first attaches there is no backlog and the
//! request path pays one relaxed load. Switching on must not lose a write that had already
//! decided not to propagate: [`Repl::activate`] sets the flag, then waits until every worker
//! has passed a point between requests; only then is a snapshot's offset taken.
//!
//! **Snapshots** are made on a thread of their own, a stripe at a time
//! (`Keyspace::begin_snapshot`): the offset is read with every stripe locked for an instant,
//! then each stripe is serialised by whoever locks it first (a writer about to change it, or
//! the snapshot thread walking them), so the file is the keyspace as of that offset, and
//! writes after it are in the stream, exactly once.

use crate::node::{ClientHandle, Node};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard};

/// Bytes of RDB or stream handed to a replica's connection per loop turn; the rest follows as
/// its output drains.
pub const PULL_CHUNK: usize = 1 << 20;

/// Where an attached replica is (INFO's `state=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Waiting for the next snapshot to begin (`wait_bgsave`).
    WaitSnapshot,
    /// A snapshot for it is being made; its stream starts at the snapshot's offset.
    Snapshotting,
    /// Receiving the snapshot (`send_bulk`).
    SendBulk,
    /// Receiving the stream (`online`).
    Online,
}

impl LinkState {
    fn name(self) -> &'static str {
        match self {
            LinkState::WaitSnapshot | LinkState::Snapshotting => "wait_bgsave",
            LinkState::SendBulk => "send_bulk",
            LinkState::Online => "online",
        }
    }
}

/// A replica attached to this node.
struct Link {
    handle: Arc<ClientHandle>,
    state: LinkState,
    /// The replica asked with PSYNC (answered `+FULLRESYNC ...` before the file), not SYNC.
    psync: bool,
    /// `+FULLRESYNC ...` and `$<len>` and the file, while being sent.
    bulk: Option<Arc<Vec<u8>>>,
    bulk_sent: usize,
    /// The next stream position to send.
    sent: u64,
    /// The offset the replica last acknowledged (REPLCONF ACK) and when (Unix ms).
    ack: u64,
    ack_ms: u64,
    /// REPLCONF listening-port.
    port: u16,
    /// A poke is on its way to the connection.
    poked: bool,
}

struct Inner {
    replid: String,
    replid2: String,
    /// The first offset replid2 is no longer valid for (-1: none).
    second_offset: i64,
    backlog: Backlog,
    backlog_size: usize,
    /// `client-output-buffer-limit replica` hard limit (0: none).
    obuf_hard: usize,
    /// The database the stream's last command ran in (None: unknown, SELECT first).
    stream_db: Option<usize>,
    links: Vec<Link>,
    /// A snapshot thread is running.
    snapshotting: bool,
    /// Clients in WAIT: (worker, slot) to poke when an ACK arrives.
    waiters: Vec<(usize, usize)>,
    /// The backlog exists (INFO repl_backlog_active).
    backlog_active: bool,
    /// When the stream last carried a PING (Unix ms).
    last_ping_ms: u64,
    /// This node's ID and offset name a history another node may share: it has been a
    /// primary with a stream, or a replica that synchronised (PSYNC then offers them).
    history: bool,
}

/// The stream bytes kept, from stream position `start` to the master offset: one Vec with a
/// dead prefix. Trimming advances `head`; the live part moves to the front only once the dead
/// part is the larger half. So an append is one copy, and any range is one slice.
#[derive(Default)]
struct Backlog {
    buf: Vec<u8>,
    head: usize,
    start: u64,
}

impl Backlog {
    fn len(&self) -> usize {
        self.buf.len() - self.head
    }

    fn end(&self) -> u64 {
        self.start + self.len() as u64
    }

    /// Forgets everything before stream position `from` (at most up to the end).
    fn trim_to(&mut self, from: u64) {
        if from <= self.start {
            return;
        }
        let to = from.min(self.end());
        self.head += (to - self.start) as usize;
        self.start = to;
        if self.head >= 64 * 1024 && self.head >= self.buf.len() / 2 {
            self.buf.drain(..self.head);
            self.head = 0;
        }
    }

    /// Stream positions `from..to`, which MUST be held.
    fn range(&self, from: u64, to: u64) -> &[u8] {
        let a = self.head + (from - self.start) as usize;
        &self.buf[a..a + (to - from) as usize]
    }

    /// Empty, the next byte being stream position `at`.
    fn reset(&mut self, at: u64) {
        self.buf.clear();
        self.head = 0;
        self.start = at;
    }
}

impl Inner {
    fn end(&self) -> u64 {
        self.backlog.end()
    }

    /// Appends stream bytes; SELECT first when `db` differs from the stream's.
    fn append(&mut self, db: Option<usize>, bytes: &[u8]) {
        if let Some(db) = db {
            if self.stream_db != Some(db) {
                let mut sel = Vec::with_capacity(24);
                encode(&mut sel, &[b"SELECT", db.to_string().as_bytes()]);
                self.backlog.buf.extend_from_slice(&sel);
                self.stream_db = Some(db);
            }
        }
        self.backlog.buf.extend_from_slice(bytes);
    }

    /// After appending: drops replicas that fell past their buffer limit, trims the backlog
    /// to what is still needed, and pokes the replicas that have something new.
    fn settle(&mut self, node: &Node) {
        let end = self.end();
        let hard = self.obuf_hard as u64;
        self.links.retain_mut(|l| {
            let streaming = matches!(l.state, LinkState::SendBulk | LinkState::Online);
            if streaming && hard > 0 && end - l.sent > hard {
                tracing::warn!(
                    replica = %l.handle.addr,
                    pending = end - l.sent,
                    "replica output buffer over client-output-buffer-limit; dropping it (it will resync)"
                );
                l.handle.killed.store(true, Relaxed);
                node.poke(l.handle.worker, l.handle.slot.load(Relaxed));
                return false;
            }
            true
        });
        let mut keep_from = end.saturating_sub(self.backlog_size as u64);
        for l in &self.links {
            if l.state != LinkState::WaitSnapshot {
                keep_from = keep_from.min(l.sent);
            }
        }
        self.backlog.trim_to(keep_from);
        for l in &mut self.links {
            if l.state == LinkState::Online && l.sent < end && !l.poked {
                l.poked = true;
                node.poke(l.handle.worker, l.handle.slot.load(Relaxed));
            }
        }
    }

    fn link(&mut self, id: u64) -> Option<&mut Link> {
        self.links.iter_mut().find(|l| l.handle.id == id)
    }
}

/// RESP multibulk encoding of a command (what the stream carries).
pub fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    let mut w = cachet_resp::ReplyWriter::new(out, cachet_resp::Protocol::Resp2);
    w.array(args.len());
    args.iter().for_each(|a| w.bulk(a));
}

/// What [`Repl::pull`] left for the connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Pull {
    /// Everything due has been handed over.
    Done,
    /// More is due: pull again once the output has drained.
    More,
    /// The replica is no longer attached (dropped): close the connection.
    Gone,
}

/// The answer to a PSYNC.
pub enum PsyncReply {
    /// `+CONTINUE <replid>`: the stream follows from the replica's offset.
    Continue(String),
    /// A full synchronisation: the connection waits for a snapshot.
    Full,
}

/// INFO stats: `sync_full`, `sync_partial_ok`, `sync_partial_err`.
#[derive(Default)]
pub struct SyncStats {
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
}

pub struct Repl {
    pub stats: SyncStats,
    /// The stream is on: writes propagate. Read on every write; changes once.
    active: AtomicBool,
    inner: Mutex<Inner>,
    /// Per worker: bumped between requests (see [`Repl::activate`]).
    turns: Box<[AtomicU64]>,
    /// Held by whoever applies the primary's stream on a replica (one command at a time,
    /// with its bytes appended), and by a snapshot while it takes its offset.
    pub apply: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Repl {
    pub fn new(workers: usize, replid: String, backlog_size: usize, obuf_hard: usize) -> Self {
        Repl {
            stats: SyncStats::default(),
            active: AtomicBool::new(false),
            inner: Mutex::new(Inner {
                replid,
                replid2: "0".repeat(40),
                second_offset: -1,
                backlog: Backlog::default(),
                backlog_size,
                obuf_hard,
                stream_db: None,
                links: Vec::new(),
                snapshotting: false,
                waiters: Vec::new(),
                backlog_active: false,
                last_ping_ms: crate::node::unix_ms(),
                history: false,
            }),
            turns: (0..workers.max(1)).map(|_| AtomicU64::new(0)).collect(),
            apply: Mutex::new(()),
        }
    }

    /// Whether writes must be propagated.
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Relaxed)
    }

    /// Called by worker `index` between requests.
    #[inline]
    pub fn turn(&self, index: usize) {
        if let Some(t) = self.turns.get(index) {
            t.fetch_add(1, Relaxed);
        }
    }

    /// Switches the stream on (once). Returns after every worker has finished the request it
    /// was running when the switch happened, so no write that saw the stream off is still in
    /// progress: from then on the keyspace and the stream agree.
    pub fn activate(&self, node: &Node) {
        if self.active.load(SeqCst) {
            return;
        }
        Self::install_removal_hook(node);
        if self.active.swap(true, SeqCst) {
            return;
        }
        {
            let mut g = lock(&self.inner);
            g.backlog_active = true;
            g.history = true;
        }
        let before: Vec<u64> = self.turns.iter().map(|t| t.load(SeqCst)).collect();
        for i in 0..self.turns.len() {
            node.waker(i).wake();
        }
        for (i, b) in before.iter().enumerate() {
            while self.turns[i].load(SeqCst) == *b {
                std::thread::sleep(std::time::Duration::from_millis(1));
                node.waker(i).wake();
            }
        }
    }

    /// The replica keyspace's stream is on from the start (it mirrors its primary's).
    pub fn activate_as_replica(&self, node: &Node) {
        Self::install_removal_hook(node);
        self.active.store(true, SeqCst);
        lock(&self.inner).backlog_active = true;
    }

    /// Appends a write (RESP-encoded, one or more commands) run in `db`.
    pub fn feed(&self, node: &Node, db: usize, bytes: &[u8]) {
        let mut g = lock(&self.inner);
        g.append(Some(db), bytes);
        g.settle(node);
    }

    /// Appends a transaction's writes as MULTI ... EXEC, each with the database it ran in.
    pub fn feed_transaction(&self, node: &Node, items: &[(usize, Vec<u8>)]) {
        let mut g = lock(&self.inner);
        let mut multi = Vec::new();
        encode(&mut multi, &[b"MULTI"]);
        g.append(None, &multi);
        for (db, bytes) in items {
            g.append(Some(*db), bytes);
        }
        multi.clear();
        encode(&mut multi, &[b"EXEC"]);
        g.append(None, &multi);
        g.settle(node);
    }

    /// Appends bytes of the primary's stream as they came (a replica's own backlog mirrors its
    /// primary's byte for byte, offsets included).
    pub fn feed_raw(&self, node: &Node, bytes: &[u8]) {
        let mut g = lock(&self.inner);
        g.append(None, bytes);
        g.stream_db = None;
        g.settle(node);
    }

    /// Expired and evicted keys reach replicas as DEL: a hook the keyspace calls under the
    /// stripe lock of each removal. Installed when the stream first goes on (until then a
    /// removal costs nothing extra), before the flag, so no removal after it is missed.
    fn install_removal_hook(node: &Node) {
        let weak = Arc::downgrade(&node.self_arc());
        node.keyspace.set_removal_hook(Some(Arc::new(move |db, key: &[u8]| {
            let Some(node) = weak.upgrade() else { return };
            if node.repl.active() && !node.is_replica() {
                let mut b = Vec::with_capacity(key.len() + 24);
                encode(&mut b, &[b"DEL", key]);
                node.repl.feed(&node, db, &b);
            }
        })));
    }

    /// Whether this node has a stream history a primary could continue (PSYNC with our ID).
    pub fn has_history(&self) -> bool {
        lock(&self.inner).history
    }

    /// Housekeeping (worker 0's tick): a primary with replicas PINGs them through the stream
    /// every `repl-ping-replica-period` (10 s), so an idle primary does not look gone.
    pub fn cron(&self, node: &Node) {
        if !self.active() || node.is_replica() {
            return;
        }
        let mut g = lock(&self.inner);
        let now = crate::node::unix_ms();
        if g.links.is_empty() || now < g.last_ping_ms + 10_000 {
            return;
        }
        g.last_ping_ms = now;
        let mut b = Vec::new();
        encode(&mut b, &[b"PING"]);
        g.append(None, &b);
        g.settle(node);
    }

    /// master_repl_offset.
    pub fn offset(&self) -> u64 {
        lock(&self.inner).end()
    }

    pub fn replid(&self) -> String {
        lock(&self.inner).replid.clone()
    }

    /// Handles PSYNC `replid offset` from a replica on connection `handle`: a partial
    /// resynchronisation when the backlog still holds everything from `offset` under that ID
    /// (or under the previous ID, up to where it ended), else a full one.
    ///
    /// Offsets in the protocol count from 1 (Redis numbers the stream's bytes 1, 2, ...; a
    /// replica that has `n` bytes asks for `n + 1`); positions here count from 0.
    pub fn psync(
        &self,
        node: &Node,
        handle: &Arc<ClientHandle>,
        replid: &str,
        offset: i64,
        port: u16,
    ) -> PsyncReply {
        let mut g = lock(&self.inner);
        let end = g.end();
        let id_ok = replid == g.replid || (replid == g.replid2 && offset <= g.second_offset);
        let pos = offset - 1;
        if g.backlog_active && id_ok && pos >= 0 && (pos as u64) >= g.backlog.start && (pos as u64) <= end {
            let offset = pos;
            g.links.retain(|l| l.handle.id != handle.id);
            g.links.push(Link {
                handle: handle.clone(),
                state: LinkState::Online,
                psync: true,
                bulk: None,
                bulk_sent: 0,
                sent: offset as u64,
                ack: offset as u64,
                ack_ms: crate::node::unix_ms(),
                port,
                poked: false,
            });
            return PsyncReply::Continue(g.replid.clone());
        }
        drop(g);
        self.full_sync(node, handle, true, port);
        PsyncReply::Full
    }

    /// Attaches a replica that needs a snapshot (PSYNC that cannot continue, or SYNC), and
    /// starts the snapshot thread unless one is running (it serves everyone waiting).
    pub fn full_sync(&self, node: &Node, handle: &Arc<ClientHandle>, psync: bool, port: u16) {
        let mut g = lock(&self.inner);
        g.links.retain(|l| l.handle.id != handle.id);
        g.links.push(Link {
            handle: handle.clone(),
            state: LinkState::WaitSnapshot,
            psync,
            bulk: None,
            bulk_sent: 0,
            sent: 0,
            ack: 0,
            ack_ms: 0,
            port,
            poked: false,
        });
        if !g.snapshotting {
            g.snapshotting = true;
            drop(g);
            let node = node.self_arc();
            let spawned = std::thread::Builder::new().name("cachet-snapshot".into()).spawn(move || {
                snapshot_loop(&node);
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start the snapshot thread");
                let mut g = lock(&self.inner);
                g.snapshotting = false;
                g.links.retain(|l| l.state != LinkState::WaitSnapshot);
            }
        }
    }

    /// Hands connection `id` what is due to it (up to [`PULL_CHUNK`]), appending to `out`.
    pub fn pull(&self, id: u64, out: &mut Vec<u8>) -> Pull {
        let mut g = lock(&self.inner);
        let (start, end) = (g.backlog.start, g.end());
        let Some(idx) = g.links.iter().position(|l| l.handle.id == id) else { return Pull::Gone };
        let mut budget = PULL_CHUNK;
        let inner = &mut *g;
        let (links, backlog) = (&mut inner.links, &inner.backlog);
        let l = &mut links[idx];
        l.poked = false;
        match l.state {
            LinkState::WaitSnapshot | LinkState::Snapshotting => return Pull::Done,
            LinkState::SendBulk => {
                let bulk = l.bulk.clone().expect("a bulk while sending it");
                let n = (bulk.len() - l.bulk_sent).min(budget);
                out.extend_from_slice(&bulk[l.bulk_sent..l.bulk_sent + n]);
                l.bulk_sent += n;
                budget -= n;
                if l.bulk_sent < bulk.len() {
                    return Pull::More;
                }
                l.bulk = None;
                l.state = LinkState::Online;
                l.ack_ms = crate::node::unix_ms();
                tracing::info!(replica = %l.handle.addr, "synchronisation with replica succeeded");
            }
            LinkState::Online => {}
        }
        if l.sent < start {
            return Pull::Gone;
        }
        let to = end.min(l.sent + budget as u64);
        out.extend_from_slice(backlog.range(l.sent, to));
        l.sent = to;
        if l.sent < end {
            Pull::More
        } else {
            Pull::Done
        }
    }

    /// REPLCONF ACK from replica `id`; pokes clients waiting in WAIT.
    pub fn ack(&self, node: &Node, id: u64, offset: u64) {
        let mut g = lock(&self.inner);
        if let Some(l) = g.link(id) {
            l.ack = l.ack.max(offset);
            l.ack_ms = crate::node::unix_ms();
        }
        for (w, s) in std::mem::take(&mut g.waiters) {
            node.poke(w, s);
        }
    }

    /// Replicas that have acknowledged `offset`.
    pub fn acked(&self, offset: u64) -> usize {
        lock(&self.inner).links.iter().filter(|l| l.state == LinkState::Online && l.ack >= offset).count()
    }

    /// WAIT: asks every replica for an acknowledgement, and remembers to poke `waiter` when
    /// one arrives.
    pub fn wait_for_acks(&self, node: &Node, waiter: (usize, usize), ask: bool) {
        let mut g = lock(&self.inner);
        if !g.waiters.contains(&waiter) {
            g.waiters.push(waiter);
        }
        if ask {
            let mut b = Vec::new();
            encode(&mut b, &[b"REPLCONF", b"GETACK", b"*"]);
            g.append(None, &b);
            g.settle(node);
        }
    }

    /// A replica's connection closed.
    pub fn detach(&self, id: u64) {
        lock(&self.inner).links.retain(|l| l.handle.id != id);
    }

    /// Drops every attached replica (this node's data was replaced: they must resync).
    pub fn drop_all(&self, node: &Node) {
        let mut g = lock(&self.inner);
        for l in g.links.drain(..) {
            l.handle.killed.store(true, Relaxed);
            node.poke(l.handle.worker, l.handle.slot.load(Relaxed));
        }
    }

    /// How many replicas are attached.
    pub fn connected(&self) -> usize {
        lock(&self.inner).links.len()
    }

    /// A new history after a full sync from a primary: its ID and offset, an empty backlog.
    pub fn reset_history(&self, replid: &str, offset: u64) {
        let mut g = lock(&self.inner);
        g.replid = replid.to_string();
        g.replid2 = "0".repeat(40);
        g.second_offset = -1;
        g.backlog.reset(offset);
        g.stream_db = None;
        g.history = true;
    }

    /// The primary continued under a new ID (it was promoted): keep the old one as replid2,
    /// valid up to `offset`.
    pub fn switch_id(&self, new_id: &str) {
        let mut g = lock(&self.inner);
        if g.replid != new_id {
            let end = g.end();
            g.replid2 = std::mem::replace(&mut g.replid, new_id.to_string());
            g.second_offset = end as i64 + 1;
        }
    }

    /// Promotion (REPLICAOF NO ONE): a new ID, the old one kept as replid2 so the other
    /// replicas of the old primary can continue from this node (PSYNC2).
    pub fn promote(&self) {
        let mut g = lock(&self.inner);
        let end = g.end();
        g.replid2 = std::mem::replace(&mut g.replid, crate::node::random_hex(40));
        g.second_offset = end as i64 + 1;
        g.stream_db = None;
    }

    /// INFO replication's fields about this node's stream and replicas.
    pub fn info_primary(&self, o: &mut String) {
        use std::fmt::Write;
        let g = lock(&self.inner);
        let end = g.end();
        let _ = write!(o, "connected_slaves:{}\r\n", g.links.len());
        let now = crate::node::unix_ms();
        for (i, l) in g.links.iter().enumerate() {
            let ip = l.handle.addr.rsplit_once(':').map_or(l.handle.addr.as_str(), |(ip, _)| ip);
            let _ = write!(
                o,
                "slave{i}:ip={ip},port={},state={},offset={},lag={}\r\n",
                l.port,
                l.state.name(),
                l.ack,
                now.saturating_sub(l.ack_ms) / 1000
            );
        }
        let _ = write!(
            o,
            "master_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\n\
             master_repl_offset:{end}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\n\
             repl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
            g.replid,
            g.replid2,
            g.second_offset,
            g.backlog_active as u8,
            g.backlog_size,
            if g.backlog_active { g.backlog.start + 1 } else { 0 },
            g.backlog.len(),
        );
    }

    /// ROLE's replica list: (ip, port, acknowledged offset) of each online replica.
    pub fn role_replicas(&self) -> Vec<(String, u16, u64)> {
        let g = lock(&self.inner);
        g.links
            .iter()
            .filter(|l| l.state == LinkState::Online)
            .map(|l| {
                let ip =
                    l.handle.addr.rsplit_once(':').map_or(l.handle.addr.clone(), |(ip, _)| ip.to_string());
                (ip, l.port, l.ack)
            })
            .collect()
    }

    pub fn set_limits(&self, backlog_size: usize, obuf_hard: usize) {
        let mut g = lock(&self.inner);
        g.backlog_size = backlog_size;
        g.obuf_hard = obuf_hard;
    }

    /// Moves the replicas waiting for a snapshot into the one beginning at `offset`.
    fn take_waiting(&self, offset: u64) {
        for l in &mut lock(&self.inner).links {
            if l.state == LinkState::WaitSnapshot {
                l.state = LinkState::Snapshotting;
                l.sent = offset;
                l.ack = offset;
            }
        }
    }
}

/// The snapshot thread: serves every replica waiting for a snapshot, one snapshot for all
/// those waiting when it begins, until none waits.
fn snapshot_loop(node: &Arc<Node>) {
    let repl = &node.repl;
    loop {
        {
            let mut g = lock(&repl.inner);
            if !g.links.iter().any(|l| l.state == LinkState::WaitSnapshot) {
                g.snapshotting = false;
                return;
            }
        }
        repl.activate(node);
        let t0 = std::time::Instant::now();
        let (rdb, offset, replid) = make_snapshot(node);
        let mut g = lock(&repl.inner);
        let mut served = 0;
        let header = format!("${}\r\n", rdb.len());
        for l in &mut g.links {
            if l.state != LinkState::Snapshotting {
                continue;
            }
            let mut bulk = Vec::with_capacity(rdb.len() + 80);
            if l.psync {
                bulk.extend_from_slice(format!("+FULLRESYNC {replid} {offset}\r\n").as_bytes());
            }
            bulk.extend_from_slice(header.as_bytes());
            bulk.extend_from_slice(&rdb);
            l.bulk = Some(Arc::new(bulk));
            l.bulk_sent = 0;
            l.state = LinkState::SendBulk;
            l.poked = true;
            node.poke(l.handle.worker, l.handle.slot.load(Relaxed));
            served += 1;
        }
        drop(g);
        tracing::info!(
            bytes = rdb.len(),
            offset,
            replicas = served,
            ms = t0.elapsed().as_millis() as u64,
            "snapshot for replication made, a stripe at a time"
        );
    }
}

/// The keyspace as an RDB file as of a stream offset, without stopping writers: returns
/// (file, offset, replication ID).
fn make_snapshot(node: &Arc<Node>) -> (Vec<u8>, u64, String) {
    let ks = &node.keyspace;
    let dbs = ks.databases();
    let writer: Arc<Mutex<Option<cachet_repl::RdbWriter>>> = Arc::new(Mutex::new(None));
    let sink_writer = writer.clone();
    // A replica's keys past their time are still data (its primary has not deleted them yet).
    let replica = node.is_replica();
    let sink: cachet_store::SnapshotSink = Box::new(move |stripe: &cachet_store::Stripe| {
        let mut g = lock(&sink_writer);
        let Some(w) = g.as_mut() else { return };
        let now = if replica { 0 } else { crate::node::unix_ms() };
        for db in 0..dbs {
            if stripe.is_empty(db) {
                continue;
            }
            w.select_db_only(db);
            stripe.for_each_live(db, now, |k, e| w.key(k, &e.value, e.expire_at_ms));
        }
    });
    // A replica applies its primary's stream under `apply`: taking it first makes the offset
    // below fall between two of the primary's commands.
    let apply = lock(&node.repl.apply);
    let used = node.used_memory();
    let (offset, replid) = ks.begin_snapshot(sink, || {
        let (offset, replid) = {
            let g = lock(&node.repl.inner);
            (g.end(), g.replid.clone())
        };
        let off = offset.to_string();
        *lock(&writer) = Some(cachet_repl::RdbWriter::new(
            crate::node::unix_ms() / 1000,
            used,
            &[("repl-stream-db", b"0"), ("repl-id", replid.as_bytes()), ("repl-offset", off.as_bytes())],
        ));
        node.repl.take_waiting(offset);
        (offset, replid)
    });
    drop(apply);
    ks.finish_snapshot();
    let w = lock(&writer).take().expect("made at the start");
    (w.finish(), offset, replid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_keeps_positions_across_trims_and_compaction() {
        let mut b = Backlog::default();
        b.reset(100);
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for chunk in data.chunks(1000) {
            b.buf.extend_from_slice(chunk);
        }
        assert_eq!(b.end(), 200_100);
        b.trim_to(50); // before the start: nothing
        assert_eq!((b.start, b.len()), (100, 200_000));
        b.trim_to(150_100); // past half: the live part moves to the front
        assert_eq!(b.head, 0);
        assert_eq!(b.range(150_100, 150_110), &data[150_000..150_010]);
        b.buf.extend_from_slice(b"tail");
        assert_eq!(b.range(200_100, 200_104), b"tail");
        b.trim_to(u64::MAX); // never past the end
        assert_eq!((b.start, b.len()), (200_104, 0));
    }
}
