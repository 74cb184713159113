//! One client connection: its transport (sniffing, plaintext or TLS) and its request state.
//!
//! Copies on the request path, and why each remains:
//! - TLS, read: rustls opens records in the buffer the kernel filled (no copy of the
//!   ciphertext), then moves each record's plaintext into a `Vec` of its own (rustls 0.23).
//!   We parse and execute straight from that plaintext; only the tail of a request cut across
//!   records is copied into the query buffer.
//! - Plaintext, read: requests are parsed and executed where the kernel put them; only a cut
//!   request's tail is copied into the query buffer.
//! - A partial TLS record (ciphertext) is copied into `tls_in` until its rest arrives: a record
//!   must be whole to be opened.
//! - Replies are encoded once into the reply buffer. TLS seals them from there; rustls 0.23
//!   builds each record in a buffer of its own and copies it into the send buffer (one copy
//!   and one allocation per record, see `cachet_tls::session`). Plaintext hands the reply
//!   buffer over by swapping it with the empty send buffer (no copy).
//!
use crate::cmd;
use crate::node::{ClientHandle, Live, Node, WorkerStats};
use cachet_resp::{Limits, Parsed, Protocol, ReplyWriter, RequestParser};
use cachet_runtime::Flow;
use cachet_tls::{is_tls_record_start, HandshakeFailure, Phase, TlsMode, TlsSession};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Replies pending (not yet sent) at which a connection stops executing further requests until
/// they have left. One receive buffer can hold hundreds of pipelined GETs of a large value; this
/// bounds what a client that does not read its replies can make the node hold (Redis's default
/// `client-output-buffer-limit normal 0 0 0` does not bound it at all).
pub const REPLY_STALL: usize = 1024 * 1024;

const MAX_CLIENTS_ERROR: &[u8] = b"-ERR max number of clients reached\r\n";

/// Which kind of port a connection arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortKind {
    /// `port`: what it speaks depends on `transit-encryption-mode`.
    Main,
    /// `tls-port`: TLS only, whatever the mode (as in Redis).
    Tls,
}

/// How bytes on the connection are to be read.
pub enum Transport {
    /// Nothing has arrived yet. The first byte decides between TLS and plaintext
    /// ([`is_tls_record_start`]) against the mode captured at accept; the caller MUST feed
    /// that first chunk through [`Conn::receive`], which settles the transport.
    Sniffing { mode: TlsMode },
    /// Plaintext RESP.
    Plain,
    /// TLS. Until the session's phase is `Open`, received bytes only advance the handshake.
    Tls(Box<TlsSession>),
}

