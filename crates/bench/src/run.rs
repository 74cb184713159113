//! A run: the load threads (each pinned, each with its own poll loop and connections), and the
//! main thread merging their per-second intervals into the progress line, the timeline and
//! the totals.

use crate::client::{Client, Shared};
use crate::keys::{KeyGen, OpCycle};
use crate::opts::Workload;
use crate::rate::Pacer;
use crate::stats::{self, Handshakes, Interval, Latency, RunResult, Second, ServerCpu, TlsSession, Totals};
use crate::{probe, tlsconf};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use mio::{Events, Poll, Token};
use rustls::ClientConfig;
use std::collections::BTreeMap;
use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECOND: u64 = 1_000_000_000;

enum Report {
    /// Thread `thread`'s interval for second `second`.
    Tick {
        thread: usize,
        second: u64,
        interval: Box<Interval>,
    },
    /// Its last (partial) second, and when it stopped.
    Done {
        thread: usize,
        second: u64,
        interval: Box<Interval>,
        at_ns: u64,
    },
    Failed {
        error: String,
    },
}

fn now_ns(start: Instant) -> u64 {
    start.elapsed().as_nanos() as u64
}

fn load_thread(
    t: usize,
    w: &Workload,
    sh: Shared,
    tls: Option<Arc<ClientConfig>>,
    start: Instant,
    tx: &Sender<Report>,
) {
    let mut poll = match Poll::new() {
        Ok(p) => p,
        Err(e) => {
            let _ = tx.send(Report::Failed { error: format!("poll: {e}") });
            return;
        }
    };
    let conns = w.connections();
    let mut clients: Vec<Client> = (0..w.clients)
        .map(|i| {
            let global = t * w.clients + i;
            let pacer = w.rate.map(|r| Pacer::new(0, r, conns, global));
            let seed = 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(global as u64 + 1);
            let keys = KeyGen::new(&w.keys, global as u64, conns as u64, seed);
            let own_tls = tls
                .as_ref()
                .map(|base| tlsconf::own_sessions(base, w.tls.as_ref().is_some_and(|o| o.resume)));
            Client::new(Token(i), own_tls, w.requests, pacer, keys, OpCycle::new(w.ratio, global as u32))
        })
        .collect();
    let mut events = Events::with_capacity(1024);
    let mut iv = Interval::default();
    let mut second = 0u64;
    let reg = poll.registry().try_clone().expect("a registry clone is an fd dup");
    // A timed run's last second: replies that come after the end, to requests sent before
    // it, are counted in it.
    let last_second = sh.end_ns.map(|e| e.div_ceil(SECOND).saturating_sub(1));
    let mut next_check = SECOND;
    let mut ended = false;
    let mut now = now_ns(start);
    for c in clients.iter_mut() {
        c.drive(&reg, &sh, now, &mut iv);
    }
    loop {
        now = now_ns(start);
        if now >= next_check {
            for c in clients.iter_mut() {
                c.check_timeout(&reg, &sh, now, &mut iv);
            }
            next_check = (now / SECOND + 1) * SECOND;
        }
        while now >= (second + 1) * SECOND && last_second.is_none_or(|l| second < l) {
            let done = std::mem::take(&mut iv);
            let _ = tx.send(Report::Tick { thread: t, second, interval: Box::new(done) });
            second += 1;
        }
        if !ended && sh.end_ns.is_some_and(|e| now >= e) {
            ended = true;
            for c in clients.iter_mut() {
                c.at_end(&reg, &sh);
            }
        }
        if clients.iter().all(Client::finished) {
            break;
        }
        let mut wake = next_check;
        if last_second.is_none_or(|l| second < l) {
            wake = wake.min((second + 1) * SECOND);
        }
        if let (Some(e), false) = (sh.end_ns, ended) {
            wake = wake.min(e);
        }
        let mut timed = false;
        for c in &clients {
            if let Some(at) = c.wake_at(&sh) {
                wake = wake.min(at);
                timed = true;
            }
        }
        // epoll's timeout is in whole milliseconds: within a millisecond of the next due
        // request, poll without sleeping so paced requests leave on time.
        let left = wake.saturating_sub(now);
        let timeout = if left < 1_000_000 { Duration::ZERO } else { Duration::from_nanos(left - 1_000_000) };
        if poll.poll(&mut events, Some(timeout)).is_err() {
            continue;
        }
        now = now_ns(start);
        for e in events.iter() {
            clients[e.token().0].drive(&reg, &sh, now, &mut iv);
        }
        if timed {
            // Connections with no socket event: only what their clocks say (a due request,
            // a redial), without a read that would find nothing.
            for c in clients.iter_mut() {
                c.on_time(&reg, &sh, now, &mut iv);
            }
        }
    }
    let _ = tx.send(Report::Done { thread: t, second, interval: Box::new(iv), at_ns: now });
}

