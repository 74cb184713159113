//! The readiness backend (epoll through mio, edge-triggered), for kernels and sandboxes where
//! io_uring is refused. Same callbacks, same turn structure as the io_uring backend: read
//! everything that is ready into one worker-wide buffer, hand it to the service, then one write
//! per connection that received anything.

use crate::{Flow, Service, WorkerSpec, OUT_HIGH_WATER, OUT_LOW_WATER, SHUTDOWN_GRACE, TICK};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;
use std::io::{self, Read, Write};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Tokens below this are listeners (and the waker); connection `i` is `LISTENER_TOKENS + i`.
const LISTENER_TOKENS: usize = 64;
/// The worker's eventfd (see `Waker`).
const WAKE: Token = Token(LISTENER_TOKENS - 1);
const READ_CHUNK: usize = 64 * 1024;
const CLOSE_GRACE: Duration = Duration::from_secs(5);

struct Slot<C> {
    stream: TcpStream,
    conn: C,
    out: Vec<u8>,
    /// How much of `out` has been written.
    written: usize,
    /// Reading stopped because too much output is pending.
    read_paused: bool,
    closing: Option<Instant>,
    dirty: bool,
}

struct Worker<S: Service> {
    socket_buffer: usize,
    poll: Poll,
    slots: Slab<Slot<S::Conn>>,
    dirty: Vec<usize>,
    scratch: Box<[u8]>,
    svc: S,
}

pub fn run<S: Service>(spec: WorkerSpec, svc: S) -> io::Result<()> {
    let poll = Poll::new()?;
    let mut listeners: Vec<TcpListener> = spec.listeners.into_iter().map(TcpListener::from_std).collect();
    register_listeners(&poll, &mut listeners)?;
    let waker = spec.waker.clone();
    poll.registry().register(&mut mio::unix::SourceFd(&waker.raw_fd()), WAKE, Interest::READABLE)?;
    let mut pokes: Vec<usize> = Vec::new();
    let mut w = Worker {
        socket_buffer: spec.socket_buffer,
        poll,
        slots: Slab::with_capacity(1024),
        dirty: Vec::new(),
        scratch: vec![0u8; READ_CHUNK].into_boxed_slice(),
        svc,
    };
    let mut events = Events::with_capacity(1024);
    let mut next_tick = Instant::now() + TICK;
    let mut stop_by: Option<Instant> = None;
    loop {
        let wait = next_tick.saturating_duration_since(Instant::now());
        if let Err(e) = w.poll.poll(&mut events, Some(wait)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        for ev in events.iter() {
            let t = ev.token().0;
            if ev.token() == WAKE {
                // Drain the eventfd (edge-triggered), then act on what was left for us.
                let mut buf = [0u8; 8];
                // SAFETY: reads at most 8 bytes into a live local buffer from our eventfd.
                while unsafe { libc::read(waker.raw_fd(), buf.as_mut_ptr().cast(), 8) } == 8 {}
                w.svc.woken(&mut pokes);
                for slot in pokes.drain(..) {
                    w.poke(slot);
                }
                continue;
            }
            if t < LISTENER_TOKENS {
                if stop_by.is_none() {
                    if let Some(l) = listeners.get(t) {
                        w.accept_all(l);
                    }
                }
                continue;
            }
            let idx = t - LISTENER_TOKENS;
            if !w.slots.contains(idx) {
                continue;
            }
            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                w.read_all(idx);
            }
            if ev.is_writable() {
                w.write(idx);
            }
        }
        w.flush_dirty();

        let now = Instant::now();
        if now >= next_tick {
            next_tick = now + TICK;
            w.tick(now);
            if stop_by.is_none() {
                if let Some(new) = w.svc.take_listeners() {
                    for l in listeners.iter_mut() {
                        let _ = w.poll.registry().deregister(l);
                    }
                    listeners = new.into_iter().map(TcpListener::from_std).collect();
                    register_listeners(&w.poll, &mut listeners)?;
                }
            }
        }
        if stop_by.is_none() && spec.shutdown.load(Ordering::Relaxed) {
            stop_by = Some(now + SHUTDOWN_GRACE);
            for l in listeners.iter_mut() {
                let _ = w.poll.registry().deregister(l);
            }
            listeners.clear();
            w.begin_shutdown();
        }
        if let Some(deadline) = stop_by {
            if w.slots.is_empty() || now >= deadline {
                return Ok(());
            }
        }
    }
}

fn register_listeners(poll: &Poll, listeners: &mut [TcpListener]) -> io::Result<()> {
    for (i, l) in listeners.iter_mut().enumerate() {
        poll.registry().register(l, Token(i), Interest::READABLE)?;
    }
    Ok(())
}

impl<S: Service> Worker<S> {
    /// Lets a connection act on something another thread left for it.
    fn poke(&mut self, idx: usize) {
        let Some(slot) = self.slots.get_mut(idx) else { return };
        if slot.closing.is_some() {
            return;
        }
        if self.svc.receive(&mut slot.conn, &mut []) == Flow::Close {
            slot.closing = Some(Instant::now());
        }
        self.mark_dirty(idx);
    }

