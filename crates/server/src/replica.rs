//! Replication, the replica's half: the link to a primary (`replicaof`, `REPLICAOF`).
//!
//! The link runs on a thread of its own with blocking I/O (it is one connection, mostly
//! waiting for the primary): it connects (over TLS with `tls-replication yes`, verifying the
//! primary's certificate against `tls-ca-cert-file` and the name it dialled, presenting its own
//! certificate), authenticates (`masteruser`/`masterauth`), asks to continue where it left off
//! (`PSYNC <replid> <offset+1>`) and otherwise loads the snapshot the primary sends, then
//! applies the stream. Every command of the stream runs under `Repl::apply` and its bytes go
//! to this node's own backlog unchanged, so this node's offsets are its primary's and its own
//! replicas, or the others after a promotion, can continue from it (PSYNC2). The TLS client
//! configuration is kept across reconnections, so a reconnection resumes the TLS session.

use crate::conn::ClientState;
use crate::node::Node;
use cachet_resp::{Limits, Parsed, RequestParser};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Where the link is (ROLE's state word).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkStatus {
    /// Not connected; will try again.
    Connect,
    /// Connecting and handshaking.
    Connecting,
    /// Receiving the snapshot.
    Sync,
    /// Applying the stream.
    Connected,
}

impl LinkStatus {
    pub fn role_word(self) -> &'static str {
        match self {
            LinkStatus::Connect => "connect",
            LinkStatus::Connecting => "connecting",
            LinkStatus::Sync => "sync",
            LinkStatus::Connected => "connected",
        }
    }
}

struct SideState {
    target: Option<(String, u16)>,
    status: LinkStatus,
    last_io_ms: u64,
    down_since_ms: u64,
}

/// This node as a replica: whether it is one, of whom, and how its link is.
pub struct ReplicaSide {
    is: AtomicBool,
    /// Bumped by every REPLICAOF: a link thread of an older generation stops.
    gen: AtomicU64,
    st: Mutex<SideState>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Default for ReplicaSide {
    fn default() -> Self {
        ReplicaSide {
            is: AtomicBool::new(false),
            gen: AtomicU64::new(0),
            st: Mutex::new(SideState {
                target: None,
                status: LinkStatus::Connect,
                last_io_ms: 0,
                down_since_ms: 0,
            }),
        }
    }
}

impl ReplicaSide {
    pub fn is_replica(&self) -> bool {
        self.is.load(Relaxed)
    }

    fn set_status(&self, s: LinkStatus) {
        let mut g = lock(&self.st);
        if s != LinkStatus::Connected && g.status == LinkStatus::Connected {
            g.down_since_ms = crate::node::unix_ms();
        }
        g.status = s;
    }

    fn touch(&self) {
        lock(&self.st).last_io_ms = crate::node::unix_ms();
    }

    /// (host, port, status) when this node is a replica.
    pub fn target(&self) -> Option<(String, u16, LinkStatus)> {
        let g = lock(&self.st);
        g.target.as_ref().map(|(h, p)| (h.clone(), *p, g.status))
    }

    /// INFO replication's replica fields (up to `slave_repl_offset`, and the link's age).
    pub fn info(&self, o: &mut String, offset: u64) {
        use std::fmt::Write;
        let g = lock(&self.st);
        let Some((host, port)) = &g.target else { return };
        let now = crate::node::unix_ms();
        let up = g.status == LinkStatus::Connected;
        let _ = write!(
            o,
            "master_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:{}\r\n\
             master_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\n\
             slave_read_repl_offset:{offset}\r\nslave_repl_offset:{offset}\r\n",
            if up { "up" } else { "down" },
            if up { (now.saturating_sub(g.last_io_ms) / 1000) as i64 } else { -1 },
            (g.status == LinkStatus::Sync) as u8,
        );
        if !up {
            let since =
                if g.down_since_ms == 0 { -1 } else { (now.saturating_sub(g.down_since_ms) / 1000) as i64 };
            let _ = write!(o, "master_link_down_since_seconds:{since}\r\n");
        }
    }
}

impl Node {
    pub fn is_replica(&self) -> bool {
        self.replica.is_replica()
    }

