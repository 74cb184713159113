//! One load connection: connect, TLS handshake, AUTH, then requests kept in flight up to the
//! pipeline depth, replies counted as they arrive, reconnects when churning or after a failure.

use crate::keys::{KeyGen, Op, OpCycle};
use crate::rate::Pacer;
use crate::reply::{self, Reply};
use crate::stats::Interval;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, HandshakeKind};
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

/// After a failed connection, wait this long before dialling again.
const RETRY_NS: u64 = 100_000_000;
/// Read in chunks of this much.
const READ_CHUNK: usize = 16 * 1024;

/// What every connection of a run shares.
pub struct Shared {
    pub addr: SocketAddr,
    /// The name sent in TLS connections' SNI and verified (`None`: plaintext).
    pub server_name: Option<ServerName<'static>>,
    pub pipeline: usize,
    pub key_prefix: Vec<u8>,
    pub value: Vec<u8>,
    pub auth: Option<Vec<u8>>,
    pub reconnect_interval: Option<u64>,
    /// Requests sent (paced: due) before this instant are warm-up: not counted against
    /// `--requests`, and their replies not counted once the warm-up is over.
    pub warmup_ns: u64,
    /// The end of a timed run: no request is sent at or after it (paced: none due at or after
    /// it); those sent before it are answered and counted.
    pub end_ns: Option<u64>,
    /// A connection waiting this long for its handshake or a reply is given up (`--timeout`).
    pub timeout_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Set,
    Get,
    Auth,
}

struct Pending {
    /// When it was sent, or (paced) when it was due.
    start_ns: u64,
    kind: Kind,
    /// Sent (or due) during the warm-up.
    warm: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not connected; dial at this instant.
    Down {
        at_ns: u64,
    },
    Connecting,
    Handshaking,
    Ready,
    Finished,
}

pub struct Client {
    token: Token,
    sock: Option<TcpStream>,
    tls: Option<ClientConnection>,
    /// This connection's own TLS configuration: its own resumption store, so on reconnect it
    /// resumes its own last session, as a reconnecting application would (one cache shared by
    /// 50 connections holds only 8 TLS 1.3 tickets and starves most of them).
    tls_config: Option<Arc<ClientConfig>>,
    state: State,
    connect_start_ns: u64,
    /// When the connection last moved on: dialled, handshake done, or a reply arrived.
    progress_ns: u64,
    /// Plaintext sockets: bytes not yet written.
    out: Vec<u8>,
    out_pos: usize,
    /// TLS: requests built here, then sealed in one record per batch.
    scratch: Vec<u8>,
    inbuf: Vec<u8>,
    in_start: usize,
    in_end: usize,
    pending: VecDeque<Pending>,
    sent_on_conn: u64,
    /// Measured requests still to send (`--requests`), or unlimited.
    to_send: Option<u64>,
    pacer: Option<Pacer>,
    keys: KeyGen,
    ops: OpCycle,
}

impl Client {
    pub fn new(
        token: Token,
        tls_config: Option<Arc<ClientConfig>>,
        to_send: Option<u64>,
        pacer: Option<Pacer>,
        keys: KeyGen,
        ops: OpCycle,
    ) -> Self {
        Client {
            token,
            sock: None,
            tls: None,
            tls_config,
            state: State::Down { at_ns: 0 },
            connect_start_ns: 0,
            progress_ns: 0,
            out: Vec::new(),
            out_pos: 0,
            scratch: Vec::new(),
            inbuf: vec![0; READ_CHUNK],
            in_start: 0,
            in_end: 0,
            pending: VecDeque::new(),
            sent_on_conn: 0,
            to_send,
            pacer,
            keys,
            ops,
        }
    }

    pub fn finished(&self) -> bool {
        self.state == State::Finished
    }

    /// The next instant this connection has something to do without a socket event: a
    /// scheduled request or a redial.
    pub fn wake_at(&self, sh: &Shared) -> Option<u64> {
        match self.state {
            State::Down { at_ns } => Some(at_ns),
            State::Ready if self.pending.len() < sh.pipeline => {
                self.pacer.as_ref().map(Pacer::due).filter(|&due| sh.end_ns.is_none_or(|e| due < e))
            }
            _ => None,
        }
    }

    /// A paced connection still owes requests due before the end of the run.
    fn owes(&self, sh: &Shared) -> bool {
        match (&self.pacer, sh.end_ns) {
            (Some(p), Some(e)) => p.due() < e,
            _ => false,
        }
    }