    fn accept_all(&mut self, l: &TcpListener) {
        loop {
            match l.accept() {
                Ok((mut stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    if self.socket_buffer > 0 {
                        let sock = socket2::SockRef::from(&stream);
                        let _ = sock.set_send_buffer_size(self.socket_buffer);
                        let _ = sock.set_recv_buffer_size(self.socket_buffer);
                    }
                    let entry = self.slots.vacant_entry();
                    let token = Token(LISTENER_TOKENS + entry.key());
                    if self
                        .poll
                        .registry()
                        .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                        .is_err()
                    {
                        continue;
                    }
                    let local = stream.local_addr().ok();
                    let idx = entry.key();
                    let conn = self.svc.accept(idx, local, Some(peer));
                    entry.insert(Slot {
                        stream,
                        conn,
                        out: Vec::new(),
                        written: 0,
                        read_paused: false,
                        closing: None,
                        dirty: false,
                    });
                    self.mark_dirty(idx);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    return;
                }
            }
        }
    }

    fn mark_dirty(&mut self, idx: usize) {
        let slot = &mut self.slots[idx];
        if !slot.dirty {
            slot.dirty = true;
            self.dirty.push(idx);
        }
    }

    /// Reads until the socket would block (edge-triggered readiness demands it), unless the
    /// connection is closing or paused for backpressure.
    fn read_all(&mut self, idx: usize) {
        loop {
            let slot = &mut self.slots[idx];
            if slot.closing.is_some() || slot.read_paused {
                break;
            }
            match slot.stream.read(&mut self.scratch) {
                Ok(0) => {
                    self.svc.peer_closed(&mut slot.conn);
                    slot.closing = Some(Instant::now());
                    break;
                }
                Ok(n) => {
                    if self.svc.receive(&mut slot.conn, &mut self.scratch[..n]) == Flow::Close {
                        slot.closing = Some(Instant::now());
                    }
                    if slot.out.len() - slot.written > OUT_HIGH_WATER {
                        slot.read_paused = true;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    slot.out.clear();
                    slot.written = 0;
                    self.svc.peer_closed(&mut slot.conn);
                    slot.closing = Some(Instant::now());
                    break;
                }
            }
        }
        self.mark_dirty(idx);
    }

    /// Writes as much pending output as the socket takes.
    fn write(&mut self, idx: usize) {
        let slot = &mut self.slots[idx];
        while slot.written < slot.out.len() {
            match slot.stream.write(&slot.out[slot.written..]) {
                Ok(0) => break,
                Ok(n) => slot.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    slot.out.clear();
                    slot.written = 0;
                    if slot.closing.is_none() {
                        self.svc.peer_closed(&mut slot.conn);
                        slot.closing = Some(Instant::now());
                    }
                    break;
                }
            }
        }
        if slot.written == slot.out.len() {
            slot.out.clear();
            slot.written = 0;
            if slot.closing.is_none() && self.svc.backlog(&slot.conn) {
                // Everything has left: let the connection run the requests it set aside.
                if self.svc.receive(&mut slot.conn, &mut []) == Flow::Close {
                    slot.closing = Some(Instant::now());
                }
                self.mark_dirty(idx);
                return;
            }
        }
        if slot.read_paused && slot.out.len() - slot.written < OUT_LOW_WATER {
            slot.read_paused = false;
            // Edge-triggered: data that arrived while paused raised no new event.
            self.read_all(idx);
        }
        self.maybe_finish(idx);
    }

    fn flush_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for &idx in &dirty {
            let Some(slot) = self.slots.get_mut(idx) else { continue };
            slot.dirty = false;
            if self.svc.flush(&mut slot.conn, &mut slot.out) == Flow::Close && slot.closing.is_none() {
                slot.closing = Some(Instant::now());
            }
            self.write(idx);
        }
        dirty.clear();
        // `write` may have re-read and dirtied slots again; keep those for the next pass.
        let again = std::mem::replace(&mut self.dirty, dirty);
        if !again.is_empty() {
            self.dirty = again;
            self.flush_dirty();
        }
    }

    fn maybe_finish(&mut self, idx: usize) {
        let Some(slot) = self.slots.get(idx) else { return };
        // A dirty slot still has replies to flush this turn (a final error, +OK for QUIT).
        if slot.closing.is_none() || slot.dirty || slot.written < slot.out.len() {
            return;
        }
        let mut slot = self.slots.remove(idx);
        let _ = self.poll.registry().deregister(&mut slot.stream);
        self.svc.closed(slot.conn);
    }

    fn tick(&mut self, now: Instant) {
        let mut expired = Vec::new();
        let mut to_flush = Vec::new();
        for (idx, slot) in self.slots.iter_mut() {
            match slot.closing {
                None => match self.svc.tick_conn(&mut slot.conn) {
                    Flow::Close => {
                        slot.closing = Some(now);
                        to_flush.push(idx);
                    }
                    Flow::Flush => to_flush.push(idx),
                    Flow::Continue => {}
                },
                Some(since) if now.duration_since(since) > CLOSE_GRACE => expired.push(idx),
                Some(_) => {}
            }
        }
        for idx in expired {
            let slot = &mut self.slots[idx];
            slot.out.clear();
            slot.written = 0;
            self.maybe_finish(idx);
        }
        for idx in to_flush {
            self.mark_dirty(idx);
        }
        self.flush_dirty();
        self.svc.tick();
    }

    fn begin_shutdown(&mut self) {
        let idxs: Vec<usize> = self.slots.iter().map(|(i, _)| i).collect();
        for idx in idxs {
            let slot = &mut self.slots[idx];
            if slot.closing.is_none() {
                self.svc.shutdown_conn(&mut slot.conn, &mut slot.out);
                slot.closing = Some(Instant::now());
            }
            self.write(idx);
        }
    }
}