fn proc_cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a constant of the running system; it has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Runs one workload to the end and returns what it measured.
pub fn run(w: &Workload, label: Option<&str>, progress: bool) -> Result<RunResult, String> {
    let addr = (w.server.as_str(), w.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}:{}: {e}", w.server, w.port))?
        .next()
        .ok_or_else(|| format!("{} resolves to no address", w.server))?;
    let probe = probe::probe(w, addr)?;
    let value = vec![b'x'; w.data_size];
    let auth = w.auth.as_ref().map(probe::auth_command);
    let warmup_ns = w.warmup * SECOND;
    let end_ns = w.test_time.map(|t| warmup_ns + t * SECOND);
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let (tx, rx) = crossbeam_channel::unbounded();
    let cpu_ticks = clock_ticks();
    let mut cpu_start = None;
    if w.warmup == 0 {
        cpu_start = w.server_pid.and_then(proc_cpu_ticks);
    }
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..w.threads {
        let (tls, server_name) = match &w.tls {
            Some(o) => {
                let (cfg, name) = tlsconf::client(o)?;
                (Some(cfg), Some(name))
            }
            None => (None, None),
        };
        let sh = Shared {
            addr,
            server_name,
            pipeline: w.pipeline,
            key_prefix: w.key_prefix.as_bytes().to_vec(),
            value: value.clone(),
            auth: auth.clone(),
            reconnect_interval: w.reconnect_interval,
            warmup_ns,
            end_ns,
            timeout_ns: w.timeout * SECOND,
        };
        let core = (!cores.is_empty()).then(|| cores[t % cores.len()]);
        let (w, tx) = (w.clone(), tx.clone());
        let h = std::thread::Builder::new()
            .name(format!("bench-{t}"))
            .spawn(move || {
                if let Some(c) = core {
                    core_affinity::set_for_current(c);
                }
                load_thread(t, &w, sh, tls, start, &tx);
            })
            .map_err(|e| format!("cannot start a load thread: {e}"))?;
        handles.push(h);
    }
    drop(tx);
    let collected = collect(w, &rx, start, progress, &mut cpu_start);
    for h in handles {
        let _ = h.join();
    }
    let (seconds, finish_ns) = collected?;
    let cpu_end = w.server_pid.and_then(proc_cpu_ticks);
    let mut total = Interval::default();
    let mut timeline = Vec::new();
    let last = seconds.keys().next_back().copied().unwrap_or(0);
    for (&s, iv) in &seconds {
        let len =
            if s == last { finish_ns.saturating_sub(s * SECOND).clamp(1, SECOND) as f64 / 1e9 } else { 1.0 };
        let warm = s < w.warmup;
        if !warm {
            total.merge(iv);
        }
        // The threads' final reports can open a sliver of a second past the end: not a point.
        if len >= 0.01 || iv.ops() > 0 {
            timeline.push(Second::of(s + 1, warm, iv, len));
        }
    }
    // A timed run measures the requests sent in its --test-time (the replies to the last of
    // them may come a little after it).
    let duration_s = match w.test_time {
        Some(t) => t as f64,
        None => (finish_ns.saturating_sub(warmup_ns) as f64 / 1e9).max(1e-9),
    };
    let ops = total.ops();
    let server_cpu = match (w.server_pid, cpu_start, cpu_end) {
        (Some(pid), Some(a), Some(b)) => {
            let seconds = b.saturating_sub(a) as f64 / cpu_ticks;
            Some(ServerCpu {
                pid,
                seconds,
                us_per_request: if ops > 0 { seconds * 1e6 / ops as f64 } else { 0.0 },
                us_per_connection: (w.reconnect_interval.is_some() && total.handshakes > 0)
                    .then(|| seconds * 1e6 / total.handshakes as f64),
            })
        }
        _ => None,
    };
    let handshakes =
        (w.reconnect_interval.is_some() || total.handshakes > w.connections() as u64).then(|| Handshakes {
            count: total.handshakes,
            per_sec: total.handshakes as f64 / duration_s,
            resumed: total.resumed,
            full: total.handshakes - total.resumed,
            latency_ms: Latency::of(&total.handshake_latency),
        });
    let totals = Totals {
        duration_s,
        ops,
        ops_per_sec: ops as f64 / duration_s,
        sets: total.sets,
        gets: total.gets,
        hits: total.hits,
        misses: total.misses,
        errors: total.errors.clone(),
        latency_ms: Latency::of(&total.latency),
        handshakes,
        server_cpu,
    };
    let label = label.map(str::to_string).unwrap_or_else(|| default_label(w, &probe.info));
    Ok(RunResult {
        label,
        config: serde_json::to_value(w).map_err(|e| e.to_string())?,
        server: probe.info,
        tls_session: probe.tls.map(|(protocol, cipher_suite)| TlsSession { protocol, cipher_suite }),
        totals,
        percentiles: stats::percentile_curve(&total.latency),
        timeline,
    })
}

