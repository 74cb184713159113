//! The cachet server: connections, commands, configuration, and start-up of the workers.
//!
//! [`start`] turns a [`Config`] into a running node: it resolves the I/O backend, binds one
//! SO_REUSEPORT listener per worker per port, and spawns one pinned worker thread per core,
//! each driving a [`worker::Worker`] through `cachet_runtime`.

pub mod acl;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod conn;
pub mod heap;
pub mod listen;
pub mod node;
pub mod profile;
pub mod replica;
pub mod replication;
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
    /// The shared submission-polling ring, when `io-sqpoll yes`; dropped after the workers.
    _sqpoll: Option<cachet_runtime::SqPollAnchor>,
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
    let host = profile::detect_host();
    let workers = match config.workers {
        0 => host.cores(),
        n => n,
    };
    // Worker i runs on order[i]; with io-sqpoll the poller takes the next CPU in the order.
    let order: Vec<usize> = match config.cpu_pinning.as_str() {
        "none" => Vec::new(),
        mode => cachet_tuning::pin_order(&host.cpus, mode == "physical-first"),
    };
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let core_of = |cpu: usize| cores.iter().copied().find(|c| c.id == cpu);
    let sqpoll = if config.io_sqpoll && backend == IoBackend::Uring {
        let cpu = order.get(workers % order.len().max(1)).map(|&c| c as u32);
        let anchor = cachet_runtime::SqPollAnchor::new(cpu)
            .map_err(|e| format!("io-sqpoll: cannot start the submission-polling thread: {e}"))?;
        tracing::info!(cpu = ?cpu, "io_uring submission polling: one shared kernel thread");
        Some(anchor)
    } else {
        None
    };
    let uring = UringSizes {
        ring_entries: config.io_ring_entries,
        buffers: config.io_recv_buffers.min(32768) as u16,
        buffer_size: 16 * 1024,
        sqpoll_attach_fd: sqpoll.as_ref().map(|a| a.fd()),
    };
    let socket_buffer = config.tcp_socket_buffer as usize;
    let plan = ListenPlan { addrs: parse_bind(&config.bind)?, port: config.port, tls_port: config.tls_port };
    let (sets, actual) = bind_all(&plan, workers)?;
    let mut config = config;
    config.port = actual.port;
    config.tls_port = actual.tls_port;
    let node = Arc::new(Node::new(config, backend, workers, actual.port, actual.tls_port)?);
    node.started();
    let shutdown = Arc::new(AtomicBool::new(false));

    let mut threads = Vec::new();
    for (i, listeners) in sets.into_iter().enumerate() {
        let spec = WorkerSpec {
            index: i,
            core: (!order.is_empty()).then(|| core_of(order[i % order.len()])).flatten(),
            listeners,
            backend,
            uring,
            socket_buffer,
            shutdown: shutdown.clone(),
            waker: node.waker(i),
        };
        let w = worker::Worker::new(node.clone(), i);
        let t = std::thread::Builder::new()
            .name(format!("cachet-w{i}"))
            .spawn(move || cachet_runtime::run_worker(spec, w))
            .map_err(|e| format!("cannot start worker {i}: {e}"))?;
        threads.push(t);
    }
    Ok(Running { node, shutdown, threads, _sqpoll: sqpoll })
}
