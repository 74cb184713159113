//! What a run measured: per-second intervals from each load thread, merged into the timeline
//! and the totals, and the serialised result (`--json-out-file`, input of `cachet report`).

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Latencies are recorded in nanoseconds, 3 significant digits, up to a minute.
pub const LATENCY_MAX_NS: u64 = 60_000_000_000;

pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_NS, 3).expect("static histogram bounds are valid")
}

/// What one load thread saw in one second (or, merged, what all of them saw).
#[derive(Clone)]
pub struct Interval {
    pub sets: u64,
    pub gets: u64,
    pub hits: u64,
    pub misses: u64,
    pub errors: BTreeMap<String, u64>,
    pub latency: Histogram<u64>,
    pub handshakes: u64,
    pub resumed: u64,
    pub handshake_latency: Histogram<u64>,
}

impl Default for Interval {
    fn default() -> Self {
        Interval {
            sets: 0,
            gets: 0,
            hits: 0,
            misses: 0,
            errors: BTreeMap::new(),
            latency: histogram(),
            handshakes: 0,
            resumed: 0,
            handshake_latency: histogram(),
        }
    }
}

impl Interval {
    /// Replies to measured requests (errors included: the server answered).
    pub fn ops(&self) -> u64 {
        self.sets + self.gets
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn error(&mut self, kind: &str) {
        match self.errors.get_mut(kind) {
            Some(n) => *n += 1,
            None => {
                self.errors.insert(kind.to_string(), 1);
            }
        }
    }

    pub fn merge(&mut self, o: &Interval) {
        self.sets += o.sets;
        self.gets += o.gets;
        self.hits += o.hits;
        self.misses += o.misses;
        for (k, v) in &o.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency.add(&o.latency);
        self.handshakes += o.handshakes;
        self.resumed += o.resumed;
        let _ = self.handshake_latency.add(&o.handshake_latency);
    }
}

pub fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// The latency at quantile `q` in milliseconds; 0 when nothing was recorded.
pub fn quantile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        ms(h.value_at_quantile(q))
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Latency {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    #[serde(rename = "p99.9")]
    pub p99_9: f64,
    pub max: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            mean: h.mean() / 1e6,
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p99_9: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Handshakes {
    pub count: u64,
    pub per_sec: f64,
    pub resumed: u64,
    pub full: u64,
    pub latency_ms: Latency,
}

/// The server's CPU time over the measured part of the run, from `/proc/PID/stat`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerCpu {
    pub pid: u32,
    pub seconds: f64,
    pub us_per_request: f64,
    /// When connections churn: CPU per new connection (handshake plus its requests).
    pub us_per_connection: Option<f64>,
}

/// The totals of a run, after warm-up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Totals {
    pub duration_s: f64,
    pub ops: u64,
    pub ops_per_sec: f64,
    pub sets: u64,
    pub gets: u64,
    pub hits: u64,
    pub misses: u64,
    pub errors: BTreeMap<String, u64>,
    pub latency_ms: Latency,
    pub handshakes: Option<Handshakes>,
    pub server_cpu: Option<ServerCpu>,
}

impl Totals {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// One second of the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Second {
    pub second: u64,
    pub warmup: bool,
    pub ops_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    pub handshakes: u64,
}

impl Second {
    pub fn of(second: u64, warmup: bool, iv: &Interval, secs: f64) -> Self {
        let secs = secs.max(1e-9);
        Second {
            second,
            warmup,
            ops_per_sec: iv.ops() as f64 / secs,
            p50_ms: quantile_ms(&iv.latency, 0.5),
            p99_ms: quantile_ms(&iv.latency, 0.99),
            errors: iv.error_count(),
            handshakes: iv.handshakes,
        }
    }
}

/// `(percentile, milliseconds)` from the median out to the maximum, at 1 - 10^(-k/10): the
/// points of a latency-by-percentile curve. Stops where fewer than one sample lies beyond.
pub fn percentile_curve(h: &Histogram<u64>) -> Vec<[f64; 2]> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut out = vec![[50.0, ms(h.value_at_quantile(0.5))]];
    // k = 4 is the first step past the median (60.2%).
    for k in 4..=60 {
        let q = 1.0 - 10f64.powf(-(k as f64) / 10.0);
        if (h.len() as f64) * (1.0 - q) < 1.0 - 1e-6 {
            break;
        }
        out.push([q * 100.0, ms(h.value_at_quantile(q))]);
    }
    out.push([100.0, ms(h.max())]);
    out
}

