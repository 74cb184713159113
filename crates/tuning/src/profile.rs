//! Deriving a node's settings from its node type (or from the host) — each with its reason.

use crate::catalogue::{Family, Size};
use crate::host::{pin_order, Host};
use serde::Serialize;

/// Bytes per receive buffer: one full TLS record (16 KiB of plaintext plus overhead fits, and
/// a plaintext read of 16 KiB holds hundreds of pipelined small requests).
const RECV_BUFFER_SIZE: usize = 16 * 1024;

/// A derived setting: the directive it sets, its value as the directive reads it, and why.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Setting {
    pub directive: &'static str,
    pub value: String,
    pub reason: String,
}

/// Everything the tuning layer decided for a node.
#[derive(Clone, Debug, Serialize)]
pub struct NodeProfile {
    /// `cache.r6g.large`, or `generic`.
    pub node_type: String,
    /// The family file used (`r6g`), or `generic`.
    pub tuning_profile: String,
    pub arch: String,
    pub cpu: String,
    pub vcpus: usize,
    pub burstable: bool,
    pub network: String,
    /// The published maxmemory before the reserve is taken off (0 for generic: host memory).
    pub published_maxmemory: u64,
    pub reserved_memory_percent: u64,
    pub host_cores: usize,
    /// Workers after capping at the host's cores.
    pub workers: usize,
    /// CPU ids in the order workers take them (worker i gets `pin_order[i]`).
    pub pin_order: Vec<usize>,
    pub maxmemory: u64,
    pub maxclients: u64,
    pub sqpoll: bool,
    /// The CPU for the shared SQPOLL thread, when `sqpoll`.
    pub sqpoll_cpu: Option<usize>,
    pub ring_entries: u32,
    pub recv_buffers: u32,
    pub recv_buffer_size: usize,
    pub tls_ciphersuites: String,
    pub tls_session_cache_size: u64,
    /// SO_SNDBUF/SO_RCVBUF per connection; 0 leaves the kernel's autotuning.
    pub tcp_socket_buffer: u64,
    /// Every setting as a directive, with its reason, in the order `profile show` prints.
    pub settings: Vec<Setting>,
    /// Things the operator should know (capping to the host, generic fallback).
    pub warnings: Vec<String>,
}

fn pow2_floor(n: u64) -> u64 {
    if n == 0 {
        0
    } else {
        1 << (63 - n.leading_zeros())
    }
}

/// The description of a node to derive from: a catalogue size, or the host itself.
pub struct Subject<'a> {
    pub node_type: String,
    pub family: Option<(&'a Family, &'a Size)>,
}

