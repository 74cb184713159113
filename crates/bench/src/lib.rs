//! `cachet bench`: a load generator for any RESP server, with memtier_benchmark's flags, over
//! TLS or plaintext, closed loop or paced (open loop), with persistent connections or churn.
//! Results: a progress line a second, a table at the end, `--json-out-file`, and an HTML
//! report (`--report`, or `cachet report` over several JSON files).

pub mod client;
pub mod keys;
pub mod opts;
pub mod probe;
pub mod rate;
pub mod reply;
pub mod report;
pub mod run;
pub mod stats;
pub mod tlsconf;

pub use opts::BenchArgs;
use stats::{Host, Output, Overhead, RunResult};
use std::path::{Path, PathBuf};

/// The host, for the record.
pub fn host() -> Host {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").or_else(|| l.strip_prefix("CPU part")))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let mem_kb: f64 = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    Host {
        hostname: read("/proc/sys/kernel/hostname").trim().to_string(),
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        cpu_model,
        // The machine's, not this process's CPU set (compare.sh pins the generator to one).
        cpus: cpuinfo.lines().filter(|l| l.starts_with("processor")).count().max(1),
        memory_gib: (mem_kb / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        arch: std::env::consts::ARCH.to_string(),
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

/// TLS ÷ plaintext for the same workload.
pub fn overhead(tls: &RunResult, plain: &RunResult) -> Overhead {
    let (t, p) = (&tls.totals, &plain.totals);
    Overhead {
        ops_per_sec: ratio(t.ops_per_sec, p.ops_per_sec),
        p50: ratio(t.latency_ms.p50, p.latency_ms.p50),
        p99: ratio(t.latency_ms.p99, p.latency_ms.p99),
        server_cpu_per_request: match (&t.server_cpu, &p.server_cpu) {
            (Some(a), Some(b)) => Some(ratio(a.us_per_request, b.us_per_request)),
            _ => None,
        },
    }
}

/// The end-of-run table.
pub fn table(runs: &[RunResult]) -> String {
    let mut s = String::new();
    for r in runs {
        let t = &r.totals;
        let l = &t.latency_ms;
        s += &format!("== {}\n", r.label);
        if let Some(tls) = &r.tls_session {
            s += &format!("   TLS: {} {}\n", tls.protocol, tls.cipher_suite);
        }
        s += &format!(
            "   {:>12} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
            "ops/s", "hits/s", "misses/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "errors"
        );
        s += &format!(
            "   {:>12.0} {:>10.0} {:>10.0} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10}\n",
            t.ops_per_sec,
            t.hits as f64 / t.duration_s,
            t.misses as f64 / t.duration_s,
            l.p50,
            l.p90,
            l.p99,
            l.p99_9,
            l.max,
            t.error_count()
        );
        s += &format!(
            "   {} requests in {:.2} s: {} SET, {} GET ({} hits, {} misses)\n",
            t.ops, t.duration_s, t.sets, t.gets, t.hits, t.misses
        );
        if let Some(h) = &t.handshakes {
            s += &format!(
                "   handshakes: {} ({:.0}/s; {} full, {} resumed), latency p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms\n",
                h.count, h.per_sec, h.full, h.resumed, h.latency_ms.p50, h.latency_ms.p99, h.latency_ms.max
            );
        }
        if let Some(c) = &t.server_cpu {
            s += &format!(
                "   server CPU (pid {}): {:.3} s, {:.3} us per request",
                c.pid, c.seconds, c.us_per_request
            );
            if let Some(pc) = c.us_per_connection {
                s += &format!(", {pc:.1} us per connection");
            }
            s += "\n";
        }
        for (kind, n) in &t.errors {
            s += &format!("   errors {kind}: {n}\n");
        }
    }
    s
}

fn write_outputs(args: &BenchArgs, out: &Output) -> Result<(), String> {
    if let Some(p) = &args.json_out_file {
        let json = serde_json::to_string_pretty(out).map_err(|e| e.to_string())?;
        std::fs::write(p, json).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
    }
    if let Some(p) = &args.report {
        report::write(std::slice::from_ref(out), p)?;
    }
    Ok(())
}

pub fn output(runs: Vec<RunResult>, tls_overhead: Option<Overhead>) -> Output {
    Output {
        tool: "cachet bench".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        rustls_provider: "aws-lc-rs".into(),
        host: host(),
        runs,
        tls_overhead,
    }
}

/// `cachet bench`.
pub fn bench(args: &BenchArgs) -> Result<(), String> {
    let w = args.workload()?;
    let progress = !args.hide_progress;
    let first = run::run(&w, args.run_label.as_deref(), progress)?;
    let mut runs = vec![first];
    let mut over = None;
    if let Some(port) = args.compare_plaintext {
        let mut plain = w.clone();
        plain.tls = None;
        plain.port = port;
        let label = args.run_label.as_ref().map(|l| format!("{l} (plaintext)"));
        if progress {
            eprintln!("-- the same workload in plaintext on port {port}");
        }
        let p = run::run(&plain, label.as_deref(), progress)?;
        over = Some(overhead(&runs[0], &p));
        runs.push(p);
    }
    print!("{}", table(&runs));
    if let Some(o) = &over {
        println!("TLS overhead (TLS / plaintext, same workload, back to back):");
        println!("   ops/s {:.3}   p50 {:.3}   p99 {:.3}", o.ops_per_sec, o.p50, o.p99);
        if let Some(c) = o.server_cpu_per_request {
            println!("   server CPU per request {c:.3}");
        }
    }
    write_outputs(args, &output(runs, over))
}

/// `cachet report run1.json run2.json ... -o FILE.html`.
pub fn report_files(inputs: &[PathBuf], out: &Path) -> Result<(), String> {
    let mut outputs = Vec::new();
    for p in inputs {
        let text = std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        let o: Output = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a cachet bench JSON file: {e}", p.display()))?;
        outputs.push(o);
    }
    if outputs.is_empty() {
        return Err("no JSON files given".into());
    }
    report::write(&outputs, out)
}
