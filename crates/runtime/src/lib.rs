//! The worker loop: one thread per core, each with its own listeners, connections and I/O
//! backend, driving a [`Service`] (the server) through the same callbacks whichever backend
//! moves the bytes.
//!
//! A loop turn: wait for completions (io_uring) or readiness (epoll); hand every received chunk
//! to [`Service::receive`]; then, once per connection that received anything this turn, ask
//! [`Service::flush`] for the bytes to send and issue one send. Pipelined requests that arrive
//! together are therefore executed in one pass and answered with one send, and TLS seals all
//! of a turn's replies at once.
//!
//! Backends: [`IoBackend::Uring`] (multishot accept, multishot receive into a per-worker ring
//! of provided buffers, one send per connection per turn) and [`IoBackend::Epoll`] (mio,
//! edge-triggered), for kernels or sandboxes where io_uring is refused.

mod bufring;
mod epoll;
pub mod listener;
mod uring;

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// What a callback wants done with its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Send what is pending (including what the next [`Service::flush`] appends), then close.
    Close,
    /// Keep the connection, and flush it this turn (a tick produced a reply: a blocked
    /// command's timeout).
    Flush,
}

/// Wakes a worker from another thread: an eventfd the worker's loop always has a read pending
/// on (io_uring) or registered (epoll). Cheap to clone; waking twice before the worker runs
/// costs one wake-up.
#[derive(Clone)]
pub struct Waker {
    fd: std::sync::Arc<std::os::fd::OwnedFd>,
}

impl Waker {
    pub fn new() -> std::io::Result<Waker> {
        // SAFETY: eventfd(2) takes no pointers; a non-negative result is a new descriptor we
        // own from here on.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by eventfd and is owned by nothing else.
        let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        Ok(Waker { fd: std::sync::Arc::new(fd) })
    }

    /// Makes the worker's next (or current) wait return and call [`Service::woken`].
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd; EAGAIN (counter saturated)
        // means a wake-up is already pending, which is all we want.
        unsafe { libc::write(std::os::fd::AsRawFd::as_raw_fd(&*self.fd), &one as *const u64 as *const _, 8) };
    }

    pub(crate) fn raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&*self.fd)
    }
}

/// The layer above the runtime: it owns what a connection *means*; the runtime owns sockets.
pub trait Service {
    type Conn;

    /// A connection arrived in slot `slot` (the number [`Service::woken`] names it by; reused
    /// once the connection is closed). `local` is the address it arrived on (which port, which
    /// interface), `peer` the client's.
    fn accept(&mut self, slot: usize, local: Option<SocketAddr>, peer: Option<SocketAddr>) -> Self::Conn;

    /// Another thread woke this worker ([`Waker::wake`]): push the slots of connections to
    /// poke onto `pokes`; the runtime calls [`Service::receive`] with no data on each (a slot
    /// that was closed meanwhile is skipped, one reused meanwhile gets a harmless poke).
    fn woken(&mut self, pokes: &mut Vec<usize>);

    /// Polled every tick: new listening sockets to serve instead of the current ones (after
    /// `CONFIG SET port/bind/tls-port`). Open connections are not affected.
    fn take_listeners(&mut self) -> Option<Vec<TcpListener>>;

    /// Bytes arrived. `data` may be modified in place (TLS opens records where they lie) and is
    /// only valid during the call. Replies are produced later, by [`Service::flush`].
    ///
    /// Called with empty `data` when the connection reported a [`Service::backlog`] and its
    /// output has drained: the service resumes the requests it had set aside.
    fn receive(&mut self, conn: &mut Self::Conn, data: &mut [u8]) -> Flow;

    /// Whether the connection stopped executing requests because too many replies were
    /// pending; the runtime calls [`Service::receive`] with no data once its output has left.
    fn backlog(&self, conn: &Self::Conn) -> bool;

    /// End of a loop turn for a connection that received bytes or was ticked: append what is
    /// to be sent to `out`.
    fn flush(&mut self, conn: &mut Self::Conn, out: &mut Vec<u8>) -> Flow;

    /// The peer closed its side, or the socket failed: nothing more will arrive.
    fn peer_closed(&mut self, conn: &mut Self::Conn);

    /// About every [`TICK`], for every connection (timeouts, kills). [`Flow::Flush`] sends what
    /// the tick produced.
    fn tick_conn(&mut self, conn: &mut Self::Conn) -> Flow;

