//! The io_uring backend.
//!
//! Per worker: one ring (single issuer, deferred task-work: completions are reaped only when
//! this thread asks, so the kernel never interrupts the loop), one multishot accept per
//! listener, one multishot receive per connection into the worker's [`BufRing`], and at most
//! one send in flight per connection. A connection's slot is removed only once none of its
//! operations is in flight, so a completion always finds its slot.

use crate::bufring::BufRing;
use crate::{Flow, Service, WorkerSpec, OUT_HIGH_WATER, OUT_LOW_WATER, SHUTDOWN_GRACE, TICK};
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use slab::Slab;
use socket2::SockRef;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Operation kinds, in the top byte of `user_data`; the rest is a slot index, or for accepts a
/// listener generation (bits 32..48) and index, so completions from replaced listeners are
/// told apart.
const OP_ACCEPT: u64 = 1 << 56;
const OP_RECV: u64 = 2 << 56;
const OP_SEND: u64 = 3 << 56;
const OP_CANCEL: u64 = 4 << 56;
const OP_WAKE: u64 = 5 << 56;
const OP_MASK: u64 = 0xff << 56;

/// How long a closing connection may wait for its last bytes to leave before the socket is
/// shut down under it (a peer that never reads must not hold a slot forever).
const CLOSE_GRACE: Duration = Duration::from_secs(5);

const BGID: u16 = 0;

/// How long the shared submission-polling thread spins without work before it sleeps (and
/// must be woken by the next submit).
const SQPOLL_IDLE_MS: u32 = 50;

fn new_ring(entries: u32, sqpoll_attach_fd: Option<std::os::fd::RawFd>) -> io::Result<IoUring> {
    let mut b = IoUring::builder();
    b.setup_cqsize(entries * 4);
    match sqpoll_attach_fd {
        // Deferred task-work cannot be combined with SQPOLL; the poller submits for us.
        Some(fd) => {
            b.setup_sqpoll(SQPOLL_IDLE_MS).setup_attach_wq(fd);
        }
        None => {
            b.setup_single_issuer().setup_defer_taskrun();
        }
    }
    b.build(entries)
}

/// A ring that owns the node's one submission-polling kernel thread, pinned to a spare core;
/// every worker's ring attaches to it, so W workers cost one poller, not W. MUST outlive the
/// workers.
pub struct SqPollAnchor {
    ring: IoUring,
}

impl SqPollAnchor {
    pub fn new(cpu: Option<u32>) -> io::Result<SqPollAnchor> {
        let mut b = IoUring::builder();
        b.setup_sqpoll(SQPOLL_IDLE_MS);
        if let Some(cpu) = cpu {
            b.setup_sqpoll_cpu(cpu);
        }
        Ok(SqPollAnchor { ring: b.build(8)? })
    }

    pub fn fd(&self) -> std::os::fd::RawFd {
        self.ring.as_raw_fd()
    }
}

pub fn probe() -> io::Result<()> {
    let ring = new_ring(8, None)?;
    let bufs = BufRing::new(&ring, 2, 64, 1)?;
    bufs.unregister(&ring);
    Ok(())
}

struct Slot<C> {
    fd: OwnedFd,
    conn: C,
    /// Bytes queued for sending, not yet handed to the kernel.
    out: Vec<u8>,
    /// Bytes handed to the kernel; MUST NOT change while `send_inflight`.
    sending: Vec<u8>,
    /// How much of `sending` the kernel has sent.
    sent: usize,
    send_inflight: bool,
    recv_armed: bool,
    /// Receives stopped because too much output is pending (backpressure).
    recv_paused: bool,
    /// No more requests are processed; the slot goes once its output has left.
    closing: Option<Instant>,
    /// `shutdown(2)` was issued to end the multishot receive.
    shut: bool,
    dirty: bool,
}

impl<C> Slot<C> {
    fn pending_out(&self) -> usize {
        self.out.len() + self.sending.len() - self.sent
    }
}

struct Worker<S: Service> {
    ring: IoUring,
    bufs: BufRing,
    slots: Slab<Slot<S::Conn>>,
    dirty: Vec<usize>,
    svc: S,
    socket_buffer: usize,
}

