//! The cachet server: connections, commands, configuration, and start-up of the workers.
//!
//! [`start`] turns a [`Config`] into a running node: it resolves the I/O backend, binds one
//! SO_REUSEPORT listener per worker per port, and spawns one pinned worker thread per core,
//! each driving a [`worker::Worker`] through `cachet_runtime`.

pub mod cmd;
pub mod config;
pub mod conn;
pub mod listen;
pub mod node;
pub mod worker;

pub use config::{Config, ConfigError};
pub use node::Node;

use cachet_runtime::{resolve_backend, IoBackend, UringSizes, WorkerSpec};
use listen::{bind_all, parse_bind, ListenPlan};
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
    let plan = ListenPlan { addrs: parse_bind(&config.bind)?, port: config.port, tls_port: config.tls_port };
    let (sets, actual) = bind_all(&plan, workers)?;
    let mut config = config;
    config.port = actual.port;
    config.tls_port = actual.tls_port;
    let node = Arc::new(Node::new(config, backend, workers, actual.port, actual.tls_port)?);
    let shutdown = Arc::new(AtomicBool::new(false));

    let mut threads = Vec::new();
    for (i, listeners) in sets.into_iter().enumerate() {
        let spec = WorkerSpec {
            index: i,
            core: (!cores.is_empty()).then(|| cores[i % cores.len()]),
            listeners,
            backend,
            uring: UringSizes::default(),
            shutdown: shutdown.clone(),
        };
        let w = worker::Worker::new(node.clone(), i);
        let t = std::thread::Builder::new()
            .name(format!("cachet-w{i}"))
            .spawn(move || cachet_runtime::run_worker(spec, w))
            .map_err(|e| format!("cannot start worker {i}: {e}"))?;
        threads.push(t);
    }
    Ok(Running { node, shutdown, threads })
}