    /// REPLICAOF host port (Some) or NO ONE (None). Returns false when already replicating
    /// from that primary (nothing changes).
    pub fn set_primary(&self, target: Option<(String, u16)>) -> bool {
        let side = &self.replica;
        // Taken so that no command of the old stream is applied after the switch.
        let apply = lock(&self.repl.apply);
        let mut g = lock(&side.st);
        if g.target == target && target.is_some() {
            return false;
        }
        let gen = side.gen.fetch_add(1, SeqCst) + 1;
        let was = side.is.load(Relaxed);
        g.target = target.clone();
        g.status = LinkStatus::Connect;
        g.down_since_ms = crate::node::unix_ms();
        drop(g);
        match target {
            Some((host, port)) => {
                side.is.store(true, SeqCst);
                self.keyspace.set_keep_expired(true);
                self.repl.activate_as_replica(self);
                // Our replicas must learn of the change (they will continue from us if they can).
                self.repl.drop_all(self);
                drop(apply);
                tracing::info!(%host, port, "replicating from a primary");
                let node = self.self_arc();
                let spawned = std::thread::Builder::new()
                    .name("cachet-replica".into())
                    .spawn(move || link_thread(node, gen, host, port));
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "cannot start the replication link thread");
                }
            }
            None => {
                side.is.store(false, SeqCst);
                if was {
                    self.repl.promote();
                    self.keyspace.set_keep_expired(false);
                    self.repl.drop_all(self);
                    tracing::info!("promoted to primary: new replication ID, the old one kept as replid2");
                }
                drop(apply);
            }
        }
        true
    }
}

/// The link, on its thread, until REPLICAOF changes the generation.
fn link_thread(node: Arc<Node>, gen: u64, host: String, port: u16) {
    let side = &node.replica;
    // Kept across reconnections: its session store lets the next handshake resume.
    let mut tls: Option<Arc<rustls::ClientConfig>> = None;
    while side.gen.load(SeqCst) == gen {
        side.set_status(LinkStatus::Connecting);
        match session(&node, gen, &host, port, &mut tls) {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(%host, port, error = %e, "replication link to the primary failed; retrying")
            }
        }
        side.set_status(LinkStatus::Connect);
        for _ in 0..10 {
            if side.gen.load(SeqCst) != gen {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// The connection to the primary with a read buffer.
struct Link {
    s: Stream,
    buf: Vec<u8>,
    pos: usize,
    /// No byte for this long ends the link (`repl-timeout`).
    timeout: Duration,
    /// The addresses, for CLIENT LIST.
    peer: String,
    local: String,
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
}

impl Link {
    fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let mut b = Vec::new();
        crate::replication::encode(&mut b, args);
        self.s.write_all(&b).and_then(|_| self.s.flush()).map_err(|e| format!("write: {e}"))
    }

    /// One read into the buffer; Ok(0) when the read timed out (the socket's timeout is short).
    fn fill(&mut self) -> Result<usize, String> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let mut chunk = [0u8; 64 * 1024];
        match self.s.read(&mut chunk) {
            Ok(0) => Err("the primary closed the connection".into()),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
            Err(e) if timed_out(&e) => Ok(0),
            Err(e) => Err(format!("read: {e}")),
        }
    }

    /// Reads until `ready` finds what it wants in the unread bytes, or the link times out.
    fn wait_for<T>(&mut self, mut ready: impl FnMut(&[u8]) -> Option<(T, usize)>) -> Result<T, String> {
        let mut last = Instant::now();
        loop {
            if let Some((v, used)) = ready(&self.buf[self.pos..]) {
                self.pos += used;
                return Ok(v);
            }
            if self.fill()? > 0 {
                last = Instant::now();
            } else if last.elapsed() > self.timeout {
                return Err("timeout talking to the primary".into());
            }
        }
    }

    /// One reply line (without CRLF); a bare `\n` (the primary's keep-alive while it prepares
    /// a snapshot) is skipped.
    fn line(&mut self) -> Result<Vec<u8>, String> {
        self.wait_for(|b| {
            let skip = b.iter().take_while(|&&c| c == b'\n').count();
            let rest = &b[skip..];
            let end = rest.windows(2).position(|w| w == b"\r\n")?;
            Some((rest[..end].to_vec(), skip + end + 2))
        })
    }

    /// Exactly `n` bytes.
    fn bytes(&mut self, n: usize) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(n.min(1 << 30));
        let mut last = Instant::now();
        while out.len() < n {
            let avail = self.buf.len() - self.pos;
            if avail > 0 {
                let take = avail.min(n - out.len());
                out.extend_from_slice(&self.buf[self.pos..self.pos + take]);
                self.pos += take;
                last = Instant::now();
                continue;
            }
            if self.fill()? == 0 && last.elapsed() > self.timeout {
                return Err("timeout receiving the snapshot".into());
            }
        }
        Ok(out)
    }

    /// Bytes up to an end mark (a diskless snapshot sent as `$EOF:<mark>`), without the mark.
    fn until_mark(&mut self, mark: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut last = Instant::now();
        loop {
            out.extend_from_slice(&self.buf[self.pos..]);
            self.pos = self.buf.len();
            if out.ends_with(mark) {
                out.truncate(out.len() - mark.len());
                return Ok(out);
            }
            if self.fill()? > 0 {
                last = Instant::now();
            } else if last.elapsed() > self.timeout {
                return Err("timeout receiving the snapshot".into());
            }
        }
    }

    /// A simple reply: Ok(text after `+`) or Err(the error line).
    fn reply(&mut self) -> Result<Result<String, String>, String> {
        let l = self.line()?;
        let text = String::from_utf8_lossy(&l).into_owned();
        Ok(match l.first() {
            Some(b'+') => Ok(text[1..].to_string()),
            _ => Err(text),
        })
    }
}

