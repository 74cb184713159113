//! The cachet server: connections, commands, configuration, and start-up of the workers.
//!
//! [`start`] turns a [`Config`] into a running node: it resolves the I/O backend, binds one
//! SO_REUSEPORT listener per worker per port, and spawns one pinned worker thread per core,
//! each driving a [`worker::Worker`] through `cachet_runtime`.

pub mod cmd;
pub mod config;
pub mod conn;
pub mod node;
pub mod worker;

pub use config::{Config, ConfigError};
pub use node::Node;

use cachet_runtime::{listener::bind_reuseport, resolve_backend, IoBackend, UringSizes, WorkerSpec};
use conn::PortKind;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;

/// A started node.
pub struct Running {
    pub node: Arc<Node>,
    pub shutdown: Arc<AtomicBool>,
    threads: Vec<JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// Waits for every worker to finish (after `shutdown` is set). Returns the first error.
    pub fn join(self) -> Result<(), String> {
        let mut first = Ok(());
        for t in self.threads {
            let r = match t.join() {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("worker failed: {e}")),
                Err(_) => Err("worker panicked".to_string()),
            };
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

fn parse_bind(s: &str) -> Result<IpAddr, String> {
    let s = s.trim_start_matches('-');
    let s = if s == "localhost" { "127.0.0.1" } else { s };
    s.parse().map_err(|_| format!("bind: '{s}' is not an IP address"))
}

/// One worker's listening sockets, with the kind of port each serves.
type Listeners = Vec<(PortKind, TcpListener)>;

/// Binds every (address, port) once, resolving port 0 on the first address; returns
/// (listeners, actual port, actual tls-port).
fn bind_all(addrs: &[IpAddr], port: u16, tls_port: u16) -> Result<(Listeners, u16, u16), String> {
    let mut out = Vec::new();
    let (mut port, mut tls_port) = (port, tls_port);
    for &ip in addrs {
        let l = bind_reuseport(SocketAddr::new(ip, port))
            .map_err(|e| format!("cannot listen on {ip}:{port}: {e}"))?;
        port = l.local_addr().map_err(|e| e.to_string())?.port();
        out.push((PortKind::Main, l));
        if tls_port != 0 {
            let l = bind_reuseport(SocketAddr::new(ip, tls_port))
                .map_err(|e| format!("cannot listen on {ip}:{tls_port} (tls-port): {e}"))?;
            tls_port = l.local_addr().map_err(|e| e.to_string())?.port();
            out.push((PortKind::Tls, l));
        }
    }
    Ok((out, port, tls_port))
}

/// Starts a node. The config's certificate paths MUST be resolved (see the binary's start-up,
/// which makes development certificates when none are configured).
pub fn start(config: Config) -> Result<Running, String> {
    let (backend, note) = resolve_backend(config.io_backend);
    if let Some(note) = note {
        tracing::warn!("{note}");
    }
    if backend == IoBackend::Uring {
        cachet_runtime::probe_uring().map_err(|e| format!("io-backend uring: io_uring unavailable: {e}"))?;
    }
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let workers = match config.workers {
        0 => cores.len().max(1),
        n => n,
    };
    let addrs: Vec<IpAddr> = config.bind.iter().map(|b| parse_bind(b)).collect::<Result<_, _>>()?;
    if addrs.is_empty() {
        return Err("bind: no address given".into());
    }
    let (first, port, tls_port) = bind_all(&addrs, config.port, config.tls_port)?;
    let node = Arc::new(Node::new(config, backend, workers, port, tls_port)?);
    let shutdown = Arc::new(AtomicBool::new(false));

    let mut threads = Vec::new();
    let mut first = Some(first);
    for i in 0..workers {
        let listeners = match first.take() {
            Some(l) => l,
            None => bind_all(&addrs, port, tls_port)?.0,
        };
        let ports = listeners
            .iter()
            .map(|(k, l)| (*k, l.local_addr().map(|a| worker::addr_text(&a)).unwrap_or_default()))
            .collect();
        let spec = WorkerSpec {
            index: i,
            core: (!cores.is_empty()).then(|| cores[i % cores.len()]),
            listeners: listeners.into_iter().map(|(_, l)| l).collect(),
            backend,
            uring: UringSizes::default(),
            shutdown: shutdown.clone(),
        };
        let w = worker::Worker::new(node.clone(), i, ports);
        let t = std::thread::Builder::new()
            .name(format!("cachet-w{i}"))
            .spawn(move || cachet_runtime::run_worker(spec, w))
            .map_err(|e| format!("cannot start worker {i}: {e}"))?;
        threads.push(t);
    }
    Ok(Running { node, shutdown, threads })
}
