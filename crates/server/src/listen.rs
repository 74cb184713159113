//! Listening sockets for a node: one SO_REUSEPORT set per worker, bound at start-up and again
//! when `CONFIG SET port/tls-port/bind` changes them on a live node.
//!
//! `port 0` asks the OS for a free port (the ready line and `CONFIG GET port` name the one
//! chosen); unlike Redis, it does not turn the plaintext port off: a node that must refuse
//! plaintext says so with `transit-encryption-mode required`.

use cachet_runtime::listener::bind_reuseport;
use std::net::{IpAddr, SocketAddr, TcpListener};

/// What a node listens on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenPlan {
    pub addrs: Vec<IpAddr>,
    pub port: u16,
    /// 0 = no separate TLS port.
    pub tls_port: u16,
}

/// Parses `bind`: addresses separated by spaces; a leading `-` (Redis: "skip if unavailable")
/// is accepted and ignored; `localhost` means 127.0.0.1.
pub fn parse_bind(bind: &[String]) -> Result<Vec<IpAddr>, String> {
    let addrs: Vec<IpAddr> = bind
        .iter()
        .map(|b| {
            let s = b.trim_start_matches('-');
            let s = if s == "localhost" { "127.0.0.1" } else { s };
            s.parse().map_err(|_| format!("bind: '{s}' is not an IP address"))
        })
        .collect::<Result<_, _>>()?;
    if addrs.is_empty() {
        return Err("bind: no address given".into());
    }
    Ok(addrs)
}

/// Binds one worker's set for `plan`, resolving port 0 on the first address; returns the
/// listeners and the plan with actual ports.
fn bind_set(plan: &ListenPlan) -> Result<(Vec<TcpListener>, ListenPlan), String> {
    let mut out = Vec::new();
    let mut actual = plan.clone();
    for &ip in &plan.addrs {
        let l = bind_reuseport(SocketAddr::new(ip, actual.port))
            .map_err(|e| format!("cannot listen on {ip}:{}: {e}", actual.port))?;
        actual.port = l.local_addr().map_err(|e| e.to_string())?.port();
        out.push(l);
        if plan.tls_port != 0 {
            let l = bind_reuseport(SocketAddr::new(ip, actual.tls_port))
                .map_err(|e| format!("cannot listen on {ip}:{} (tls-port): {e}", actual.tls_port))?;
            actual.tls_port = l.local_addr().map_err(|e| e.to_string())?.port();
            out.push(l);
        }
    }
    Ok((out, actual))
}

/// Binds a set for each of `workers` workers (all on the same ports); returns the sets and
/// the plan with actual ports. Nothing stays bound on error.
pub fn bind_all(plan: &ListenPlan, workers: usize) -> Result<(Vec<Vec<TcpListener>>, ListenPlan), String> {
    let (first, actual) = bind_set(plan)?;
    let mut sets = vec![first];
    for _ in 1..workers.max(1) {
        sets.push(bind_set(&actual)?.0);
    }
    Ok((sets, actual))
}
