//! `cachet bench` and `cachet report` as a user runs them: the real binary against a real
//! cachet node (and a real redis-server when one is installed) on loopback, over TLS with
//! certificate verification; the JSON they write is read back and checked against what the
//! servers themselves counted. The report is opened in headless Chromium when installed.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cachet"))
        .arg("bench")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run cachet bench")
}

/// Runs `cachet bench` (bounded by its own -n or --test-time), asserts it succeeded, returns
/// the JSON it wrote.
fn bench_json(dir: &Path, name: &str, args: &[&str]) -> Value {
    let out = dir.join(format!("{name}.json"));
    let mut all = args.to_vec();
    all.extend(["--json-out-file", out.to_str().unwrap()]);
    let o = bench(&all);
    assert!(
        o.status.success(),
        "cachet bench {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

/// `cachet bench` flags for a TLS run against 127.0.0.1:port, verifying the dev certificate.
fn tls_args<'a>(ca: &'a str, port: &'a str) -> Vec<&'a str> {
    vec!["-s", "127.0.0.1", "--sni", "localhost", "-p", port, "--tls", "--cacert", ca]
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn info_u64(c: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let text: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .trim()
        .parse()
        .unwrap()
}

/// Checks the parts of a run that hold whatever the workload.
fn check_run(run: &Value, requests: u64) {
    let t = &run["totals"];
    assert_eq!(u(&t["ops"]), requests, "every request answered and counted once");
    assert_eq!(u(&t["sets"]) + u(&t["gets"]), requests);
    assert_eq!(u(&t["hits"]) + u(&t["misses"]), u(&t["gets"]));
    assert_eq!(t["errors"], serde_json::json!({}), "no errors");
    let l = &t["latency_ms"];
    let (p50, p90, p99, p999, max) = (f(&l["p50"]), f(&l["p90"]), f(&l["p99"]), f(&l["p99.9"]), f(&l["max"]));
    assert!(0.0 < p50 && p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max, "{l}");
    assert!(f(&t["ops_per_sec"]) > 0.0 && f(&t["duration_s"]) > 0.0);
    let curve = run["percentiles"].as_array().unwrap();
    assert_eq!(f(&curve[0][0]), 50.0);
    assert_eq!(f(&curve.last().unwrap()[0]), 100.0);
    assert!(!run["timeline"].as_array().unwrap().is_empty());
}

#[test]
fn bench_against_cachet_tls_and_plaintext_writes_every_figure() {
    let srv = start("auto", &["--transit-encryption-mode", "preferred"]);
    let ca = srv.ca();
    let (ca, port, pid) = (ca.to_str().unwrap(), srv.port.to_string(), srv.pid().to_string());
    let dir = TempDir::new("bench");
    let mut args = tls_args(ca, &port);
    // 4 connections x 500 requests, half SETs, on 100 keys; then the same in plaintext.
    args.extend([
        "-t",
        "1",
        "-c",
        "4",
        "-n",
        "500",
        "--pipeline",
        "4",
        "--ratio",
        "1:1",
        "--key-maximum",
        "99",
    ]);
    args.extend(["--server-pid", &pid, "--compare-plaintext", &port, "--hide-progress"]);
    let mut c = srv.plain_client().get_connection().unwrap();
    let cmds_before = info_u64(&mut c, "stats", "total_commands_processed");
    let j = bench_json(&dir.0, "cachet", &args);
    let cmds_after = info_u64(&mut c, "stats", "total_commands_processed");

    assert_eq!(j["tool"], "cachet bench");
    assert!(u(&j["host"]["cpus"]) >= 1 && !j["host"]["kernel"].as_str().unwrap().is_empty());
    let runs = j["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "the TLS run and its plaintext twin");
    for run in runs {
        check_run(run, 2000);
        assert_eq!(u(&run["totals"]["sets"]), 1000, "1:1 exactly");
        assert!(u(&run["totals"]["hits"]) > 0, "GETs of keys the SETs wrote hit");
        assert_eq!(run["server"]["cachet_version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(u(&run["config"]["pipeline"]), 4);
        let cpu = &run["totals"]["server_cpu"];
        assert_eq!(u(&cpu["pid"]), srv.pid() as u64);
        assert!(f(&cpu["us_per_request"]) >= 0.0);
    }
    assert_eq!(runs[0]["tls_session"]["protocol"], "TLSv1.3");
    assert!(runs[1]["tls_session"].is_null() && runs[1]["config"]["tls"].is_null());
    assert!(f(&j["tls_overhead"]["ops_per_sec"]) > 0.0);
    // The server saw them: 4000 requests, plus each run's probe (AUTH-less: INFO) and ours.
    assert_eq!(cmds_after - cmds_before, 4000 + 2 + 1, "server-side command count");
    let keys: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert!(keys > 0 && keys <= 100, "{keys} keys within --key-maximum");
    let v: Vec<u8> = redis::cmd("GET").arg("memtier-0").query(&mut c).unwrap_or_default();
    assert!(v.is_empty() || v == vec![b'x'; 32], "values are --data-size bytes");
}

#[test]
fn churn_makes_full_or_resumed_handshakes_as_asked() {
    let srv = start("auto", &[]);
    let ca = srv.ca();
    let (ca, port) = (ca.to_str().unwrap(), srv.port.to_string());
    let dir = TempDir::new("bench-churn");
    let mut c = srv.tls_client().get_connection().unwrap();
    for (resume, proto) in [("yes", "TLSv1.3"), ("no", "TLSv1.3"), ("yes", "TLSv1.2")] {
        let full0 = info_u64(&mut c, "tls", "tls_full_handshakes");
        let resumed0 = info_u64(&mut c, "tls", "tls_resumed_handshakes");
        let mut args = tls_args(ca, &port);
        args.extend(["-t", "1", "-c", "3", "-n", "20", "--reconnect-interval", "4", "--tls-resume", resume]);
        args.extend(["--tls-protocols", proto, "--hide-progress"]);
        let j = bench_json(&dir.0, &format!("churn-{resume}-{proto}"), &args);
        let run = &j["runs"][0];
        check_run(run, 60);
        let h = &run["totals"]["handshakes"];
        // 3 connections x 20 requests, a new connection every 4: 5 each.
        assert_eq!(u(&h["count"]), 15, "{h}");
        let (full, resumed) = (u(&h["full"]), u(&h["resumed"]));
        if resume == "yes" {
            assert!(resumed >= 12, "all but each connection's first can resume: {h}");
        } else {
            assert_eq!((full, resumed), (15, 0), "{h}");
        }
        // The server counted the same handshakes (plus the run's probe connection).
        let full1 = info_u64(&mut c, "tls", "tls_full_handshakes");
        let resumed1 = info_u64(&mut c, "tls", "tls_resumed_handshakes");
        assert_eq!((full1 - full0, resumed1 - resumed0), (full + 1, resumed), "{proto} resume={resume}");
        let want = if proto == "TLSv1.2" { "TLSv1.2" } else { "TLSv1.3" };
        assert_eq!(run["tls_session"]["protocol"], want);
    }
}

#[test]
fn rate_is_an_open_loop_schedule_with_warmup_excluded() {
    let srv = start("auto", &[]);
    let ca = srv.ca();
    let (ca, port) = (ca.to_str().unwrap(), srv.port.to_string());
    let dir = TempDir::new("bench-rate");
    let mut args = tls_args(ca, &port);
    // 2 connections sharing 400 requests/s for 2 measured seconds after 1 of warm-up.
    args.extend([
        "-t",
        "1",
        "-c",
        "2",
        "--rate",
        "400",
        "--test-time",
        "2",
        "--warmup",
        "1",
        "--hide-progress",
    ]);
    let mut c = srv.tls_client().get_connection().unwrap();
    let served = |c: &mut redis::Connection| {
        let text: String = redis::cmd("INFO").arg("commandstats").query(c).unwrap();
        text.lines()
            .filter(|l| l.starts_with("cmdstat_set:") || l.starts_with("cmdstat_get:"))
            .map(|l| l.split("calls=").nth(1).unwrap().split(',').next().unwrap().parse::<u64>().unwrap())
            .sum::<u64>()
    };
    let before = served(&mut c);
    let j = bench_json(&dir.0, "rate", &args);
    // The schedule: each connection every 5 ms (the second 2.5 ms later), 400 requests due in
    // the warm-up second and 800 in the measured two. Every one is sent, late if the machine
    // stalled (its latency counted from its due time), and none more: a closed loop would
    // have sent tens of thousands. Whatever the machine's speed, the server sees 1200.
    assert_eq!(served(&mut c) - before, 1200, "the server saw the schedule, no more, no less");
    let run = &j["runs"][0];
    check_run(run, 800);
    assert_eq!(f(&run["totals"]["ops_per_sec"]), 400.0);
    // Warm-up requests are left out wherever their replies land.
    let timeline = run["timeline"].as_array().unwrap();
    assert!(timeline[0]["warmup"].as_bool().unwrap());
    assert!(timeline.iter().skip(1).all(|s| !s["warmup"].as_bool().unwrap()));
    // Each measured second is a whole one: its ops/s is its count.
    let measured: f64 = timeline.iter().skip(1).map(|s| f(&s["ops_per_sec"])).sum();
    assert_eq!(measured.round(), 800.0, "the timeline adds up to the totals: {timeline:?}");
}

#[test]
fn bad_options_and_unreachable_servers_fail_with_a_reason() {
    let o = bench(&["--tls", "-n", "1"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--cacert"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A port nothing listens on: refused at once, no hang.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    drop(l);
    let o = bench(&["-s", "127.0.0.1", "-p", &port, "-n", "1", "-t", "1", "-c", "1"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot connect"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Wrong password: the server's own error, before any load.
    let srv = start("auto", &["--requirepass", "sesame"]);
    let ca = srv.ca();
    let (ca, port) = (ca.to_str().unwrap(), srv.port.to_string());
    let mut args = tls_args(ca, &port);
    args.extend(["-n", "10", "-t", "1", "-c", "1", "-a", "wrong"]);
    let o = bench(&args);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("WRONGPASS"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    args.pop();
    args.push("sesame");
    let dir = TempDir::new("bench-auth");
    check_run(&bench_json(&dir.0, "auth", &args)["runs"][0], 10);
}

/// A redis-server on loopback with cachet's development certificates, stopped on drop.
struct Redis {
    child: std::process::Child,
    port: u16,
    tls_port: u16,
    _dir: TempDir,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_redis(certs: &Path) -> Option<Redis> {
    let found = Command::new("redis-server").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("CACHET_REQUIRE_REDIS").is_none(),
            "CACHET_REQUIRE_REDIS is set but redis-server is not installed"
        );
        eprintln!("redis-server not installed: its half of the test is skipped");
        return None;
    }
    let dir = TempDir::new("redis");
    let (port, tls_port) = (free_port(), free_port());
    let p = |f: &str| certs.join(f).to_str().unwrap().to_string();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--tls-port", &tls_port.to_string(), "--bind", "127.0.0.1"])
        .args(["--tls-cert-file", &p("server.crt"), "--tls-key-file", &p("server.key")])
        .args([
            "--tls-ca-cert-file",
            &p("ca.crt"),
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(&dir.0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let r = Redis { child, port, tls_port, _dir: dir };
    for _ in 0..500 {
        if std::net::TcpStream::connect(("127.0.0.1", r.tls_port)).is_ok() {
            return Some(r);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("redis-server did not open its TLS port");
}

fn chromium() -> Option<PathBuf> {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(o) = Command::new("which").arg(c).output() {
            if o.status.success() {
                return Some(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
            }
        }
    }
    assert!(
        std::env::var_os("CACHET_REQUIRE_BROWSER").is_none(),
        "CACHET_REQUIRE_BROWSER is set but no Chromium"
    );
    None
}

/// Pixels of exactly this colour in an RGBA screenshot.
fn count_colour(png_path: &Path, hex: &str) -> (usize, usize, usize) {
    let rgb: Vec<u8> = (1..7).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    let px = &buf[..info.buffer_size()];
    let hits = px.chunks(step).filter(|p| p[..3] == rgb[..]).count();
    (hits, info.width as usize, info.height as usize)
}

#[test]
fn cachet_and_redis_side_by_side_in_one_report_a_browser_can_read() {
    let srv = start("auto", &[]);
    let ca = srv.ca();
    let (ca_s, port) = (ca.to_str().unwrap(), srv.port.to_string());
    let dir = TempDir::new("bench-report");
    let common = ["-t", "1", "-c", "4", "--test-time", "2", "--pipeline", "2", "--hide-progress"];
    let mut args = tls_args(ca_s, &port);
    args.extend(common);
    args.extend(["--run-label", "cachet TLS"]);
    let cachet = bench_json(&dir.0, "cachet", &args);
    assert!(u(&cachet["runs"][0]["totals"]["ops"]) > 0);
    let mut inputs = vec![dir.0.join("cachet.json")];
    if let Some(redis) = start_redis(&srv.certs()) {
        let rport = redis.tls_port.to_string();
        let mut args = tls_args(ca_s, &rport);
        args.extend(common);
        args.extend(["--run-label", "redis TLS"]);
        let j = bench_json(&dir.0, "redis", &args);
        let run = &j["runs"][0];
        assert!(run["server"]["redis_version"].as_str().unwrap().starts_with('7'), "{}", run["server"]);
        assert!(run["server"].get("cachet_version").is_none());
        assert!(u(&run["totals"]["ops"]) > 0 && run["totals"]["errors"] == serde_json::json!({}));
        assert_eq!(run["tls_session"]["protocol"], "TLSv1.3");
        // and plaintext against redis, short and exact
        let plain = bench_json(
            &dir.0,
            "redis-plain",
            &[
                "-s",
                "127.0.0.1",
                "-p",
                &redis.port.to_string(),
                "-t",
                "1",
                "-c",
                "2",
                "-n",
                "100",
                "--hide-progress",
            ],
        );
        check_run(&plain["runs"][0], 200);
        inputs.push(dir.0.join("redis.json"));
    }
    let html = dir.0.join("report.html");
    let o = Command::new(env!("CARGO_BIN_EXE_cachet"))
        .arg("report")
        .args(&inputs)
        .arg("-o")
        .arg(&html)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("cachet TLS") && page.matches("<svg").count() == 3);
    let Some(browser) = chromium() else {
        eprintln!("no Chromium: the report was checked as HTML only");
        return;
    };
    let shot = dir.0.join("report.png");
    let profile = dir.0.join("chromium-profile");
    let o = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .args(["--hide-scrollbars", "--window-size=1000,1500"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html.display()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(shot.exists(), "Chromium wrote no screenshot: {}", String::from_utf8_lossy(&o.stderr));
    // Each run's colour is drawn with enough pixels to be seen. Its four 14 px swatches (table
    // and legends) are 784 pixels; the rest must be its lines in the three charts, so the
    // charts rendered and are not an empty frame.
    for (i, _) in inputs.iter().enumerate() {
        let colour = cachet_bench::report::COLOURS[i];
        let (n, w, h) = count_colour(&shot, colour);
        assert_eq!((w, h), (1000, 1500));
        assert!(n > 2000, "{colour} covers only {n} pixels of the screenshot");
    }
    let copy = std::env::var_os("CACHET_REPORT_SCREENSHOT");
    if let Some(p) = copy {
        std::fs::copy(&shot, p).unwrap();
    }
}

/// A server that answers the probe's INFO, then goes silent on every later connection.
fn silent_after_probe() -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (i, conn) in l.incoming().enumerate() {
            let Ok(mut c) = conn else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if i == 0 && seen.windows(4).any(|w| w == b"INFO") {
                        let body = "# Server\r\nredis_version:7.0.0\r\n";
                        let _ = c.write_all(format!("${}\r\n{body}\r\n", body.len()).as_bytes());
                        seen.clear();
                    }
                }
            });
        }
    });
    port
}

#[test]
fn a_server_that_stops_answering_ends_the_run_with_timeouts_not_a_hang() {
    let port = silent_after_probe().to_string();
    let dir = TempDir::new("bench-silent");
    let out = dir.0.join("silent.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cachet"))
        .args(["bench", "-s", "127.0.0.1", "-p", &port, "-t", "1", "-c", "2", "-n", "100", "--timeout", "1"])
        .args(["--hide-progress", "--json-out-file", out.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Bounded wait: the run must end by itself; a hang fails the test instead of stalling it.
    let mut status = None;
    for _ in 0..6000 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("cachet bench did not end against a silent server");
    };
    assert!(status.success());
    let j: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let t = &j["runs"][0]["totals"];
    assert_eq!(u(&t["ops"]), 0);
    assert_eq!(u(&t["errors"]["timeout"]), 2, "each connection given up once: {t}");
    assert_eq!(u(&t["errors"]["lost-in-flight"]), 2, "its one request in flight counted: {t}");
}