/// Per-connection request state: everything a command may read or change.
pub struct ClientState {
    pub handle: Arc<ClientHandle>,
    pub worker: usize,
    pub proto: Protocol,
    pub db: usize,
    pub authenticated: bool,
    /// The ACL user (the default user until AUTH), and the ACL epoch it was read at.
    pub user: Arc<crate::acl::User>,
    pub user_epoch: u64,
    /// `user.unrestricted()`, kept here so the request path reads no other cache line.
    pub unrestricted: bool,
    /// Close once the replies pending now have been sent (QUIT, protocol error, kill).
    pub closing: bool,
    /// Execution stopped with requests left in the query buffer because [`REPLY_STALL`] bytes
    /// of replies were pending; resumed once they have been sent.
    pub stalled: bool,
    /// The connection was over `maxclients` when it arrived: its first words get
    /// `-ERR max number of clients reached`, then it is closed.
    pub over_limit: bool,
    pub last_active: Instant,
    /// Inside MULTI: the queued commands.
    pub multi: Option<crate::cmd::tx::Multi>,
    /// WATCHed keys: (db, key, hash, version when watched).
    pub watched: Vec<crate::cmd::tx::Watched>,
    /// The runtime's slot number for this connection (how other workers poke it).
    pub slot: usize,
    /// Blocked on keys (BLPOP and friends): nothing else runs until it is served or times out.
    pub blocked: Option<crate::cmd::blocking::Blocked>,
    /// While retrying a blocked command: its original deadline, so a retry does not extend it.
    pub retry_deadline: Option<Option<Instant>>,
    /// Running EXEC's queue: blocking commands must not block there.
    pub in_exec: bool,
    /// Subscribed channels and patterns.
    pub subs: std::collections::BTreeSet<Vec<u8>>,
    pub psubs: std::collections::BTreeSet<Vec<u8>>,
    /// Subscribed shard channels (SSUBSCRIBE).
    pub ssubs: std::collections::BTreeSet<Vec<u8>>,
    /// MONITOR: every command the node runs is sent here.
    pub monitor: bool,
    /// CLIENT REPLY OFF / SKIP (Redis's CLIENT_REPLY_OFF, _SKIP_NEXT, _SKIP flags).
    pub reply_off: bool,
    pub reply_skip_next: bool,
    pub reply_skip: bool,
    /// Requests wait in the query buffer because of CLIENT PAUSE.
    pub paused: bool,
    /// This batch's cheap commands (ids), whose time is shared out when it ends, and the time
    /// of its individually timed ones (see `cmd::finish_batch`).
    pub batch_fast: Vec<u32>,
    pub batch_timed: u64,
    /// The last command name resolved (see `cmd::NameCache`).
    pub name_cache: crate::cmd::NameCache,
    /// This is a replica's connection (after SYNC/PSYNC): the stream is pulled into it when
    /// poked ([`crate::replication::Repl::pull`]), and `repl_more` says more is due once the
    /// output drains.
    pub replica_link: bool,
    pub repl_more: bool,
    /// REPLCONF listening-port.
    pub repl_port: u16,
    /// This is a replica's link to its primary: its commands are the primary's stream (never
    /// refused as writes, never propagated again, blind to expiry).
    pub master_link: bool,
    /// What the running command propagates instead of itself (see `Ctx::propagate`).
    pub prop: Vec<u8>,
    pub prop_custom: bool,
    /// Inside EXEC: what the queued commands propagate, with their databases.
    pub exec_prop: Vec<(usize, Vec<u8>)>,
    /// WAIT in progress: nothing else runs until it is answered.
    pub wait: Option<crate::cmd::repl::Wait>,
}

impl ClientState {
    pub fn new(node: &Node, handle: Arc<ClientHandle>, worker: usize, over_limit: bool) -> Self {
        let user = node.acl.default_user();
        ClientState {
            handle,
            worker,
            proto: Protocol::Resp2,
            db: 0,
            authenticated: node.acl.default_open(),
            unrestricted: user.unrestricted(),
            user,
            user_epoch: node.acl.epoch(),
            closing: false,
            stalled: false,
            over_limit,
            last_active: Instant::now(),
            multi: None,
            watched: Vec::new(),
            slot: usize::MAX,
            blocked: None,
            retry_deadline: None,
            in_exec: false,
            subs: Default::default(),
            psubs: Default::default(),
            ssubs: Default::default(),
            monitor: false,
            reply_off: false,
            reply_skip_next: false,
            reply_skip: false,
            paused: false,
            batch_fast: Vec::new(),
            batch_timed: 0,
            name_cache: Default::default(),
            replica_link: false,
            repl_more: false,
            repl_port: 0,
            master_link: false,
            prop: Vec::new(),
            prop_custom: false,
            exec_prop: Vec::new(),
            wait: None,
        }
    }

    /// Waiting for something (keys for a blocking command, replicas for WAIT): requests
    /// behind it wait their turn.
    pub fn waiting(&self) -> bool {
        self.blocked.is_some() || self.wait.is_some()
    }
}

pub struct Conn {
    transport: Transport,
    port: PortKind,
    /// A TLS record cut by the network: kept until its rest arrives (see module docs).
    tls_in: Vec<u8>,
    /// Bytes produced while reading that go out before any reply: handshake records, alerts,
    /// refusals.
    wire_out: Vec<u8>,
    parser: RequestParser,
    /// Plaintext of a request cut across reads.
    query: Vec<u8>,
    /// Encoded replies not yet sealed/sent.
    replies: Vec<u8>,
    pub state: ClientState,
    accepted: Instant,
    /// A TLS close_notify has been queued: it is sent once, after the last replies.
    close_notify_sent: bool,
}