/// The TLS client configuration for the link: trusts `tls-ca-cert-file`, presents
/// `tls-client-cert-file`/`-key-file` (else the server's own certificate).
fn tls_client(cfg: &crate::Config) -> Result<Arc<rustls::ClientConfig>, String> {
    let ca = cfg
        .tls_ca_cert_file
        .as_ref()
        .ok_or("tls-replication needs tls-ca-cert-file to verify the primary")?;
    let pair = match (&cfg.tls_client_cert_file, &cfg.tls_client_key_file) {
        (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
        _ => match (&cfg.tls_cert_file, &cfg.tls_key_file) {
            (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
            _ => None,
        },
    };
    cachet_tls::client_config(ca, pair).map_err(|e| e.to_string())
}

fn connect(
    cfg: &crate::Config,
    host: &str,
    port: u16,
    tls: &mut Option<Arc<rustls::ClientConfig>>,
) -> Result<(Stream, String, String), String> {
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let tcp =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let peer = tcp.peer_addr().map(|a| crate::worker::addr_text(&a)).unwrap_or_default();
    let local = tcp.local_addr().map(|a| crate::worker::addr_text(&a)).unwrap_or_default();
    tcp.set_read_timeout(Some(Duration::from_millis(200))).map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(Duration::from_secs(cfg.repl_timeout.max(1)))).map_err(|e| e.to_string())?;
    if !cfg.tls_replication {
        return Ok((Stream::Plain(tcp), peer, local));
    }
    if tls.is_none() {
        *tls = Some(tls_client(cfg)?);
    }
    let config = tls.clone().expect("set above");
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|_| format!("{host} is not a valid server name"))?;
    let conn = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    // Complete the handshake now, so a certificate problem is reported as one.
    let start = Instant::now();
    while s.conn.is_handshaking() {
        match s.conn.complete_io(&mut s.sock) {
            Ok(_) => {}
            Err(e) if timed_out(&e) && start.elapsed() < Duration::from_secs(10) => {}
            Err(e) => return Err(format!("TLS handshake with the primary: {e}")),
        }
    }
    tracing::info!(
        resumed = matches!(s.conn.handshake_kind(), Some(rustls::HandshakeKind::Resumed)),
        "TLS link to the primary"
    );
    Ok((Stream::Tls(Box::new(s)), peer, local))
}