    /// About every [`TICK`], once per worker (active expiry and other housekeeping).
    fn tick(&mut self);

    /// The node is stopping: append what a clean goodbye needs (TLS close_notify) to `out`.
    fn shutdown_conn(&mut self, conn: &mut Self::Conn, out: &mut Vec<u8>);

    /// The connection is gone; release what it held.
    fn closed(&mut self, conn: Self::Conn);
}

/// Housekeeping period (Redis's default `hz 10`).
pub const TICK: Duration = Duration::from_millis(100);

/// Pending output above which a connection's reads pause, and below which they resume: a
/// client that pipelines without reading replies cannot make the node buffer without bound.
pub const OUT_HIGH_WATER: usize = 8 * 1024 * 1024;
pub const OUT_LOW_WATER: usize = 1024 * 1024;

/// How long a stopping worker waits for replies in flight and close_notify to leave.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// `io-backend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoBackend {
    /// io_uring where the kernel allows it, else epoll.
    Auto,
    Uring,
    Epoll,
}

impl FromStr for IoBackend {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(IoBackend::Auto),
            "uring" | "io_uring" | "io-uring" => Ok(IoBackend::Uring),
            "epoll" => Ok(IoBackend::Epoll),
            _ => Err(()),
        }
    }
}

impl fmt::Display for IoBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoBackend::Auto => "auto",
            IoBackend::Uring => "uring",
            IoBackend::Epoll => "epoll",
        })
    }
}

/// Sizes a worker's io_uring and buffer ring.
#[derive(Clone, Copy, Debug)]
pub struct UringSizes {
    /// Submission queue entries.
    pub ring_entries: u32,
    /// Provided receive buffers (a power of two, at most 32768).
    pub buffers: u16,
    /// Bytes per receive buffer (16 KiB holds one full TLS record).
    pub buffer_size: usize,
    /// Share the kernel submission-polling thread of this anchor ring (see [`SqPollAnchor`]).
    pub sqpoll_attach_fd: Option<std::os::fd::RawFd>,
}

impl Default for UringSizes {
    fn default() -> Self {
        UringSizes { ring_entries: 1024, buffers: 512, buffer_size: 16 * 1024, sqpoll_attach_fd: None }
    }
}

pub use uring::SqPollAnchor;

/// Checks whether io_uring with provided buffer rings works here: the kernel may lack it, or a
/// sandbox (seccomp, `kernel.io_uring_disabled`) may refuse it with EPERM/ENOSYS.
pub fn probe_uring() -> std::io::Result<()> {
    uring::probe()
}

/// Picks the backend for `wanted`: `Auto` becomes `Uring` when [`probe_uring`] succeeds; the
/// returned string explains a fallback, for the start-up log.
pub fn resolve_backend(wanted: IoBackend) -> (IoBackend, Option<String>) {
    match wanted {
        IoBackend::Auto => match probe_uring() {
            Ok(()) => (IoBackend::Uring, None),
            Err(e) => (IoBackend::Epoll, Some(format!("io_uring unavailable ({e}); using epoll"))),
        },
        other => (other, None),
    }
}

/// What one worker thread runs with.
pub struct WorkerSpec {
    pub index: usize,
    /// The core to pin to, if any.
    pub core: Option<core_affinity::CoreId>,
    /// Listening sockets (SO_REUSEPORT, one set per worker), in the order the service indexes.
    pub listeners: Vec<TcpListener>,
    pub backend: IoBackend,
    pub uring: UringSizes,
    /// SO_SNDBUF and SO_RCVBUF for accepted connections; 0 leaves the kernel's autotuning.
    pub socket_buffer: usize,
    /// Set by the signal handler: stop accepting, say goodbye, drain, return.
    pub shutdown: Arc<AtomicBool>,
    /// How other threads wake this worker.
    pub waker: Waker,
}

/// Runs a worker until shutdown. `backend` MUST be resolved (not `Auto`).
pub fn run_worker<S: Service>(spec: WorkerSpec, service: S) -> std::io::Result<()> {
    if let Some(core) = spec.core {
        if !core_affinity::set_for_current(core) {
            tracing::warn!(worker = spec.index, core = core.id, "could not pin worker to its core");
        }
    }
    match spec.backend {
        IoBackend::Uring => uring::run(spec, service),
        IoBackend::Epoll | IoBackend::Auto => epoll::run(spec, service),
    }
}