impl Conn {
    pub fn new(
        port: PortKind,
        node: &Node,
        handle: Arc<ClientHandle>,
        worker: usize,
        over_limit: bool,
    ) -> Self {
        let live = node.live();
        let mode = match port {
            PortKind::Tls => TlsMode::Required,
            PortKind::Main => live.mode,
        };
        let now = Instant::now();
        let mut conn = Conn {
            transport: Transport::Sniffing { mode },
            port,
            tls_in: Vec::new(),
            wire_out: Vec::new(),
            parser: RequestParser::new(),
            query: Vec::new(),
            replies: Vec::new(),
            state: ClientState::new(node, handle, worker, over_limit),
            accepted: now,
            close_notify_sent: false,
        };
        // A plaintext-only port can refuse at once, as Redis does, before the client speaks.
        if over_limit && mode == TlsMode::Disabled {
            conn.transport = Transport::Plain;
            conn.refuse_over_limit();
        }
        conn
    }

    pub fn id(&self) -> u64 {
        self.state.handle.id
    }

    pub fn port(&self) -> PortKind {
        self.port
    }

    fn is_handshaking(&self) -> bool {
        match &self.transport {
            Transport::Sniffing { .. } => true,
            Transport::Tls(s) => s.phase() == Phase::Handshaking,
            Transport::Plain => false,
        }
    }

    fn refuse_over_limit(&mut self) {
        self.wire_out.extend_from_slice(MAX_CLIENTS_ERROR);
        self.state.closing = true;
    }

