//! `cachet bench`'s options, named as memtier_benchmark names them, and their checked form.

use crate::keys::{KeyRange, Pattern, Ratio};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

/// The command line of `cachet bench`. Defaults are memtier_benchmark's where it has the flag.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Server host name or address.
    #[arg(short = 's', long, default_value = "localhost")]
    pub server: String,
    /// Server port.
    #[arg(short = 'p', long, default_value_t = 6379)]
    pub port: u16,
    /// Speak TLS to the server.
    #[arg(long)]
    pub tls: bool,
    /// CA certificate (PEM) that the server's certificate must chain to.
    #[arg(long)]
    pub cacert: Option<PathBuf>,
    /// Client certificate (PEM) to present, with --key.
    #[arg(long)]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Do not verify the server's certificate (measurement only; never in production).
    #[arg(long)]
    pub tls_skip_verify: bool,
    /// Server name to send and verify (default: --server).
    #[arg(long)]
    pub sni: Option<String>,
    /// TLS versions to offer: TLSv1.2, TLSv1.3 or both, comma-separated (default both).
    #[arg(long)]
    pub tls_protocols: Option<String>,
    /// AUTH on every connection: PASSWORD or USER:PASSWORD.
    #[arg(short = 'a', long)]
    pub authenticate: Option<String>,
    /// Load threads, each pinned to a core of this process's CPU set.
    #[arg(short = 't', long, default_value_t = 4)]
    pub threads: usize,
    /// Connections per thread.
    #[arg(short = 'c', long, default_value_t = 50)]
    pub clients: usize,
    /// Requests each connection keeps in flight.
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// SET:GET ratio.
    #[arg(long, default_value = "1:10")]
    pub ratio: String,
    /// Value size in bytes.
    #[arg(short = 'd', long, default_value_t = 32)]
    pub data_size: usize,
    /// Prefix of every key.
    #[arg(long, default_value = "memtier-")]
    pub key_prefix: String,
    /// Smallest key number (keys are the prefix and a number).
    #[arg(long, default_value_t = 0)]
    pub key_minimum: u64,
    /// Largest key number.
    #[arg(long, default_value_t = 10_000_000)]
    pub key_maximum: u64,
    /// Key pattern for SETs and GETs: R (random), S (sequential) or G (gaussian); `S:R` gives
    /// each its own.
    #[arg(long, default_value = "R:R")]
    pub key_pattern: String,
    /// Standard deviation of the gaussian pattern (default: range / 6).
    #[arg(long)]
    pub key_stddev: Option<f64>,
    /// Centre of the gaussian pattern (default: middle of the range).
    #[arg(long)]
    pub key_median: Option<f64>,
    /// Requests per connection (default 10000 unless --test-time is given).
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// Seconds to send requests for (after --warmup); those in flight at the end are awaited.
    #[arg(long)]
    pub test_time: Option<u64>,
    /// Open loop: requests per second over all connections, each sent at its scheduled time;
    /// latency counts from that time, so a stalled server is not hidden (coordinated omission).
    #[arg(long)]
    pub rate: Option<u64>,
    /// A new connection every N requests (connection churn).
    #[arg(long)]
    pub reconnect_interval: Option<u64>,
    /// Resume TLS sessions on reconnect (yes) or make every handshake a full one (no).
    #[arg(long, default_value = "yes")]
    pub tls_resume: String,
    /// Seconds of load before measuring; not counted in the results.
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// Write the results, configuration, versions and host as JSON.
    #[arg(long)]
    pub json_out_file: Option<PathBuf>,
    /// Run the same workload again in plaintext on this port and print the TLS overhead.
    #[arg(long)]
    pub compare_plaintext: Option<u16>,
    /// Write an HTML report of this run.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Read this process's CPU time from /proc before and after: server CPU per request.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Seconds a connection may wait for its handshake or a reply before it is closed and
    /// counted as an error (it does not reconnect: a silent server ends the run).
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// Name of the run in the table, JSON and report (default: server, version, TLS or not).
    #[arg(long)]
    pub run_label: Option<String>,
    /// No progress line.
    #[arg(long)]
    pub hide_progress: bool,
}

/// TLS settings, checked.
#[derive(Debug, Clone, Serialize)]
pub struct TlsOpts {
    pub cacert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub skip_verify: bool,
    pub sni: String,
    pub protocols: Vec<String>,
    pub resume: bool,
}