    fn close(&mut self, reg: &Registry) {
        if let Some(mut sock) = self.sock.take() {
            if let Some(tls) = self.tls.as_mut() {
                tls.send_close_notify();
                let _ = tls.write_tls(&mut sock);
            }
            let _ = reg.deregister(&mut sock);
        }
        self.tls = None;
        self.out.clear();
        self.out_pos = 0;
        self.in_start = 0;
        self.in_end = 0;
    }

    /// A connection failed: count it and what was in flight, dial again shortly.
    fn fail(&mut self, reg: &Registry, now: u64, iv: &mut Interval, kind: &str) {
        iv.error(kind);
        for p in self.pending.drain(..) {
            if p.kind != Kind::Auth {
                iv.error("lost-in-flight");
            }
        }
        self.close(reg);
        self.state = State::Down { at_ns: now + RETRY_NS };
    }

    /// Called about once a second: a connection that has waited longer than `--timeout` for
    /// its handshake or a reply is closed, its requests in flight counted as errors, and it
    /// does not come back (a silent server ends the run instead of hanging it).
    pub fn check_timeout(&mut self, reg: &Registry, sh: &Shared, now: u64, iv: &mut Interval) {
        let waiting = match self.state {
            State::Connecting | State::Handshaking => true,
            State::Ready => !self.pending.is_empty(),
            _ => false,
        };
        if waiting && now.saturating_sub(self.progress_ns) > sh.timeout_ns {
            self.fail(reg, now, iv, "timeout");
            self.state = State::Finished;
        }
    }

    fn connect(&mut self, reg: &Registry, sh: &Shared, now: u64, iv: &mut Interval) {
        self.connect_start_ns = now;
        self.progress_ns = now;
        self.sent_on_conn = 0;
        let mut sock = match TcpStream::connect(sh.addr) {
            Ok(s) => s,
            Err(_) => return self.fail(reg, now, iv, "connect"),
        };
        let _ = sock.set_nodelay(true);
        if reg.register(&mut sock, self.token, Interest::READABLE | Interest::WRITABLE).is_err() {
            return self.fail(reg, now, iv, "connect");
        }
        if let (Some(cfg), Some(name)) = (&self.tls_config, &sh.server_name) {
            match ClientConnection::new(cfg.clone(), name.clone()) {
                Ok(c) => self.tls = Some(c),
                Err(_) => return self.fail(reg, now, iv, "tls"),
            }
        }
        self.sock = Some(sock);
        self.state = State::Connecting;
    }

    /// Acts on the clock alone: redials when due, sends the requests whose time has come.
    pub fn on_time(&mut self, reg: &Registry, sh: &Shared, now: u64, iv: &mut Interval) {
        match self.state {
            State::Down { .. } => self.drive(reg, sh, now, iv),
            State::Ready
                if self.pacer.as_ref().is_some_and(|p| p.due() <= now)
                    && self.pending.len() < sh.pipeline =>
            {
                self.fill(sh, now);
                if let Err(kind) = self.flush() {
                    self.fail(reg, now, iv, kind);
                }
            }
            _ => {}
        }
    }

    /// Handles a readiness event: moves the connection on as far as it can go.
    pub fn drive(&mut self, reg: &Registry, sh: &Shared, now: u64, iv: &mut Interval) {
        if let State::Down { at_ns } = self.state {
            if at_ns > now {
                return;
            }
            if sh.end_ns.is_some_and(|e| now >= e) || self.to_send == Some(0) {
                self.state = State::Finished;
                return;
            }
            self.connect(reg, sh, now, iv);
        }
        if self.state == State::Connecting {
            let Some(sock) = self.sock.as_ref() else { return };
            match sock.take_error() {
                Ok(None) => {}
                _ => return self.fail(reg, now, iv, "connect"),
            }
            match sock.peer_addr() {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotConnected => return, // not yet
                Err(_) => return self.fail(reg, now, iv, "connect"),
            }
            if self.tls.is_some() {
                self.state = State::Handshaking;
            } else {
                self.established(sh, now, iv);
            }
        }
        if matches!(self.state, State::Handshaking | State::Ready) {
            if let Err(kind) = self.io(sh, now, iv) {
                return self.fail(reg, now, iv, kind);
            }
            if self.state == State::Ready {
                self.after_replies(reg, sh, now, iv);
            }
        }
    }