    /// Bytes arrived; see [`Transport`] for what happens in each state.
    pub fn receive(&mut self, node: &Node, ws: &WorkerStats, data: &mut [u8]) -> Flow {
        if self.state.closing {
            return self.flow();
        }
        if data.is_empty() {
            // A poke from another worker or from the runtime: deliver messages published for
            // this client; retry a blocked command (its key may have been filled); and, once
            // nothing blocks, run the requests waiting in the query buffer (behind the blocked
            // command, or set aside after a stall).
            if self.state.user_epoch != node.acl.epoch() && !crate::acl::revalidate(node, &mut self.state) {
                // The user was deleted, or may no longer use a channel it is subscribed to.
                self.state.closing = true;
                return self.flow();
            }
            if crate::cmd::pubsub::subscribed(&self.state) || self.state.monitor {
                crate::cmd::pubsub::deliver(&self.state, self.state.proto, &mut self.replies);
            }
            if self.state.replica_link {
                self.pull_stream(node);
            }
            if self.state.wait.is_some()
                && crate::cmd::repl::wait_check(node, &mut self.state, &mut self.replies, None)
            {
                self.state.stalled = true;
            }
            let was_blocked = self.state.blocked.is_some();
            if was_blocked {
                crate::cmd::blocking::retry(node, ws, &mut self.state, &mut self.replies);
            }
            if self.state.blocked.is_none() && (was_blocked || self.state.stalled || self.state.paused) {
                self.consume(node, ws, &[]);
            }
            return self.flow();
        }
        if let Transport::Sniffing { mode } = self.transport {
            let tls = is_tls_record_start(data[0]);
            match (mode, tls) {
                (TlsMode::Disabled, true) => {
                    node.stats.tls_refused.fetch_add(1, Relaxed);
                    self.wire_out.extend_from_slice(cachet_tls::HANDSHAKE_FAILURE_ALERT);
                    self.state.closing = true;
                    return Flow::Close;
                }
                (TlsMode::Required, false) => {
                    node.stats.plaintext_refused.fetch_add(1, Relaxed);
                    self.wire_out.extend_from_slice(cachet_tls::TLS_REQUIRED_ERROR);
                    self.state.closing = true;
                    return Flow::Close;
                }
                (_, true) => match TlsSession::new(node.live().tls.clone()) {
                    Ok(s) => self.transport = Transport::Tls(Box::new(s)),
                    Err(_) => {
                        node.tls_stats.failure(HandshakeFailure::Other);
                        self.state.closing = true;
                        return Flow::Close;
                    }
                },
                (_, false) => {
                    node.stats.plaintext_connections.fetch_add(1, Relaxed);
                    self.transport = Transport::Plain;
                    if self.state.over_limit {
                        self.refuse_over_limit();
                        return Flow::Close;
                    }
                }
            }
        }
        match &mut self.transport {
            Transport::Plain => {
                ws.net_input_bytes.fetch_add(data.len() as u64, Relaxed);
                self.consume(node, ws, data);
            }
            Transport::Tls(session) => {
                let was_handshaking = session.phase() == Phase::Handshaking;
                // With `tls-auth-clients-user CN`, requests that arrive with the handshake's
                // last flight wait until the certificate has logged the client in.
                let defer = was_handshaking && node.live().tls_auth_clients_user_cn;
                let mut deferred = Vec::new();
                let (parser, query, replies, state) =
                    (&mut self.parser, &mut self.query, &mut self.replies, &mut self.state);
                let mut on_plaintext = |p: &[u8]| {
                    ws.net_input_bytes.fetch_add(p.len() as u64, Relaxed);
                    if defer {
                        deferred.extend_from_slice(p);
                    } else {
                        consume(node, ws, parser, query, replies, state, p);
                    }
                };
                let result = if self.tls_in.is_empty() {
                    // The common case: open the records where the kernel put them.
                    let r = session.read(data, &mut self.wire_out, &mut on_plaintext);
                    if let Ok(r) = &r {
                        self.tls_in.extend_from_slice(&data[r.discard..]);
                    }
                    r
                } else {
                    self.tls_in.extend_from_slice(data);
                    let r = session.read(&mut self.tls_in, &mut self.wire_out, &mut on_plaintext);
                    if let Ok(r) = &r {
                        self.tls_in.drain(..r.discard);
                    }
                    r
                };
                match result {
                    Ok(r) => {
                        if r.handshake_completed {
                            node.tls_stats.completed(
                                session.resumed(),
                                session.protocol_version(),
                                session.cipher_suite(),
                            );
                            if session.peer_certificates().is_some() {
                                node.tls_stats.client_certificates.fetch_add(1, Relaxed);
                            }
                            self.state.handle.tls.store(true, Relaxed);
                            if defer {
                                certificate_login(node, &mut self.state, session.peer_certificates());
                            }
                            if self.state.over_limit {
                                // Sealed with the replies, so the client can read it.
                                self.replies.extend_from_slice(MAX_CLIENTS_ERROR);
                                self.state.closing = true;
                            }
                        }
                        if matches!(session.phase(), Phase::PeerClosed | Phase::Closed) {
                            self.state.closing = true;
                        }
                        if !deferred.is_empty() {
                            consume(
                                node,
                                ws,
                                &mut self.parser,
                                &mut self.query,
                                &mut self.replies,
                                &mut self.state,
                                &deferred,
                            );
                        }
                    }
                    Err(e) => {
                        if was_handshaking {
                            node.tls_stats.failure(HandshakeFailure::from_error(&e));
                        }
                        tracing::debug!(client = self.state.handle.id, error = %e, "TLS failure");
                        self.state.closing = true;
                    }
                }
            }
            Transport::Sniffing { .. } => unreachable!("settled above"),
        }
        self.flow()
    }

    /// A replica's connection: takes what the stream has for it (see `Repl::pull`).
    fn pull_stream(&mut self, node: &Node) {
        if self.state.handle.killed.load(Relaxed) {
            self.state.closing = true;
            return;
        }
        match node.repl.pull(self.state.handle.id, &mut self.replies) {
            crate::replication::Pull::Done => self.state.repl_more = false,
            crate::replication::Pull::More => self.state.repl_more = true,
            crate::replication::Pull::Gone => self.state.closing = true,
        }
    }