pub fn run<S: Service>(spec: WorkerSpec, svc: S) -> io::Result<()> {
    let ring = new_ring(spec.uring.ring_entries, spec.uring.sqpoll_attach_fd)?;
    let socket_buffer = spec.socket_buffer;
    let bufs = BufRing::new(&ring, spec.uring.buffers, spec.uring.buffer_size, BGID)?;
    let mut w =
        Worker { ring, bufs, slots: Slab::with_capacity(1024), dirty: Vec::new(), svc, socket_buffer };
    let mut listeners = spec.listeners;
    let mut gen: u64 = 0;
    w.arm_accepts(&listeners, gen);
    // The eventfd read that other threads' wake-ups complete; its buffer lives as long as the
    // loop, and the read is re-armed after each completion.
    let waker = spec.waker.clone();
    let mut wake_buf = Box::new([0u8; 8]);
    w.arm_wake(waker.raw_fd(), &mut wake_buf);
    let mut pokes: Vec<usize> = Vec::new();
    let mut cqes: Vec<(u64, i32, u32)> = Vec::with_capacity(1024);
    let mut next_tick = Instant::now() + TICK;
    let mut stop_by: Option<Instant> = None;
    loop {
        let wait = next_tick.saturating_duration_since(Instant::now());
        let ts = types::Timespec::from(wait.max(Duration::from_micros(50)));
        let args = types::SubmitArgs::new().timespec(&ts);
        if let Err(e) = w.ring.submitter().submit_with_args(1, &args) {
            match e.raw_os_error() {
                Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY) => {}
                _ => return Err(e),
            }
        }
        cqes.clear();
        cqes.extend(w.ring.completion().map(|c| (c.user_data(), c.result(), c.flags())));
        for &(ud, res, flags) in &cqes {
            let idx = (ud & !OP_MASK) as usize;
            match ud & OP_MASK {
                OP_ACCEPT => {
                    let (lgen, li) = ((ud >> 32) & 0xffff, (ud & 0xffff_ffff) as usize);
                    let current = (lgen == gen & 0xffff).then(|| &listeners[li]);
                    w.on_accept(li, res, flags, stop_by.is_some(), current, gen)
                }
                OP_RECV => w.on_recv(idx, res, flags),
                OP_SEND => w.on_send(idx, res),
                OP_WAKE => {
                    w.arm_wake(waker.raw_fd(), &mut wake_buf);
                    w.svc.woken(&mut pokes);
                    for slot in pokes.drain(..) {
                        w.poke(slot);
                    }
                }
                _ => {}
            }
        }
        w.flush_dirty();

        let now = Instant::now();
        if now >= next_tick {
            next_tick = now + TICK;
            w.tick(now);
            if stop_by.is_none() {
                if let Some(new) = w.svc.take_listeners() {
                    w.cancel_accepts(listeners.len(), gen);
                    // The pending accepts hold their own references: closing ours is safe.
                    listeners = new;
                    gen += 1;
                    w.arm_accepts(&listeners, gen);
                }
            }
        }
        if stop_by.is_none() && spec.shutdown.load(Ordering::Relaxed) {
            stop_by = Some(now + SHUTDOWN_GRACE);
            w.cancel_accepts(listeners.len(), gen);
            w.begin_shutdown();
        }
        if let Some(deadline) = stop_by {
            if w.slots.is_empty() || now >= deadline {
                break;
            }
        }
    }
    // Stop the kernel from using the buffer ring before its memory goes.
    w.bufs.unregister(&w.ring);
    listeners.clear();
    Ok(())
}

impl<S: Service> Worker<S> {
    fn push(&mut self, sqe: squeue::Entry) {
        loop {
            // SAFETY: every SQE we build references only memory that outlives its completion:
            // accept and receive reference none (receive buffers come from the registered
            // ring); a send references `Slot::sending`, which is not modified or dropped while
            // `send_inflight` (slots are removed only when no operation is in flight).
            if unsafe { self.ring.submission().push(&sqe) }.is_ok() {
                return;
            }
            // Queue full: hand what is queued to the kernel and retry.
            if self.ring.submit().is_err() {
                std::thread::yield_now();
            }
        }
    }

    fn arm_wake(&mut self, fd: std::os::fd::RawFd, buf: &mut [u8; 8]) {
        let sqe = opcode::Read::new(types::Fd(fd), buf.as_mut_ptr(), 8).build().user_data(OP_WAKE);
        self.push(sqe);
    }

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

    fn accept_ud(gen: u64, i: usize) -> u64 {
        OP_ACCEPT | (gen & 0xffff) << 32 | i as u64
    }