    fn established(&mut self, sh: &Shared, now: u64, iv: &mut Interval) {
        self.state = State::Ready;
        self.progress_ns = now;
        iv.handshakes += 1;
        if self.tls.as_ref().and_then(|t| t.handshake_kind()) == Some(HandshakeKind::Resumed) {
            iv.resumed += 1;
        }
        iv.handshake_latency.saturating_record(now.saturating_sub(self.connect_start_ns).max(1));
        if let Some(auth) = &sh.auth {
            self.buffer(auth);
            self.pending.push_back(Pending { start_ns: now, kind: Kind::Auth, warm: false });
        }
    }

    /// Reads what arrived, sends what is due, flushes. `Err` names the failure.
    fn io(&mut self, sh: &Shared, now: u64, iv: &mut Interval) -> Result<(), &'static str> {
        self.read(sh, now, iv)?;
        if self.state == State::Ready {
            self.fill(sh, now);
        }
        self.flush()
    }

    fn read(&mut self, sh: &Shared, now: u64, iv: &mut Interval) -> Result<(), &'static str> {
        // The socket is moved out for the loop so replies can be handled between reads.
        let Some(mut sock) = self.sock.take() else { return Ok(()) };
        let r = self.read_from(&mut sock, sh, now, iv);
        self.sock = Some(sock);
        r
    }

    fn make_room(&mut self) {
        if self.inbuf.len() - self.in_end >= READ_CHUNK {
            return;
        }
        if self.in_start > 0 {
            self.inbuf.copy_within(self.in_start..self.in_end, 0);
            self.in_end -= self.in_start;
            self.in_start = 0;
        }
        if self.inbuf.len() - self.in_end < READ_CHUNK {
            self.inbuf.resize(self.in_end + READ_CHUNK, 0);
        }
    }

    fn read_from(
        &mut self,
        sock: &mut TcpStream,
        sh: &Shared,
        now: u64,
        iv: &mut Interval,
    ) -> Result<(), &'static str> {
        loop {
            self.make_room();
            let Some(tls) = self.tls.as_mut() else {
                match sock.read(&mut self.inbuf[self.in_end..]) {
                    Ok(0) => return Err("closed-by-server"),
                    Ok(n) => self.in_end += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => return Err("connection-reset"),
                }
                self.replies(sh, now, iv)?;
                continue;
            };
            match tls.read_tls(sock) {
                Ok(0) => return Err("closed-by-server"),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return Err("connection-reset"),
            }
            tls.process_new_packets().map_err(|_| "tls")?;
            let handshake_done = self.state == State::Handshaking && !tls.is_handshaking();
            if handshake_done {
                self.established(sh, now, iv);
            }
            loop {
                self.make_room();
                let tls = self.tls.as_mut().expect("a TLS connection keeps its session while reading");
                match tls.reader().read(&mut self.inbuf[self.in_end..]) {
                    Ok(0) => return Err("closed-by-server"),
                    Ok(n) => self.in_end += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => return Err("connection-reset"),
                }
            }
            self.replies(sh, now, iv)?;
        }
    }

    fn replies(&mut self, sh: &Shared, now: u64, iv: &mut Interval) -> Result<(), &'static str> {
        while self.in_start < self.in_end {
            let buf = &self.inbuf[self.in_start..self.in_end];
            let (len, kind) = match reply::scan(buf) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(_) => return Err("protocol"),
            };
            let Some(p) = self.pending.pop_front() else { return Err("unexpected-reply") };
            self.progress_ns = now;
            if p.warm && now >= sh.warmup_ns {
                // A warm-up request answered after the warm-up: it belongs to neither.
                self.in_start += len;
                continue;
            }
            let error = if let Reply::Error { start, end } = kind {
                iv.error(if p.kind == Kind::Auth { "auth" } else { reply::error_kind(&buf[start..end]) });
                true
            } else {
                false
            };
            match p.kind {
                Kind::Auth => {}
                Kind::Set => iv.sets += 1,
                Kind::Get => {
                    iv.gets += 1;
                    // An error is neither a hit nor a miss.
                    if kind == Reply::Bulk {
                        iv.hits += 1;
                    } else if !error {
                        iv.misses += 1;
                    }
                }
            }
            if p.kind != Kind::Auth {
                iv.latency.saturating_record(now.saturating_sub(p.start_ns).max(1));
            }
            self.in_start += len;
        }
        if self.in_start == self.in_end {
            self.in_start = 0;
            self.in_end = 0;
        }
        Ok(())
    }

    fn may_send(&self, sh: &Shared, now: u64) -> bool {
        self.pending.len() < sh.pipeline
            && self.to_send != Some(0)
            && sh.reconnect_interval.is_none_or(|n| self.sent_on_conn < n)
            // Paced, the end is checked against each request's due time (in `fill`).
            && (self.pacer.is_some() || sh.end_ns.is_none_or(|e| now < e))
    }

    /// Sends requests until the pipeline is full (or, paced, until none is due).
    fn fill(&mut self, sh: &Shared, now: u64) {
        // Paced: every request due before the end is sent, late if the pipeline was full.
        let due_by = sh.end_ns.map_or(now, |e| now.min(e.saturating_sub(1)));
        while self.may_send(sh, now) {
            let start_ns = match self.pacer.as_mut() {
                Some(p) => match p.take(due_by) {
                    Some(due) => due,
                    None => break,
                },
                None => now,
            };
            let op = self.ops.next_op();
            let key = self.keys.next_key(op);
            let kind = self.encode(sh, op, key);
            let warm = start_ns < sh.warmup_ns;
            self.pending.push_back(Pending { start_ns, kind, warm });
            self.sent_on_conn += 1;
            if !warm {
                if let Some(n) = self.to_send.as_mut() {
                    *n -= 1;
                }
            }
        }
        // TLS: the batch goes to rustls in one write, so it is sealed as one record.
        if let (Some(t), false) = (self.tls.as_mut(), self.scratch.is_empty()) {
            let _ = t.writer().write_all(&self.scratch);
            self.scratch.clear();
        }
    }

    /// Writes the request into the plaintext out-buffer, or into scratch for one TLS record.
    fn encode(&mut self, sh: &Shared, op: Op, key: u64) -> Kind {
        let out = if self.tls.is_some() { &mut self.scratch } else { &mut self.out };
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(key).as_bytes();
        let mut len = itoa::Buffer::new();
        let klen = len.format(sh.key_prefix.len() + digits.len());
        let kind = match op {
            Op::Set => {
                out.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$");
                Kind::Set
            }
            Op::Get => {
                out.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$");
                Kind::Get
            }
        };
        out.extend_from_slice(klen.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&sh.key_prefix);
        out.extend_from_slice(digits);
        out.extend_from_slice(b"\r\n");
        if op == Op::Set {
            let mut vlen = itoa::Buffer::new();
            out.push(b'$');
            out.extend_from_slice(vlen.format(sh.value.len()).as_bytes());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&sh.value);
            out.extend_from_slice(b"\r\n");
        }
        kind
    }

    fn buffer(&mut self, bytes: &[u8]) {
        match self.tls.as_mut() {
            // rustls seals what it is given straight into records queued for write_tls.
            Some(t) => {
                let _ = t.writer().write_all(bytes);
            }
            None => self.out.extend_from_slice(bytes),
        }
    }

    fn flush(&mut self) -> Result<(), &'static str> {
        let Some(sock) = self.sock.as_mut() else { return Ok(()) };
        if let Some(tls) = self.tls.as_mut() {
            while tls.wants_write() {
                match tls.write_tls(sock) {
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => return Err("connection-reset"),
                }
            }
            return Ok(());
        }
        while self.out_pos < self.out.len() {
            match sock.write(&self.out[self.out_pos..]) {
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err("connection-reset"),
            }
        }
        self.out.clear();
        self.out_pos = 0;
        Ok(())
    }

    /// After replies: reconnect when the connection has served its share, finish when the
    /// requests are done.
    fn after_replies(&mut self, reg: &Registry, sh: &Shared, now: u64, iv: &mut Interval) {
        if !self.pending.is_empty() {
            return;
        }
        if self.to_send == Some(0) || (sh.end_ns.is_some_and(|e| now >= e) && !self.owes(sh)) {
            self.close(reg);
            self.state = State::Finished;
        } else if sh.reconnect_interval.is_some_and(|n| self.sent_on_conn >= n) {
            self.close(reg);
            self.connect(reg, sh, now, iv);
            self.drive(reg, sh, now, iv);
        }
    }

    /// At the end of a timed run: a connection with requests in flight (or, paced, still owing
    /// requests due before the end) carries on until they are answered, so every request sent
    /// in the measured time is counted; the others finish here.
    pub fn at_end(&mut self, reg: &Registry, sh: &Shared) {
        let carry_on = match self.state {
            State::Ready => !self.pending.is_empty() || self.owes(sh),
            State::Connecting | State::Handshaking => self.owes(sh),
            _ => false,
        };
        if !carry_on {
            self.close(reg);
            self.pending.clear();
            self.state = State::Finished;
        }
    }
}