    /// Whether the runtime should call back once the output has drained.
    pub fn wants_drain_callback(&self) -> bool {
        self.state.stalled || self.state.repl_more
    }

    /// Plaintext that arrived (or, with nothing, the query buffer's backlog) through
    /// [`consume`]. The TLS path calls `consume` itself, from inside the session's read.
    fn consume(&mut self, node: &Node, ws: &WorkerStats, data: &[u8]) {
        consume(node, ws, &mut self.parser, &mut self.query, &mut self.replies, &mut self.state, data);
    }

    fn flow(&self) -> Flow {
        if self.state.closing {
            Flow::Close
        } else {
            Flow::Continue
        }
    }

    /// Appends everything due to `out`: handshake records first, then this turn's replies,
    /// sealed into as few TLS records as fit.
    pub fn flush(&mut self, ws: &WorkerStats, out: &mut Vec<u8>) -> Flow {
        if !self.wire_out.is_empty() {
            out.extend_from_slice(&self.wire_out);
            self.wire_out.clear();
        }
        if !self.replies.is_empty() {
            ws.net_output_bytes.fetch_add(self.replies.len() as u64, Relaxed);
            match &mut self.transport {
                Transport::Plain => {
                    if out.is_empty() {
                        std::mem::swap(out, &mut self.replies);
                    } else {
                        out.extend_from_slice(&self.replies);
                        self.replies.clear();
                    }
                }
                Transport::Tls(session) => {
                    if session.encrypt(&mut self.tls_in, &self.replies, out).is_err() {
                        self.state.closing = true;
                    }
                    self.replies.clear();
                }
                Transport::Sniffing { .. } => self.replies.clear(),
            }
        }
        // Closing on purpose (QUIT, timeout, kill, shutdown): end the TLS session cleanly after
        // the last replies, so the client sees an end of stream, not a truncation.
        if self.state.closing && !self.close_notify_sent {
            if let Transport::Tls(session) = &mut self.transport {
                if matches!(session.phase(), Phase::Open | Phase::PeerClosed) {
                    session.close_notify(&mut self.tls_in, out);
                    self.close_notify_sent = true;
                }
            }
        }
        self.flow()
    }

    /// Housekeeping: kills, blocked-command timeouts, handshake timeouts, idle timeouts.
    pub fn tick(&mut self, node: &Node, now: Instant) -> Flow {
        if self.state.handle.killed.load(Relaxed) {
            self.state.closing = true;
            return Flow::Close;
        }
        if self.state.replica_link {
            // A replica is not idle in the sense of `timeout`; its link ends when it closes or
            // falls too far behind.
            return Flow::Continue;
        }
        if self.state.wait.is_some() {
            if crate::cmd::repl::wait_check(node, &mut self.state, &mut self.replies, Some(now)) {
                self.state.stalled = true;
                return Flow::Flush;
            }
            return Flow::Continue;
        }
        if crate::cmd::blocking::expire(node, &mut self.state, &mut self.replies, now) {
            // The timeout reply is ready; requests behind the blocked one resume once it has
            // been sent (the backlog path).
            self.state.stalled = true;
            return Flow::Flush;
        }
        if self.state.blocked.is_some() {
            // A blocked client is not idle in the sense of `timeout`.
            return Flow::Continue;
        }
        if self.state.paused && node.paused(node.now_ms()).is_none() {
            // The pause ended: run what waited (the backlog path).
            self.state.stalled = true;
            return Flow::Flush;
        }
        let live = node.live();
        if self.is_handshaking()
            && now.duration_since(self.accepted) > Duration::from_secs(live.handshake_timeout_secs)
        {
            if matches!(self.transport, Transport::Tls(_)) {
                node.tls_stats.failure(HandshakeFailure::Timeout);
            }
            self.state.closing = true;
            return Flow::Close;
        }
        if live.timeout_secs > 0
            && !self.is_handshaking()
            && now.duration_since(self.state.last_active) > Duration::from_secs(live.timeout_secs)
        {
            self.state.closing = true;
            return Flow::Close;
        }
        Flow::Continue
    }