/// One connection to the primary: handshake, synchronisation, then the stream until the link
/// fails or the generation changes (Ok).
fn session(
    node: &Arc<Node>,
    gen: u64,
    host: &str,
    port: u16,
    tls: &mut Option<Arc<rustls::ClientConfig>>,
) -> Result<(), String> {
    let cfg = node.config();
    let (s, peer, local) = connect(&cfg, host, port, tls)?;
    let timeout = Duration::from_secs(cfg.repl_timeout.max(1));
    let mut link = Link { s, buf: Vec::new(), pos: 0, timeout, peer, local };
    node.replica.touch();
    link.send(&[b"PING"])?;
    if let Err(e) = link.reply()? {
        // An error that only says authentication comes next is fine (as in Redis).
        if !(e.starts_with("-NOAUTH")
            || e.starts_with("-NOPERM")
            || e.starts_with("-ERR operation not permitted"))
        {
            return Err(format!("the primary answered PING with {e}"));
        }
    }
    if let Some(pass) = &cfg.masterauth {
        match &cfg.masteruser {
            Some(user) => link.send(&[b"AUTH", user.as_bytes(), pass.as_bytes()])?,
            None => link.send(&[b"AUTH", pass.as_bytes()])?,
        }
        if let Err(e) = link.reply()? {
            return Err(format!("authentication with the primary failed: {e}"));
        }
    }
    let my_port = if node.port() != 0 { node.port() } else { node.tls_port() };
    link.send(&[b"REPLCONF", b"listening-port", my_port.to_string().as_bytes()])?;
    let _ = link.reply()?;
    link.send(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])?;
    let _ = link.reply()?;
    // Continue our own history if we have one (after a restart of the link, or as a former
    // primary now following another): the primary decides whether it can.
    let (replid, offset) = (node.repl.replid(), node.repl.offset());
    let has_history = node.repl.has_history();
    let psync_off = (offset + 1).to_string();
    if has_history {
        link.send(&[b"PSYNC", replid.as_bytes(), psync_off.as_bytes()])?;
    } else {
        link.send(&[b"PSYNC", b"?", b"-1"])?;
    }
    let answer = match link.reply()? {
        Ok(a) => a,
        Err(e) => return Err(format!("the primary refused PSYNC: {e}")),
    };
    let mut words = answer.split_whitespace();
    match words.next() {
        Some("FULLRESYNC") => {
            let id = words.next().ok_or("FULLRESYNC without an ID")?.to_string();
            let off: u64 = words.next().and_then(|o| o.parse().ok()).ok_or("FULLRESYNC without an offset")?;
            node.replica.set_status(LinkStatus::Sync);
            let head = link.line()?;
            let rdb = if let Some(mark) = head.strip_prefix(b"$EOF:") {
                let mark = mark.to_vec();
                link.until_mark(&mark)?
            } else {
                let n: usize =
                    std::str::from_utf8(head.strip_prefix(b"$").ok_or("expected the snapshot's length")?)
                        .ok()
                        .and_then(|n| n.parse().ok())
                        .ok_or("bad snapshot length")?;
                link.bytes(n)?
            };
            load_snapshot(node, gen, &rdb, &id, off)?;
            tracing::info!(bytes = rdb.len(), replid = %id, offset = off, "full synchronisation with the primary done");
        }
        Some("CONTINUE") => {
            if let Some(id) = words.next() {
                node.repl.switch_id(id);
            }
            tracing::info!(offset, "partial resynchronisation with the primary accepted");
        }
        _ => return Err(format!("unexpected PSYNC answer: {answer}")),
    }
    node.replica.set_status(LinkStatus::Connected);
    node.replica.touch();
    stream(node, gen, &mut link)
}

/// Replaces the dataset with a snapshot from the primary and starts this node's history at
/// the primary's ID and offset.
fn load_snapshot(node: &Arc<Node>, gen: u64, rdb: &[u8], replid: &str, offset: u64) -> Result<(), String> {
    let limits = node.live().rdb_limits();
    let (keys, _aux) =
        cachet_repl::load_rdb(rdb, &limits).map_err(|e| format!("the primary's snapshot: {e:?}"))?;
    let _apply = lock(&node.repl.apply);
    if node.replica.gen.load(SeqCst) != gen {
        return Ok(());
    }
    let ks = &node.keyspace;
    let dbs = ks.databases();
    ks.exec(None, move || {
        ks.flush(None);
        for k in keys {
            if k.db >= dbs {
                continue;
            }
            let h = ks.hash(&k.key);
            ks.stripe(h).set(k.db, h, &k.key, k.value, k.expire_at_ms, 0);
        }
    });
    node.repl.reset_history(replid, offset);
    // Our own replicas held the old data: they start over from us.
    node.repl.drop_all(node);
    Ok(())
}

