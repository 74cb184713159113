//! The server side of a worker thread: the [`Service`] the runtime drives.
//!
//! Every callback runs under `catch_unwind`: a bug that panics while serving one connection
//! closes that connection and is logged; the worker and the node keep running. (Stripe locks
//! poisoned by such a panic are still used: see `cachet_store::lock`.)

use crate::conn::{Conn, PortKind};
use crate::node::Node;
use cachet_runtime::{Flow, Service};
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

/// Rounds of sampling per owned stripe per tick in active expiry.
const EXPIRE_ROUNDS: usize = 16;

pub struct Worker {
    node: Arc<Node>,
    index: usize,
    /// The listener generation this worker serves (see `Node::listen_generation`).
    listen_gen: u64,
}

impl Worker {
    pub fn new(node: Arc<Node>, index: usize) -> Self {
        let listen_gen = node.listen_generation();
        Worker { node, index, listen_gen }
    }

    fn guarded<T>(&self, conn: &mut Conn, what: &str, fallback: T, f: impl FnOnce(&mut Conn) -> T) -> T {
        match catch_unwind(AssertUnwindSafe(|| f(conn))) {
            Ok(v) => v,
            Err(_) => {
                tracing::error!(
                    client = conn.id(),
                    during = what,
                    "bug: panic while serving a client; closing it"
                );
                conn.state.closing = true;
                fallback
            }
        }
    }
}

/// Redis's address text: `ip:port`, IPv6 without brackets.
pub fn addr_text(a: &SocketAddr) -> String {
    format!("{}:{}", a.ip(), a.port())
}

impl Service for Worker {
    type Conn = Conn;

    fn woken(&mut self, pokes: &mut Vec<usize>) {
        self.node.repl.turn(self.index);
        self.node.take_mail(self.index, pokes);
    }

    fn accept(&mut self, slot: usize, local: Option<SocketAddr>, peer: Option<SocketAddr>) -> Conn {
        // The port a connection arrived on says what it speaks; reading it from the socket
        // keeps this right while listeners are being replaced.
        let tls_port = self.node.tls_port();
        let kind = match local {
            Some(l) if tls_port != 0 && l.port() == tls_port => PortKind::Tls,
            _ => PortKind::Main,
        };
        let laddr = local.as_ref().map(addr_text).unwrap_or_default();
        let addr = peer.as_ref().map(addr_text).unwrap_or_default();
        let (handle, over) = self.node.register_client(self.index, addr, laddr);
        if over {
            self.node.stats.rejected_connections.fetch_add(1, Relaxed);
        }
        handle.slot.store(slot, Relaxed);
        let mut conn = Conn::new(kind, &self.node, handle, self.index, over);
        conn.state.slot = slot;
        conn
    }

    fn receive(&mut self, conn: &mut Conn, data: &mut [u8]) -> Flow {
        let node = self.node.clone();
        let ws = &node.worker_stats[self.index];
        self.guarded(conn, "receive", Flow::Close, |c| c.receive(&node, ws, data))
    }

    fn take_listeners(&mut self) -> Option<Vec<std::net::TcpListener>> {
        let gen = self.node.listen_generation();
        if gen == self.listen_gen {
            return None;
        }
        self.listen_gen = gen;
        self.node.take_listeners(self.index)
    }

    fn backlog(&self, conn: &Conn) -> bool {
        conn.wants_drain_callback()
    }

    fn flush(&mut self, conn: &mut Conn, out: &mut Vec<u8>) -> Flow {
        let node = self.node.clone();
        let ws = &node.worker_stats[self.index];
        self.guarded(conn, "flush", Flow::Close, |c| c.flush(ws, out))
    }

    fn peer_closed(&mut self, conn: &mut Conn) {
        let node = self.node.clone();
        self.guarded(conn, "peer_closed", (), |c| c.peer_closed(&node))
    }

    fn tick_conn(&mut self, conn: &mut Conn) -> Flow {
        let node = self.node.clone();
        self.guarded(conn, "tick", Flow::Close, |c| c.tick(&node, Instant::now()))
    }

    fn tick(&mut self) {
        let node = &self.node;
        node.repl.turn(self.index);
        if self.index == 0 {
            node.refresh_memory();
            node.refresh_clock();
            node.repl.cron(node);
        }
        if !node.active_expire.load(Relaxed) || node.is_replica() {
            return;
        }
        let removed =
            node.keyspace.active_expire(self.index, node.workers.max(1), node.now_ms(), EXPIRE_ROUNDS);
        node.worker_stats[self.index].active_expired.fetch_add(removed as u64, Relaxed);
    }

    fn shutdown_conn(&mut self, conn: &mut Conn, out: &mut Vec<u8>) {
        let node = self.node.clone();
        let ws = &node.worker_stats[self.index];
        self.guarded(conn, "shutdown", (), |c| c.goodbye(ws, out))
    }

    fn closed(&mut self, mut conn: Conn) {
        crate::cmd::tx::unwatch_all(&self.node, &mut conn.state);
        crate::cmd::pubsub::remove_all(&self.node, &mut conn.state);
        if conn.state.monitor {
            self.node.remove_monitor(conn.state.handle.id);
        }
        if let Some(b) = conn.state.blocked.take() {
            self.node.unblock(b.db, &b.keys, conn.id());
        }
        if conn.state.replica_link {
            self.node.repl.detach(conn.id());
        }
        self.node.unregister_client(conn.id());
    }
}