/// One workload against one endpoint, checked: what a run needs and what its JSON records.
#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    pub server: String,
    pub port: u16,
    pub tls: Option<TlsOpts>,
    /// `-a` as (user, password); recorded in the JSON as `authenticate: true/false` only.
    #[serde(rename = "authenticate", serialize_with = "present")]
    pub auth: Option<(Option<String>, String)>,
    pub threads: usize,
    pub clients: usize,
    pub pipeline: usize,
    pub ratio: Ratio,
    pub data_size: usize,
    pub key_prefix: String,
    pub keys: KeyRange,
    pub requests: Option<u64>,
    pub test_time: Option<u64>,
    pub rate: Option<u64>,
    pub reconnect_interval: Option<u64>,
    pub warmup: u64,
    pub timeout: u64,
    pub server_pid: Option<u32>,
}

/// Serialises whether a secret was given, never the secret.
fn present<T, S: serde::Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(v.is_some())
}

impl Workload {
    pub fn connections(&self) -> usize {
        self.threads * self.clients
    }
}

/// Upper bounds that keep a typo from exhausting the machine.
const MAX_CONNECTIONS: usize = 100_000;
const MAX_DATA_SIZE: usize = 512 * 1024 * 1024;
const MAX_PIPELINE: usize = 100_000;

fn yes_no(flag: &str, v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Ok(true),
        "no" | "false" | "0" => Ok(false),
        _ => Err(format!("--{flag} takes yes or no, not '{v}'")),
    }
}

fn protocols(v: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for p in v.split([',', ' ']).filter(|p| !p.is_empty()) {
        let name = match p.to_ascii_lowercase().as_str() {
            "tlsv1.2" | "1.2" => "TLSv1.2",
            "tlsv1.3" | "1.3" => "TLSv1.3",
            _ => return Err(format!("--tls-protocols: '{p}' is not TLSv1.2 or TLSv1.3")),
        };
        if !out.iter().any(|o| o == name) {
            out.push(name.to_string());
        }
    }
    if out.is_empty() {
        return Err("--tls-protocols names no version".into());
    }
    Ok(out)
}