    fn arm_accepts(&mut self, listeners: &[std::net::TcpListener], gen: u64) {
        for (i, l) in listeners.iter().enumerate() {
            let sqe =
                opcode::AcceptMulti::new(types::Fd(l.as_raw_fd())).build().user_data(Self::accept_ud(gen, i));
            self.push(sqe);
        }
    }

    fn cancel_accepts(&mut self, n: usize, gen: u64) {
        for i in 0..n {
            self.push(opcode::AsyncCancel::new(Self::accept_ud(gen, i)).build().user_data(OP_CANCEL));
        }
    }

    fn arm_recv(&mut self, idx: usize) {
        let fd = self.slots[idx].fd.as_raw_fd();
        self.slots[idx].recv_armed = true;
        self.push(opcode::RecvMulti::new(types::Fd(fd), BGID).build().user_data(OP_RECV | idx as u64));
    }

    fn mark_dirty(&mut self, idx: usize) {
        let slot = &mut self.slots[idx];
        if !slot.dirty {
            slot.dirty = true;
            self.dirty.push(idx);
        }
    }

    /// `listener` is the listener's socket when it is still current (not replaced since the
    /// accept was armed); a connection accepted on a replaced one is still served.
    fn on_accept(
        &mut self,
        index: usize,
        res: i32,
        flags: u32,
        stopping: bool,
        listener: Option<&std::net::TcpListener>,
        gen: u64,
    ) {
        if res >= 0 {
            // SAFETY: a successful accept completion returns a new descriptor that nothing
            // else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(res) };
            if !stopping {
                let sock = SockRef::from(&fd);
                let _ = sock.set_tcp_nodelay(true);
                if self.socket_buffer > 0 {
                    let _ = sock.set_send_buffer_size(self.socket_buffer);
                    let _ = sock.set_recv_buffer_size(self.socket_buffer);
                }
                let peer = sock.peer_addr().ok().and_then(|a| a.as_socket());
                let local = sock.local_addr().ok().and_then(|a| a.as_socket());
                let entry = self.slots.vacant_entry();
                let idx = entry.key();
                let conn = self.svc.accept(idx, local, peer);
                entry.insert(Slot {
                    fd,
                    conn,
                    out: Vec::new(),
                    sending: Vec::new(),
                    sent: 0,
                    send_inflight: false,
                    recv_armed: false,
                    recv_paused: false,
                    closing: None,
                    shut: false,
                    dirty: false,
                });
                self.arm_recv(idx);
                // Give the service a chance to greet or refuse (maxclients) at once.
                self.mark_dirty(idx);
            }
        } else if res != -libc::ECANCELED {
            tracing::warn!(error = %io::Error::from_raw_os_error(-res), "accept failed");
        }
        if let Some(l) = listener.filter(|_| !cqueue::more(flags) && !stopping && res != -libc::ECANCELED) {
            let sqe = opcode::AcceptMulti::new(types::Fd(l.as_raw_fd()))
                .build()
                .user_data(Self::accept_ud(gen, index));
            self.push(sqe);
        }
    }

    fn on_recv(&mut self, idx: usize, res: i32, flags: u32) {
        let more = cqueue::more(flags);
        if let Some(bid) = cqueue::buffer_select(flags) {
            if res > 0 {
                let slot = &mut self.slots[idx];
                if slot.closing.is_none() {
                    let data = self.bufs.filled(bid, res as usize);
                    if self.svc.receive(&mut slot.conn, data) == Flow::Close {
                        slot.closing = Some(Instant::now());
                    }
                }
            }
            self.bufs.recycle(bid);
            self.mark_dirty(idx);
        }
        if more {
            return;
        }
        let slot = &mut self.slots[idx];
        slot.recv_armed = false;
        match res {
            0 => {
                // End of stream: the peer closed its side (or our shutdown took effect).
                if slot.closing.is_none() {
                    self.svc.peer_closed(&mut slot.conn);
                    slot.closing = Some(Instant::now());
                }
            }
            r if r == -libc::ENOBUFS || r > 0 => {
                // Out of provided buffers, or the kernel ended the multishot: re-arm unless
                // the connection is on its way out or paused.
                if slot.closing.is_none() && !slot.recv_paused {
                    self.arm_recv(idx);
                }
            }
            r if r == -libc::ECANCELED && slot.recv_paused => {}
            _ => {
                // Reset or other error: nothing more will arrive and nothing can be sent.
                slot.out.clear();
                if slot.closing.is_none() {
                    self.svc.peer_closed(&mut slot.conn);
                    slot.closing = Some(Instant::now());
                }
            }
        }
        self.mark_dirty(idx);
    }