    /// The peer went away.
    pub fn peer_closed(&mut self, node: &Node) {
        if self.is_handshaking() && matches!(self.transport, Transport::Tls(_)) {
            node.tls_stats.failure(HandshakeFailure::PeerClosed);
        }
        self.state.closing = true;
    }

    /// The node is stopping: replies already due, then TLS close_notify.
    pub fn goodbye(&mut self, ws: &WorkerStats, out: &mut Vec<u8>) {
        self.state.closing = true;
        self.flush(ws, out);
    }
}

/// Parses and executes every complete request in `data` (plaintext), keeping a cut request's
/// tail in `query`. When `query` already holds the start of a request, `data` is appended to
/// it first, so the parser always sees a request from its first byte.
fn consume(
    node: &Node,
    ws: &WorkerStats,
    parser: &mut RequestParser,
    query: &mut Vec<u8>,
    replies: &mut Vec<u8>,
    state: &mut ClientState,
    data: &[u8],
) {
    if state.closing {
        return;
    }
    if state.over_limit {
        // Only reachable on a plaintext connection in `preferred` mode that sent its first
        // bytes together with a request: refuse without executing it.
        return;
    }
    let live = node.live();
    if state.waiting() {
        // Requests behind a blocked one wait their turn, as in Redis.
        query.extend_from_slice(data);
        if query.len() > live.client_query_buffer_limit {
            state.closing = true;
        }
        return;
    }
    if query.is_empty() {
        let used = execute_all(node, ws, &live, parser, replies, state, data);
        query.extend_from_slice(&data[used..]);
    } else {
        query.extend_from_slice(data);
        let used = execute_all(node, ws, &live, parser, replies, state, query);
        query.drain(..used);
    }
    // Redis closes a client whose query buffer passes the limit, without a reply.
    if query.len() > live.client_query_buffer_limit {
        tracing::warn!(
            client = state.handle.id,
            bytes = query.len(),
            "closing client that reached max query buffer length"
        );
        state.closing = true;
    }
}

/// Executes complete requests from the front of `buf`; returns the bytes consumed.
fn execute_all(
    node: &Node,
    ws: &WorkerStats,
    live: &Live,
    parser: &mut RequestParser,
    replies: &mut Vec<u8>,
    state: &mut ClientState,
    buf: &[u8],
) -> usize {
    let mut pos = 0;
    // The clock is read once per batch: a pipeline of 16 requests shares one reading.
    let now_ms = node.now_ms();
    let batch_start = crate::clock::ticks();
    state.last_active = Instant::now();
    // CLIENT LIST's `idle`: once per batch.
    state.handle.last_active_ms.store(now_ms, Relaxed);
    state.stalled = false;
    if state.paused {
        state.paused = false;
        state.handle.paused.store(false, Relaxed);
    }
    if buf.len() >= PREFETCH_MIN_BYTES && state.authenticated {
        prefetch_batch(
            node,
            state.db,
            &mut state.name_cache,
            buf,
            &Limits { max_bulk_len: live.proto_max_bulk_len, authenticated: state.authenticated },
        );
    }
    while !state.closing && pos < buf.len() {
        if replies.len() >= REPLY_STALL {
            state.stalled = true;
            break;
        }
        let limits = Limits { max_bulk_len: live.proto_max_bulk_len, authenticated: state.authenticated };
        match parser.parse(&buf[pos..], &limits) {
            Ok(Parsed::Incomplete) => break,
            Ok(Parsed::Request { consumed }) => {
                let args = parser.args(&buf[pos..]);
                if !args.is_empty() {
                    if let Some(all) = node.paused(now_ms) {
                        if cmd::waits_for_pause(&args, all) {
                            // CLIENT PAUSE: leave it in the buffer; the tick (or UNPAUSE's
                            // poke) resumes it.
                            state.paused = true;
                            state.handle.paused.store(true, Relaxed);
                            break;
                        }
                    }
                    let mark = replies.len();
                    cmd::execute(
                        &mut cmd::Ctx { node, ws, live, state, out: replies, now_ms, batched: true },
                        args,
                    );
                    // CLIENT REPLY OFF/SKIP: the reply is dropped, as Redis never writes it.
                    if state.reply_off || state.reply_skip {
                        replies.truncate(mark);
                    }
                    state.reply_skip = std::mem::take(&mut state.reply_skip_next);
                }
                pos += consumed;
                if state.waiting() {
                    break;
                }
            }
            Err(e) => {
                let mut w = ReplyWriter::new(replies, state.proto);
                w.error(format!("ERR {}", e.message()).as_bytes());
                cmd::count_error(ws, "ERR");
                state.closing = true;
                // Nothing after a protocol error is read, as in Redis.
                cmd::finish_batch(ws, state, batch_start);
                return buf.len();
            }
        }
    }
    cmd::finish_batch(ws, state, batch_start);
    pos
}