impl BenchArgs {
    /// The checked workload, or the first thing wrong with the options.
    pub fn workload(&self) -> Result<Workload, String> {
        if self.threads == 0 || self.clients == 0 {
            return Err("--threads and --clients must be at least 1".into());
        }
        if self.threads.saturating_mul(self.clients) > MAX_CONNECTIONS {
            return Err(format!("--threads x --clients is over {MAX_CONNECTIONS} connections"));
        }
        if self.pipeline == 0 || self.pipeline > MAX_PIPELINE {
            return Err(format!("--pipeline must be 1..={MAX_PIPELINE}"));
        }
        if self.data_size > MAX_DATA_SIZE {
            return Err(format!("--data-size is over {MAX_DATA_SIZE} bytes (Redis's proto-max-bulk-len)"));
        }
        if self.requests == Some(0) || self.test_time == Some(0) {
            return Err("--requests and --test-time must be at least 1".into());
        }
        if self.rate == Some(0) {
            return Err("--rate must be at least 1 request per second".into());
        }
        if self.timeout == 0 {
            return Err("--timeout must be at least 1 second".into());
        }
        if self.reconnect_interval == Some(0) {
            return Err("--reconnect-interval must be at least 1".into());
        }
        let ratio = Ratio::parse(&self.ratio)?;
        let (set_pattern, get_pattern) = Pattern::parse_pair(&self.key_pattern)?;
        let keys = KeyRange::new(
            self.key_minimum,
            self.key_maximum,
            set_pattern,
            get_pattern,
            self.key_median,
            self.key_stddev,
        )?;
        let resume = yes_no("tls-resume", &self.tls_resume)?;
        let any_tls_flag = self.cacert.is_some()
            || self.cert.is_some()
            || self.key.is_some()
            || self.tls_skip_verify
            || self.sni.is_some()
            || self.tls_protocols.is_some();
        let tls = if self.tls {
            if self.cacert.is_none() && !self.tls_skip_verify {
                return Err("--tls needs --cacert to verify the server (or --tls-skip-verify)".into());
            }
            if self.cert.is_some() != self.key.is_some() {
                return Err("--cert and --key go together".into());
            }
            Some(TlsOpts {
                cacert: self.cacert.clone(),
                cert: self.cert.clone(),
                key: self.key.clone(),
                skip_verify: self.tls_skip_verify,
                sni: self.sni.clone().unwrap_or_else(|| self.server.clone()),
                protocols: protocols(self.tls_protocols.as_deref().unwrap_or("TLSv1.2,TLSv1.3"))?,
                resume,
            })
        } else if any_tls_flag {
            return Err("TLS options given without --tls".into());
        } else {
            None
        };
        if self.compare_plaintext.is_some() && tls.is_none() {
            return Err("--compare-plaintext compares a TLS run with a plaintext one: add --tls".into());
        }
        let auth = self.authenticate.as_ref().map(|a| match a.split_once(':') {
            Some((user, pass)) => (Some(user.to_string()), pass.to_string()),
            None => (None, a.clone()),
        });
        let requests = match (self.requests, self.test_time) {
            (None, None) => Some(10_000),
            (r, _) => r,
        };
        Ok(Workload {
            server: self.server.clone(),
            port: self.port,
            tls,
            auth,
            threads: self.threads,
            clients: self.clients,
            pipeline: self.pipeline,
            ratio,
            data_size: self.data_size,
            key_prefix: self.key_prefix.clone(),
            keys,
            requests,
            test_time: self.test_time,
            rate: self.rate,
            reconnect_interval: self.reconnect_interval,
            warmup: self.warmup,
            timeout: self.timeout,
            server_pid: self.server_pid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn parse(line: &str) -> Result<Workload, String> {
        let argv = std::iter::once("bench").chain(line.split_whitespace());
        Cli::try_parse_from(argv).map_err(|e| e.to_string())?.args.workload()
    }

    #[test]
    fn memtier_flags_parse_into_a_workload() {
        let w = parse(
            "-s 127.0.0.1 -p 7000 --tls --cacert ca.crt --cert c.crt --key c.key --sni localhost \
             -a alice:secret -t 2 -c 25 --pipeline 16 --ratio 1:4 -d 1024 --key-prefix k: \
             --key-minimum 5 --key-maximum 500 --key-pattern S:G --test-time 3 --rate 1000 \
             --reconnect-interval 10 --tls-resume no --warmup 1",
        )
        .unwrap();
        assert_eq!((w.server.as_str(), w.port, w.threads, w.clients), ("127.0.0.1", 7000, 2, 25));
        assert_eq!((w.pipeline, w.data_size, w.connections()), (16, 1024, 50));
        assert_eq!((w.ratio.set, w.ratio.get), (1, 4));
        assert_eq!((w.keys.min, w.keys.max), (5, 500));
        assert_eq!((w.keys.set_pattern, w.keys.get_pattern), (Pattern::Sequential, Pattern::Gaussian));
        assert_eq!(
            (w.requests, w.test_time, w.rate, w.reconnect_interval),
            (None, Some(3), Some(1000), Some(10))
        );
        let tls = w.tls.unwrap();
        assert_eq!((tls.sni.as_str(), tls.resume, tls.protocols.len()), ("localhost", false, 2));
        assert_eq!(w.auth, Some((Some("alice".into()), "secret".into())));
    }

    #[test]
    fn defaults_are_memtiers() {
        let w = parse("").unwrap();
        assert_eq!(
            (w.server.as_str(), w.port, w.threads, w.clients, w.pipeline),
            ("localhost", 6379, 4, 50, 1)
        );
        assert_eq!((w.ratio.set, w.ratio.get, w.data_size), (1, 10, 32));
        assert_eq!((w.requests, w.keys.max, w.key_prefix.as_str()), (Some(10_000), 10_000_000, "memtier-"));
        assert!(w.tls.is_none() && w.auth.is_none());
        let w = parse("-a pw --key-pattern G --tls --tls-skip-verify --tls-protocols TLSv1.2").unwrap();
        assert_eq!(w.auth, Some((None, "pw".into())));
        assert_eq!(w.keys.set_pattern, Pattern::Gaussian);
        assert_eq!(w.tls.unwrap().protocols, ["TLSv1.2"]);
    }

    #[test]
    fn contradictions_and_bad_values_are_refused() {
        for (line, want) in [
            ("--tls", "--cacert"),
            ("--cacert ca.crt", "without --tls"),
            ("--tls --cacert a --cert c", "go together"),
            ("--ratio 1-10", "ratio"),
            ("--ratio 0:0", "ratio"),
            ("--key-pattern X", "key-pattern"),
            ("--key-minimum 10 --key-maximum 5", "key-minimum"),
            ("--pipeline 0", "pipeline"),
            ("-c 0", "at least 1"),
            ("--rate 0", "rate"),
            ("--tls-resume maybe", "yes or no"),
            ("--tls --tls-skip-verify --tls-protocols TLSv1.1", "TLSv1.1"),
            ("--compare-plaintext 7001", "add --tls"),
            ("-n 0", "at least 1"),
            ("-t 1000 -c 1000", "connections"),
        ] {
            let e = parse(line).expect_err(line);
            assert!(e.contains(want), "{line}: {e}");
        }
    }
}