    fn on_send(&mut self, idx: usize, res: i32) {
        let slot = &mut self.slots[idx];
        slot.send_inflight = false;
        if res < 0 {
            slot.sending.clear();
            slot.sent = 0;
            slot.out.clear();
            if slot.closing.is_none() {
                self.svc.peer_closed(&mut slot.conn);
                slot.closing = Some(Instant::now());
            }
        } else {
            slot.sent += res as usize;
            if slot.sent >= slot.sending.len() {
                slot.sending.clear();
                slot.sent = 0;
            }
        }
        self.start_send(idx);
        let slot = &mut self.slots[idx];
        if slot.pending_out() == 0 && slot.closing.is_none() && self.svc.backlog(&slot.conn) {
            // Everything has left: let the connection run the requests it set aside.
            if self.svc.receive(&mut slot.conn, &mut []) == Flow::Close {
                slot.closing = Some(Instant::now());
            }
            self.mark_dirty(idx);
        }
        let slot = &mut self.slots[idx];
        if slot.recv_paused && slot.pending_out() < OUT_LOW_WATER && slot.closing.is_none() {
            slot.recv_paused = false;
            if !slot.recv_armed {
                self.arm_recv(idx);
            }
        }
        self.maybe_finish(idx);
    }

    /// Hands the next bytes to the kernel if no send is in flight: the rest of a partial send,
    /// else everything queued since (one send per connection per turn).
    fn start_send(&mut self, idx: usize) {
        let slot = &mut self.slots[idx];
        if slot.send_inflight {
            return;
        }
        if slot.sending.is_empty() {
            if slot.out.is_empty() {
                return;
            }
            std::mem::swap(&mut slot.sending, &mut slot.out);
            slot.sent = 0;
        }
        let rest = &slot.sending[slot.sent..];
        let sqe = opcode::Send::new(types::Fd(slot.fd.as_raw_fd()), rest.as_ptr(), rest.len() as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(OP_SEND | idx as u64);
        slot.send_inflight = true;
        self.push(sqe);
    }

    fn flush_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for &idx in &dirty {
            let Some(slot) = self.slots.get_mut(idx) else { continue };
            slot.dirty = false;
            if self.svc.flush(&mut slot.conn, &mut slot.out) == Flow::Close && slot.closing.is_none() {
                slot.closing = Some(Instant::now());
            }
            self.start_send(idx);
            let slot = &mut self.slots[idx];
            if slot.pending_out() > OUT_HIGH_WATER && slot.recv_armed && !slot.recv_paused {
                slot.recv_paused = true;
                self.push(opcode::AsyncCancel::new(OP_RECV | idx as u64).build().user_data(OP_CANCEL));
            }
            self.maybe_finish(idx);
        }
        dirty.clear();
        self.dirty = dirty;
    }

    /// Removes a closing slot whose output has left and whose receive has ended; ends the
    /// receive with `shutdown(2)` when it is still armed.
    fn maybe_finish(&mut self, idx: usize) {
        let Some(slot) = self.slots.get_mut(idx) else { return };
        // A dirty slot still has replies to flush this turn (a final error, +OK for QUIT).
        if slot.closing.is_none() || slot.dirty || slot.send_inflight || !slot.out.is_empty() {
            return;
        }
        if slot.recv_armed {
            if !slot.shut {
                slot.shut = true;
                // SAFETY: plain syscall on a descriptor we own; it ends the pending receive,
                // whose completion then finishes the slot.
                unsafe { libc::shutdown(slot.fd.as_raw_fd(), libc::SHUT_RDWR) };
            }
            return;
        }
        let slot = self.slots.remove(idx);
        self.svc.closed(slot.conn);
        // Dropping `slot.fd` closes the socket.
    }

    fn tick(&mut self, now: Instant) {
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
                Some(since) if now.duration_since(since) > CLOSE_GRACE && !slot.shut => {
                    // The peer is not taking its last bytes: cut it off.
                    slot.shut = true;
                    // SAFETY: plain syscall on a descriptor we own.
                    unsafe { libc::shutdown(slot.fd.as_raw_fd(), libc::SHUT_RDWR) };
                }
                Some(_) => {}
            }
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
            self.start_send(idx);
            self.maybe_finish(idx);
        }
    }
}