/// Derives the profile for `subject` on `host`, keeping `reserved_memory_percent` of the
/// published memory for the process and the kernel (as the managed service does).
pub fn derive(subject: Subject, host: &Host, reserved_memory_percent: u64) -> NodeProfile {
    let host_cores = host.cores();
    let mut warnings = Vec::new();
    let mut s: Vec<Setting> = Vec::new();
    let mut set = |directive: &'static str, value: String, reason: String| {
        s.push(Setting { directive, value, reason });
    };

    let (profile_name, arch, cpu, vcpus, burstable, network, published, maxclients, fam_settings, smt) =
        match subject.family {
            Some((f, size)) => (
                f.family.clone(),
                f.arch.clone(),
                f.cpu.clone(),
                size.vcpus,
                f.burstable,
                size.network.clone(),
                size.maxmemory_bytes,
                size.maxclients,
                Some(&f.settings),
                f.smt,
            ),
            None => {
                let smt_host = {
                    let mut cores: Vec<_> = host.cpus.iter().map(|c| (c.package, c.core)).collect();
                    cores.sort();
                    cores.dedup();
                    if cores.len() < host.cpus.len() {
                        2
                    } else {
                        1
                    }
                };
                (
                    "generic".to_string(),
                    std::env::consts::ARCH.to_string(),
                    "host".to_string(),
                    host_cores,
                    false,
                    "unknown".to_string(),
                    host.memory_bytes,
                    10000,
                    None,
                    smt_host,
                )
            }
        };

    // Workers: one per vCPU, one core left for interrupts/housekeeping (and the SQPOLL thread)
    // on large sizes.
    let reserve_from = fam_settings.map(|f| f.reserve_core_from_vcpus).unwrap_or(usize::MAX);
    let sqpoll_from = fam_settings.and_then(|f| f.sqpoll_from_vcpus).unwrap_or(usize::MAX);
    let sqpoll_allowed = fam_settings.and_then(|f| f.sqpoll).unwrap_or(true) && !burstable;
    let sqpoll = sqpoll_allowed && vcpus >= sqpoll_from;
    let reserve = vcpus >= reserve_from;
    let wanted = if reserve { vcpus - 1 } else { vcpus }.max(1);
    let workers = wanted.min(host_cores);
    let workers_reason = match (reserve, subject.family.is_some()) {
        (_, false) => format!("one worker per core of this host ({host_cores})"),
        (true, true) => format!(
            "one per vCPU, less one core left to network interrupts and housekeeping{} ({vcpus} vCPUs, reserved from {reserve_from})",
            if sqpoll { " and the shared SQPOLL thread" } else { "" }
        ),
        (false, true) => format!("one per vCPU ({vcpus}); below {reserve_from} vCPUs a worker is worth more than a reserved core"),
    };
    if workers < wanted {
        warnings.push(format!(
            "profile {} wants {wanted} workers but this host has {host_cores} cores: running {workers}",
            subject.node_type
        ));
    }
    set("workers", workers.to_string(), workers_reason);

    let physical_first = fam_settings.map(|f| f.pin_physical_cores_first).unwrap_or(smt > 1);
    let order = pin_order(&host.cpus, physical_first);
    set(
        "cpu-pinning",
        if physical_first { "physical-first" } else { "in-order" }.into(),
        if physical_first {
            "SMT: distinct physical cores first, siblings after, read from sysfs topology".into()
        } else {
            "no SMT: every vCPU is a core, pinned in order".into()
        },
    );

    // Memory: the published figure less the reserve.
    let maxmemory = published / 100 * (100 - reserved_memory_percent)
        + published % 100 * (100 - reserved_memory_percent) / 100;
    set(
        "maxmemory",
        maxmemory.to_string(),
        if subject.family.is_some() {
            format!("published {published} bytes less reserved-memory-percent {reserved_memory_percent}")
        } else {
            format!("host memory {published} bytes less reserved-memory-percent {reserved_memory_percent}")
        },
    );
    set(
        "maxclients",
        maxclients.to_string(),
        if subject.family.is_some() { "the managed service's published limit" } else { "Redis's default" }
            .into(),
    );

    // io_uring sizes.
    let per_worker_clients = maxclients / workers as u64;
    let ring_entries = pow2_floor(per_worker_clients.clamp(256, 4096)) as u32;
    set(
        "io-ring-entries",
        ring_entries.to_string(),
        format!(
            "a loop turn submits at most one send per connection: room for the ~{per_worker_clients} clients a worker serves, between 256 and 4096"
        ),
    );
    let budget = maxmemory / 100 / workers as u64 / RECV_BUFFER_SIZE as u64;
    let recv_buffers = pow2_floor(budget.clamp(256, 4096)) as u32;
    set(
        "io-recv-buffers",
        recv_buffers.to_string(),
        format!(
            "1% of maxmemory per node for receive buffers, split across workers, as a power of two between 256 and 4096 ({} KiB each)",
            RECV_BUFFER_SIZE / 1024
        ),
    );
    let sqpoll_cpu = if sqpoll {
        order.get(workers.min(order.len().saturating_sub(1))).copied().or(Some(0))
    } else {
        None
    };
    set(
        "io-sqpoll",
        if sqpoll { "yes" } else { "no" }.into(),
        if burstable {
            "never on burstable types: a polling thread spends CPU credits".into()
        } else if sqpoll {
            format!("{vcpus} vCPUs: one kernel thread polls every worker's queue from the reserved core")
        } else if subject.family.is_some() {
            format!("below {sqpoll_from} vCPUs a core is worth more as a worker than as a poller")
        } else {
            "generic host: no core is known to be spare".into()
        },
    );

    // TLS.
    let suites = fam_settings.map(|f| f.tls13_ciphersuites.clone()).unwrap_or_else(|| {
        "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256".into()
    });
    set(
        "tls-ciphersuites",
        suites.clone(),
        if suites.starts_with("TLS_AES_128") {
            "AES-NI without VAES: AES-128-GCM's 10 rounds first, AES-256 next, ChaCha20 for clients without AES".into()
        } else {
            "AES instructions make AES-GCM fastest; ChaCha20-Poly1305 last for clients without them".into()
        },
    );
    let cache = maxclients.clamp(20480, 131072);
    set(
        "tls-session-cache-size",
        cache.to_string(),
        "one TLS 1.2 session per client that can be connected (maxclients), at least Redis's 20480".into(),
    );

    // Socket buffers.
    let slow = matches!(network.as_str(), "low-to-moderate" | "moderate" | "up-to-5");
    let tcp_socket_buffer = if slow && maxmemory < 4 << 30 { 128 * 1024 } else { 0 };
    set(
        "tcp-socket-buffer",
        tcp_socket_buffer.to_string(),
        if tcp_socket_buffer > 0 {
            format!("network class {network}: its bandwidth-delay product at in-region RTT fits 128 KiB; capping bounds kernel memory across {maxclients} clients on a small node")
        } else {
            "0 = kernel autotuning, which sizes buffers to the path (fast network or memory to spare)".into()
        },
    );

    NodeProfile {
        node_type: subject.node_type,
        tuning_profile: profile_name,
        arch,
        cpu,
        vcpus,
        burstable,
        network,
        published_maxmemory: published,
        reserved_memory_percent,
        host_cores,
        workers,
        pin_order: order,
        maxmemory,
        maxclients,
        sqpoll,
        sqpoll_cpu,
        ring_entries,
        recv_buffers,
        recv_buffer_size: RECV_BUFFER_SIZE,
        tls_ciphersuites: suites,
        tls_session_cache_size: cache,
        tcp_socket_buffer,
        settings: s,
        warnings,
    }
}