fn default_label(w: &Workload, info: &BTreeMap<String, String>) -> String {
    let name = if info.contains_key("cachet_version") {
        "cachet".to_string()
    } else {
        info.get("server_name").cloned().unwrap_or_else(|| "redis".into())
    };
    let version = info
        .get("cachet_version")
        .or_else(|| info.get("valkey_version"))
        .or_else(|| info.get("redis_version"))
        .cloned()
        .unwrap_or_default();
    let mode = if w.tls.is_some() { "TLS" } else { "plain" };
    format!("{name} {version} {mode} P{}", w.pipeline)
}

type Collected = (BTreeMap<u64, Interval>, u64);

/// Merges the threads' reports; prints a progress line per second once every thread has
/// reported it.
fn collect(
    w: &Workload,
    rx: &Receiver<Report>,
    start: Instant,
    progress: bool,
    cpu_start: &mut Option<u64>,
) -> Result<Collected, String> {
    let mut seconds: BTreeMap<u64, Interval> = BTreeMap::new();
    let mut reported = vec![0u64; w.threads];
    let mut done = 0;
    let mut finish_ns = 0;
    let mut printed = 0u64;
    let warmup_deadline = start + Duration::from_secs(w.warmup);
    loop {
        let msg = if cpu_start.is_none() && w.server_pid.is_some() {
            match rx.recv_timeout(warmup_deadline.saturating_duration_since(Instant::now())) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    *cpu_start = w.server_pid.and_then(proc_cpu_ticks);
                    if cpu_start.is_none() {
                        return Err(format!("cannot read /proc/{}/stat", w.server_pid.unwrap_or(0)));
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(m) => m,
                Err(_) => break,
            }
        };
        match msg {
            Report::Tick { thread, second, interval } => {
                seconds.entry(second).or_default().merge(&interval);
                reported[thread] = second + 1;
            }
            Report::Done { thread, second, interval, at_ns } => {
                seconds.entry(second).or_default().merge(&interval);
                reported[thread] = u64::MAX;
                finish_ns = finish_ns.max(at_ns);
                done += 1;
            }
            Report::Failed { error } => return Err(error),
        }
        let complete = reported.iter().copied().min().unwrap_or(0);
        while printed < complete && seconds.contains_key(&printed) && complete != u64::MAX {
            if progress {
                print_progress(w, printed, &seconds[&printed]);
            }
            printed += 1;
        }
        if done == w.threads {
            break;
        }
    }
    Ok((seconds, finish_ns))
}

fn print_progress(w: &Workload, second: u64, iv: &Interval) {
    let mut line = format!(
        "[{:>4}s] {:>10.0} ops/s  p99 {:>8.3} ms  errors {}",
        second + 1,
        iv.ops(),
        stats::quantile_ms(&iv.latency, 0.99),
        iv.error_count()
    );
    if w.reconnect_interval.is_some() {
        line.push_str(&format!("  handshakes {}/s", iv.handshakes));
    }
    if second < w.warmup {
        line.push_str("  (warm-up)");
    }
    eprintln!("{line}");
}