/// The TLS session a run negotiated (from its first connection).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct TlsSession {
    pub protocol: String,
    pub cipher_suite: String,
}

/// One run: what it was, what it found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    pub label: String,
    /// The workload as run (`opts::Workload`).
    pub config: serde_json::Value,
    /// From the server's `INFO server`: `redis_version`, `server_name`, `cachet_version`...
    pub server: BTreeMap<String, String>,
    pub tls_session: Option<TlsSession>,
    pub totals: Totals,
    pub percentiles: Vec<[f64; 2]>,
    pub timeline: Vec<Second>,
}

/// The host the generator ran on.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Host {
    pub hostname: String,
    pub kernel: String,
    pub cpu_model: String,
    pub cpus: usize,
    pub memory_gib: f64,
    pub arch: String,
}

/// TLS ÷ plaintext for the same workload (`--compare-plaintext`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Overhead {
    pub ops_per_sec: f64,
    pub p50: f64,
    pub p99: f64,
    pub server_cpu_per_request: Option<f64>,
}

/// The JSON file: one or more runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Output {
    pub tool: String,
    pub version: String,
    pub rustls_provider: String,
    pub host: Host,
    pub runs: Vec<RunResult>,
    pub tls_overhead: Option<Overhead>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_merge_counts_errors_and_histograms() {
        let mut a = Interval::default();
        let mut b = Interval::default();
        a.gets = 3;
        a.hits = 2;
        a.misses = 1;
        b.sets = 4;
        for v in [1_000u64, 2_000, 3_000] {
            a.latency.record(v).unwrap();
        }
        b.latency.record(1_000_000).unwrap();
        a.error("ERR");
        b.error("ERR");
        b.error("NOAUTH");
        b.handshakes = 2;
        b.resumed = 1;
        a.merge(&b);
        assert_eq!((a.ops(), a.hits, a.misses, a.handshakes, a.resumed), (7, 2, 1, 2, 1));
        assert_eq!(a.errors.get("ERR"), Some(&2));
        assert_eq!(a.error_count(), 3);
        assert_eq!(a.latency.len(), 4);
        assert!(a.latency.max() >= 999_000, "the slow one kept: {}", a.latency.max());
    }

    #[test]
    fn percentiles_are_within_the_histograms_precision() {
        let mut h = histogram();
        for v in 1..=100_000u64 {
            h.record(v * 1_000).unwrap(); // 1 µs .. 100 ms, uniform
        }
        let l = Latency::of(&h);
        for (got, want) in [(l.p50, 50.0), (l.p90, 90.0), (l.p99, 99.0), (l.p99_9, 99.9), (l.max, 100.0)] {
            assert!((got - want).abs() / want < 0.001, "{got} vs {want}");
        }
        assert!((l.mean - 50.0).abs() < 0.1);
        assert_eq!(Latency::of(&histogram()).p99, 0.0, "empty is zero, not a panic");
    }

    #[test]
    fn curve_runs_from_the_median_to_the_max_and_rises() {
        let mut h = histogram();
        for v in 1..=10_000u64 {
            h.record(v * 1_000).unwrap();
        }
        let c = percentile_curve(&h);
        assert_eq!(c.first().unwrap()[0], 50.0);
        let last = c.last().unwrap();
        assert!(last[0] == 100.0 && (last[1] - 10.0).abs() < 0.01, "max within the precision: {last:?}");
        // 10,000 samples support 99.99% but not 99.999%
        assert!(c.iter().any(|p| (p[0] - 99.99).abs() < 1e-9));
        assert!(!c.iter().any(|p| p[0] > 99.991 && p[0] < 100.0));
        assert!(c.windows(2).all(|w| w[1][1] >= w[0][1] && w[1][0] > w[0][0]));
    }

    #[test]
    fn a_seconds_rate_uses_its_own_length() {
        let iv = Interval { gets: 500, ..Default::default() };
        let s = Second::of(3, false, &iv, 0.5);
        assert_eq!(s.ops_per_sec, 1000.0);
    }
}