/// Applies the primary's stream, acknowledging every second and when asked.
fn stream(node: &Arc<Node>, gen: u64, link: &mut Link) -> Result<(), String> {
    let (handle, _) = node.register_client(0, link.peer.clone(), link.local.clone());
    handle.kind.store(crate::node::KIND_MASTER, Relaxed);
    let mut state = ClientState::new(node, handle.clone(), 0, false);
    state.authenticated = true;
    state.unrestricted = true;
    state.master_link = true;
    let r = apply_loop(node, gen, link, &mut state);
    crate::cmd::tx::unwatch_all(node, &mut state);
    node.unregister_client(handle.id);
    r
}

fn apply_loop(node: &Arc<Node>, gen: u64, link: &mut Link, state: &mut ClientState) -> Result<(), String> {
    let mut parser = RequestParser::new();
    let mut sink = Vec::new();
    let mut last_ack = Instant::now();
    let mut last_io = Instant::now();
    loop {
        if node.replica.gen.load(SeqCst) != gen {
            return Ok(());
        }
        if state.handle.killed.load(Relaxed) {
            return Err("the link was killed (CLIENT KILL)".into());
        }
        // Every complete command of what has arrived is applied under one hold of `apply`,
        // and its bytes go to this node's backlog in one append.
        let live = node.live();
        let limits = Limits { max_bulk_len: live.proto_max_bulk_len, authenticated: true };
        let mut ack_due = None;
        {
            let _apply = lock(&node.repl.apply);
            if node.replica.gen.load(SeqCst) != gen {
                return Ok(());
            }
            let mut unfed = link.pos;
            loop {
                let data = &link.buf[link.pos..];
                let consumed = match parser.parse(data, &limits) {
                    Ok(Parsed::Incomplete) => break,
                    Ok(Parsed::Request { consumed }) => consumed,
                    Err(e) => return Err(format!("protocol error in the primary's stream: {}", e.message())),
                };
                let args = parser.args(data);
                if args.len() >= 2
                    && args.get(0).eq_ignore_ascii_case(b"replconf")
                    && args.get(1).eq_ignore_ascii_case(b"getack")
                {
                    // Answered with the offset before this command, as Redis does.
                    node.repl.feed_raw(node, &link.buf[unfed..link.pos]);
                    unfed = link.pos;
                    ack_due = Some(node.repl.offset());
                } else if !args.is_empty() {
                    let ws = &node.worker_stats[0];
                    let mut ctx = crate::cmd::Ctx {
                        node,
                        ws,
                        live: &live,
                        state,
                        out: &mut sink,
                        now_ms: 0,
                        batched: false,
                    };
                    crate::cmd::execute(&mut ctx, args);
                    sink.clear();
                }
                link.pos += consumed;
            }
            if unfed < link.pos {
                node.repl.feed_raw(node, &link.buf[unfed..link.pos]);
            }
        }
        if let Some(off) = ack_due {
            link.send(&[b"REPLCONF", b"ACK", off.to_string().as_bytes()])?;
            last_ack = Instant::now();
        }
        if link.pos == link.buf.len() {
            link.buf.clear();
            link.pos = 0;
        }
        if link.fill()? > 0 {
            last_io = Instant::now();
            node.replica.touch();
        } else if last_io.elapsed() > link.timeout {
            return Err("no data from the primary within repl-timeout".into());
        }
        if last_ack.elapsed() >= Duration::from_secs(1) {
            let off = node.repl.offset().to_string();
            link.send(&[b"REPLCONF", b"ACK", off.as_bytes()])?;
            last_ack = Instant::now();
        }
    }
}