/// A batch shorter than this is one or two requests: not worth reading ahead.
const PREFETCH_MIN_BYTES: usize = 128;

/// After a batch found the keyspace small enough to stay in cache, this many batches of the
/// worker skip the read-ahead before it looks again.
const PREFETCH_BACKOFF: u32 = 1024;

thread_local! {
    /// Parses ahead of execution for [`prefetch_batch`]; one per worker thread.
    static LOOKAHEAD: std::cell::RefCell<RequestParser> = std::cell::RefCell::new(RequestParser::new());
    /// Batches still to skip (see [`PREFETCH_BACKOFF`]).
    static PREFETCH_SKIP: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Before a pipeline runs: the keys of its complete requests (those whose command's first key
/// is its first argument) are handed to [`cachet_store::Keyspace::prefetch`], so their lookups'
/// cache misses overlap instead of each command waiting for its own. Parsing here is a
/// read-ahead only: errors and incomplete requests end it, and execution parses again.
/// Names go through the connection's own name cache, which execution then finds warm.
fn prefetch_batch(node: &Node, db: usize, names: &mut cmd::NameCache, buf: &[u8], limits: &Limits) {
    let skip = PREFETCH_SKIP.get();
    if skip > 0 {
        PREFETCH_SKIP.set(skip - 1);
        return;
    }
    LOOKAHEAD.with_borrow_mut(|p| {
        let mut hashes = [0u64; 32];
        let (mut n, mut pos, mut parsed) = (0, 0, 0);
        // At most 32 keys, and a bounded read-ahead over requests without one (PINGs).
        while n < hashes.len() && parsed < 2 * hashes.len() && pos < buf.len() {
            let Ok(Parsed::Request { consumed }) = p.parse(&buf[pos..], limits) else { break };
            parsed += 1;
            let args = p.args(&buf[pos..]);
            let keyed = |i: usize| cmd::COMMANDS[i].first_key == 1;
            if args.len() >= 2 && cmd::lookup_cached(args.get(0), names).is_some_and(keyed) {
                hashes[n] = node.keyspace.hash(args.get(1));
                n += 1;
            }
            pos += consumed;
        }
        p.reset();
        if n >= 2 && !node.keyspace.prefetch(db, &hashes[..n]) {
            PREFETCH_SKIP.set(PREFETCH_BACKOFF);
        }
    });
}

/// `tls-auth-clients-user CN`: when the client's certificate names an enabled ACL user in its
/// subject CN, the connection starts logged in as that user (no AUTH needed). Otherwise it
/// stays as any other connection (the default user, AUTH as usual).
fn certificate_login(
    node: &Node,
    state: &mut ClientState,
    certs: Option<&[rustls::pki_types::CertificateDer<'static>]>,
) {
    let Some(cn) = certs.and_then(|c| c.first()).and_then(|c| crate::acl::certificate_cn(c)) else {
        return;
    };
    match node.acl.get(&cn) {
        Some(user) if user.enabled => {
            tracing::debug!(client = state.handle.id, user = %cn, "logged in by client certificate");
            crate::acl::login(node, state, user);
        }
        _ => {
            tracing::debug!(client = state.handle.id, cn = %cn, "client certificate CN names no enabled user")
        }
    }
}
