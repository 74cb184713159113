//! Replication over TLS: SYNC/PSYNC snapshots, and a primary with two cachet replicas on
//! loopback over mutual TLS (full sync of every type, streaming under load, WAIT, a replica
//! killed and restarted, partial resynchronisation, promotion and re-pointing, refused
//! certificates, a primary restarted with another certificate). Convergence is checked with
//! DEBUG DIGEST, Redis's whole-keyspace digest. (The interop script does the same with a real
//! redis-server replica.)

mod common;
use common::*;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Waits (bounded) until `f` holds: replication is asynchronous, so tests wait for a state,
/// never for a time.
fn until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn digest(c: &mut redis::Connection) -> String {
    redis::cmd("DEBUG").arg("DIGEST").query(c).unwrap()
}

fn info(c: &mut redis::Connection, field: &str) -> String {
    let text: String = redis::cmd("INFO").arg("everything").query(c).unwrap();
    text.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))).unwrap_or("").trim().to_string()
}

/// A certificate set: CA, server and client pairs (the primary's development set).
struct Certs(PathBuf);

impl Certs {
    fn of(s: &Server) -> Certs {
        Certs(s.certs())
    }
    fn p(&self, f: &str) -> String {
        self.0.join(f).display().to_string()
    }
    /// A client of a node serving this set's server certificate, presenting its client one.
    fn client(&self, port: u16) -> redis::Connection {
        let (c, k) = (self.0.join("client.crt"), self.0.join("client.key"));
        tls_client_with_ca(port, &self.0.join("ca.crt"), Some((&c, &k))).get_connection().unwrap()
    }
}

/// A replica of `primary_port` over mutual TLS, with `certs`' server pair as its own identity,
/// its client pair to present to the primary, and `trust` as the CA it verifies the primary with.
fn replica(b: &str, certs: &Certs, trust: &Certs, primary_port: u16) -> Server {
    replica_with(b, certs, trust, primary_port, &[])
}

fn replica_with(b: &str, certs: &Certs, trust: &Certs, primary_port: u16, extra: &[&str]) -> Server {
    let of = format!("127.0.0.1 {primary_port}");
    let (server_crt, server_key, client_crt, client_key, ca) = (
        certs.p("server.crt"),
        certs.p("server.key"),
        certs.p("client.crt"),
        certs.p("client.key"),
        trust.p("ca.crt"),
    );
    let mut args = vec![
        "--workers",
        "2",
        "--enable-debug-command",
        "yes",
        "--tls-cert-file",
        &server_crt,
        "--tls-key-file",
        &server_key,
        "--tls-client-cert-file",
        &client_crt,
        "--tls-client-key-file",
        &client_key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-auth-clients",
        "yes",
        "--tls-replication",
        "yes",
        "--replicaof",
        &of,
    ];
    args.extend_from_slice(extra);
    start(b, &args)
}

fn primary(b: &str, extra: &[&str]) -> Server {
    let mut args = vec!["--workers", "2", "--enable-debug-command", "yes", "--tls-auth-clients", "yes"];
    args.extend_from_slice(extra);
    start(b, &args)
}

/// One key of every type and encoding, some with expiry, in two databases.
fn populate(c: &mut redis::Connection, tag: &str) {
    let mut p = redis::pipe();
    for i in 0..300 {
        p.cmd("SET").arg(format!("{tag}s{i}")).arg(format!("v{i}")).ignore();
        p.cmd("SET").arg(format!("{tag}n{i}")).arg(i).ignore();
    }
    p.cmd("SET").arg(format!("{tag}ttl")).arg("x").arg("EX").arg(1000).ignore();
    p.cmd("RPUSH").arg(format!("{tag}l")).arg("a").arg("b").arg(3).ignore();
    p.cmd("SADD").arg(format!("{tag}is")).arg(1).arg(2).arg(3).ignore();
    p.cmd("SADD").arg(format!("{tag}ss")).arg("x").arg("y").ignore();
    p.cmd("HSET").arg(format!("{tag}h")).arg("f").arg("v").arg("g").arg(2).ignore();
    p.cmd("ZADD").arg(format!("{tag}z")).arg(1.5).arg("a").arg(2).arg("b").ignore();
    let big: Vec<String> = (0..300).map(|i| format!("member-{i}")).collect();
    p.cmd("SADD").arg(format!("{tag}bigset")).arg(&big).ignore();
    p.cmd("HSET")
        .arg(format!("{tag}bighash"))
        .arg(big.iter().flat_map(|m| [m.clone(), m.clone()]).collect::<Vec<_>>())
        .ignore();
    p.cmd("SELECT").arg(3).ignore();
    p.cmd("SET").arg(format!("{tag}in3")).arg("three").ignore();
    p.cmd("SELECT").arg(0).ignore();
    let _: () = p.query(c).unwrap();
}

/// A bounded mixed write load, including the commands that are rewritten for replicas.
fn load(c: &mut redis::Connection, round: usize) {
    let mut p = redis::pipe();
    for i in 0..200 {
        let k = format!("load{}", i % 37);
        p.cmd("INCR").arg(format!("ctr{}", i % 5)).ignore();
        p.cmd("LPUSH").arg(format!("list{}", i % 3)).arg(i).ignore();
        p.cmd("HINCRBYFLOAT").arg("hf").arg(format!("f{}", i % 4)).arg(0.1).ignore();
        p.cmd("INCRBYFLOAT").arg("fl").arg(1.1).ignore();
        p.cmd("SADD").arg("pool").arg(i).ignore();
        p.cmd("SET").arg(&k).arg(round * 1000 + i).arg("EX").arg(500).ignore();
        p.cmd("EXPIRE").arg(&k).arg(600).ignore();
        if i % 10 == 0 {
            p.cmd("SPOP").arg("pool").ignore();
            p.cmd("RPOP").arg(format!("list{}", i % 3)).ignore();
            p.cmd("DEL").arg(format!("load{}", (i + 7) % 37)).ignore();
        }
    }
    p.cmd("MULTI").ignore();
    p.cmd("INCR").arg("tx").ignore();
    p.cmd("SELECT").arg(5).ignore();
    p.cmd("LPUSH").arg("txlist").arg(round).ignore();
    p.cmd("EXEC").ignore();
    p.cmd("SELECT").arg(0).ignore();
    let _: () = p.query(c).unwrap();
}

fn wait_replicas(c: &mut redis::Connection, n: usize) -> usize {
    redis::cmd("WAIT").arg(n).arg(20_000).query(c).unwrap()
}

both_backends! {
    fn a_primary_and_two_replicas_over_mutual_tls(b: &str) {
        let mut p = primary(b, &[]);
        let certs = Certs::of(&p);
        let mut pc = certs.client(p.port);
        populate(&mut pc, "a");
        let r1 = replica(b, &certs, &certs, p.port);
        let mut r2 = replica(b, &certs, &certs, p.port);
        let (mut c1, mut c2) = (certs.client(r1.port), certs.client(r2.port));
        until("both replicas online", || info(&mut pc, "connected_slaves") == "2"
            && info(&mut c1, "master_link_status") == "up" && info(&mut c2, "master_link_status") == "up");
        // Full sync of every type, then the stream under load.
        for round in 0..5 {
            load(&mut pc, round);
        }
        assert_eq!(wait_replicas(&mut pc, 2), 2, "WAIT counts both replicas");
        let want = digest(&mut pc);
        until("replicas equal to the primary", || digest(&mut c1) == want && digest(&mut c2) == want);
        let t: i64 = redis::cmd("TTL").arg("attl").query(&mut c1).unwrap();
        assert!(t > 900, "expiry times are replicated ({t})");
        // Replicas refuse writes; INFO and ROLE describe the topology.
        let e = redis::cmd("SET").arg("x").arg(1).query::<()>(&mut c1).unwrap_err();
        assert_eq!(e.code(), Some("READONLY"), "{e:?}");
        let role: redis::Value = redis::cmd("ROLE").query(&mut pc).unwrap();
        assert!(format!("{role:?}").contains("master"), "{role:?}");
        assert_eq!(info(&mut c1, "role"), "slave");
        assert_eq!(info(&mut c1, "master_port"), p.port.to_string());
        assert_eq!(info(&mut c1, "master_replid"), info(&mut pc, "master_replid"));
        let slave0 = info(&mut pc, "slave0");
        assert!(slave0.contains("state=online") && slave0.contains("ip=127.0.0.1"), "{slave0}");
        assert_eq!(info(&mut pc, "sync_full"), "2");

        // A replica killed under a steady write load, restarted: a full sync, then equal.
        let writer_port = p.port;
        let writer_certs = Certs(certs.0.clone());
        let writer = std::thread::spawn(move || {
            let mut w = writer_certs.client(writer_port);
            for round in 5..25 {
                load(&mut w, round);
            }
        });
        r2.stop();
        let r2 = replica(b, &certs, &certs, p.port);
        let mut c2 = certs.client(r2.port);
        writer.join().unwrap();
        assert_eq!(wait_replicas(&mut pc, 2), 2);
        let want = digest(&mut pc);
        until("the restarted replica converges", || digest(&mut c2) == want && digest(&mut c1) == want);

        // Links dropped: both continue from the backlog (partial resync).
        let partial_before: u64 = info(&mut pc, "sync_partial_ok").parse().unwrap();
        let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("replica").query(&mut pc).unwrap();
        assert_eq!(killed, 2);
        load(&mut pc, 100);
        until("both links continued where they stopped (partial resync)", || {
            info(&mut pc, "sync_partial_ok").parse::<u64>().unwrap() >= partial_before + 2
                && info(&mut pc, "connected_slaves") == "2"
        });
        assert_eq!(info(&mut pc, "sync_full"), "3", "no full sync for a dropped link");
        let resumed: u64 = info(&mut pc, "tls_resumed_handshakes").parse().unwrap();
        assert!(resumed >= 2, "the replicas resumed their TLS sessions ({resumed})");
        assert_eq!(wait_replicas(&mut pc, 2), 2);
        let want = digest(&mut pc);
        until("equal after partial resync", || digest(&mut c1) == want && digest(&mut c2) == want);

        // Promotion: r1 becomes the primary, r2 follows it and continues (PSYNC2).
        let old_id = info(&mut pc, "master_replid");
        p.stop();
        let _: () = redis::cmd("REPLICAOF").arg("NO").arg("ONE").query(&mut c1).unwrap();
        assert_eq!(info(&mut c1, "role"), "master");
        assert_eq!(info(&mut c1, "master_replid2"), old_id);
        let _: () = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(r1.port).query(&mut c2).unwrap();
        until("r2 follows r1", || info(&mut c1, "connected_slaves") == "1" && info(&mut c2, "master_link_status") == "up");
        assert_eq!(info(&mut c1, "sync_partial_ok"), "1", "r2 continued from r1 without a full sync");
        assert_eq!(info(&mut c1, "sync_full"), "0");
        load(&mut c1, 200);
        assert_eq!(wait_replicas(&mut c1, 1), 1);
        let want = digest(&mut c1);
        until("r2 equal to the new primary", || digest(&mut c2) == want);
    }
}

fn read_line(s: &mut impl std::io::Read) -> String {
    let mut line = Vec::new();
    while !line.ends_with(b"\r\n") {
        line.extend(read_n(s, 1));
    }
    String::from_utf8(line).unwrap()
}

both_backends! {
    fn sync_and_psync_send_a_snapshot_of_every_type(b: &str) {
        let srv = start(b, &["--workers", "2"]);
        let mut c = srv.tls_client().get_connection().unwrap();
        let _: () = redis::cmd("SET").arg("s").arg("hello").query(&mut c).unwrap();
        let _: () = redis::cmd("SET").arg("t").arg("v").arg("EX").arg(1000).query(&mut c).unwrap();
        let _: () = redis::cmd("RPUSH").arg("l").arg("a").arg("b").query(&mut c).unwrap();
        let _: () = redis::cmd("SADD").arg("st").arg("1").arg("x").query(&mut c).unwrap();
        let _: () = redis::cmd("HSET").arg("h").arg("f").arg("v").query(&mut c).unwrap();
        let _: () = redis::cmd("ZADD").arg("z").arg("2.5").arg("m").query(&mut c).unwrap();
        let _: () = redis::cmd("SELECT").arg(2).query(&mut c).unwrap();
        let _: () = redis::cmd("SET").arg("in2").arg("x").query(&mut c).unwrap();

        for psync in [false, true] {
            let mut s = srv.raw_tls(srv.client_config());
            assert_eq!(roundtrip(&mut s, b"REPLCONF capa eof\r\n", 5), b"+OK\r\n");
            if psync {
                s.write_all(b"PSYNC ? -1\r\n").unwrap();
                s.flush().unwrap();
                let full = read_line(&mut s);
                assert!(full.starts_with("+FULLRESYNC ") && full.ends_with(" 0\r\n"), "{full}");
            } else {
                s.write_all(b"SYNC\r\n").unwrap();
                s.flush().unwrap();
            }
            let head = read_line(&mut s);
            let len: usize = head[1..head.len() - 2].parse().unwrap();
            let rdb = read_n(&mut s, len);
            let (keys, aux) = cachet_repl::load_rdb(&rdb, &Default::default()).unwrap();
            let names: Vec<(usize, String)> =
                keys.iter().map(|k| (k.db, String::from_utf8(k.key.clone()).unwrap())).collect();
            for want in ["s", "t", "l", "st", "h", "z"] {
                assert!(names.contains(&(0, want.to_string())), "{want} missing from {names:?}");
            }
            assert!(names.contains(&(2, "in2".to_string())));
            let t = keys.iter().find(|k| k.key == b"t").unwrap();
            assert!(t.expire_at_ms > 0);
            assert!(aux.iter().any(|(k, _)| k == b"redis-ver"));
        }
    }
}

/// A fresh development certificate set from `cachet certs` (its own CA).
fn other_certs() -> (TempDir, Certs) {
    let dir = TempDir::new("certs-b");
    let out = dir.0.join("set");
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_cachet"))
        .arg("certs")
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "cachet certs");
    (dir, Certs(out))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn certificates_from_another_ca_are_refused_both_ways() {
    let b = "epoll";
    let p = primary(b, &[]);
    let a = Certs::of(&p);
    let (_keep, other) = other_certs();
    let mut pc = a.client(p.port);
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut pc).unwrap();
    // Presents a client certificate of another CA: the primary refuses it.
    let x = replica(b, &other, &a, p.port);
    // Does not trust the primary's certificate: the replica refuses the primary.
    let y = replica(b, &a, &other, p.port);
    until("the primary refused a client certificate", || {
        info(&mut pc, "tls_handshake_failures_bad_certificate").parse::<u64>().unwrap_or(0) > 0
    });
    until("the replica refused the primary's certificate", || {
        y.log_text().contains("replication link to the primary failed")
            && y.log_text().contains("certificate")
    });
    assert_eq!(info(&mut pc, "connected_slaves"), "0");
    // A node verifies its own clients against the CA it trusts (one tls-ca-cert-file, as in
    // Redis): x serves other's certificate and trusts a; y the reverse.
    let mixed = |port: u16, server: &Certs, client: &Certs| {
        let (c, k) = (client.0.join("client.crt"), client.0.join("client.key"));
        tls_client_with_ca(port, &server.0.join("ca.crt"), Some((&c, &k))).get_connection().unwrap()
    };
    let mut xc = mixed(x.port, &other, &a);
    let mut yc = mixed(y.port, &a, &other);
    for c in [&mut xc, &mut yc] {
        assert_eq!(info(c, "master_link_status"), "down");
        let n: i64 = redis::cmd("DBSIZE").query(c).unwrap();
        assert_eq!(n, 0, "nothing was replicated over a refused link");
    }
    // No certificate at all: the handshake fails before PSYNC is read.
    let mut s = raw_tls_to(p.port, cachet_tls_client_config(&p.ca(), None));
    let _ = s.write_all(b"PSYNC ? -1\r\n").and_then(|_| s.flush());
    let got = read_to_close(&mut s);
    assert!(!String::from_utf8_lossy(&got).contains("FULLRESYNC"), "{got:?}");
    until("the primary counted the missing certificate", || {
        info(&mut pc, "tls_handshake_failures_no_client_certificate").parse::<u64>().unwrap_or(0) > 0
    });
}

#[test]
fn a_primary_restarted_with_another_certificate() {
    let b = "uring";
    let port = free_port();
    let ps = port.to_string();
    let mut p1 = primary(b, &["--port", &ps]);
    let a = Certs::of(&p1);
    let (_keep, other) = other_certs();
    let own = |c: &Certs| {
        vec![
            "--port".to_string(),
            ps.clone(),
            "--tls-cert-file".into(),
            c.p("server.crt"),
            "--tls-key-file".into(),
            c.p("server.key"),
            "--tls-ca-cert-file".into(),
            c.p("ca.crt"),
        ]
    };
    let mut c1 = a.client(port);
    populate(&mut c1, "first");
    let r = replica(b, &a, &a, port);
    let mut rc = a.client(r.port);
    let first = digest(&mut c1);
    until("the replica has the first primary's data", || digest(&mut rc) == first);
    p1.stop();

    // Back on the same port with a certificate the replica does not trust: it keeps what it
    // has and does not link.
    let args = own(&other);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut p2 = primary(b, &argv);
    let mut c2 = other.client(port);
    let _: () = redis::cmd("FLUSHALL").query(&mut c2).unwrap();
    let _: () = redis::cmd("SET").arg("wrong").arg("primary").query(&mut c2).unwrap();
    let failures = || r.log_text().matches("replication link to the primary failed").count();
    let before = failures();
    until("the replica refused the new certificate", || failures() > before + 1);
    assert_eq!(digest(&mut rc), first, "the replica kept its data");
    assert_eq!(info(&mut c2, "connected_slaves"), "0");
    p2.stop();

    // And again with a certificate of the trusted CA: a full sync of the new data.
    let args = own(&a);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let p3 = primary(b, &argv);
    let mut c3 = a.client(p3.port);
    populate(&mut c3, "third");
    let third = digest(&mut c3);
    until("the replica follows the restarted primary", || digest(&mut rc) == third);
    assert_eq!(info(&mut rc, "master_link_status"), "up");
}

#[test]
fn expired_keys_reach_replicas_as_del_and_replicas_never_expire_on_their_own() {
    let b = "epoll";
    let p = primary(b, &[]);
    let certs = Certs::of(&p);
    let mut pc = certs.client(p.port);
    let r = replica(b, &certs, &certs, p.port);
    let mut rc = certs.client(r.port);
    until("replica online", || info(&mut rc, "master_link_status") == "up");
    // The primary expires nothing by itself for now, so the key stays until someone reads it.
    let _: () = redis::cmd("DEBUG").arg("SET-ACTIVE-EXPIRE").arg(0).query(&mut pc).unwrap();
    let _: () = redis::cmd("SET").arg("short").arg("v").arg("PX").arg(100).query(&mut pc).unwrap();
    let _: () = redis::cmd("SET").arg("keep").arg("v").query(&mut pc).unwrap();
    assert_eq!(wait_replicas(&mut pc, 1), 1);
    // On the replica the key reads as missing once its time has passed, but it stays: only
    // the primary deletes.
    until("the key's time passed on the replica", || {
        redis::cmd("GET").arg("short").query::<Option<String>>(&mut rc).unwrap().is_none()
    });
    let n: i64 = redis::cmd("DBSIZE").query(&mut rc).unwrap();
    assert_eq!(n, 2, "the replica kept the expired key");
    // A read on the primary expires it there; the DEL reaches the replica.
    let got: Option<String> = redis::cmd("GET").arg("short").query(&mut pc).unwrap();
    assert_eq!(got, None);
    assert_eq!(wait_replicas(&mut pc, 1), 1);
    until("the DEL reached the replica", || redis::cmd("DBSIZE").query::<i64>(&mut rc).unwrap() == 1);
    // Active expiry on the primary sends DEL as well.
    let _: () = redis::cmd("SET").arg("short2").arg("v").arg("PX").arg(50).query(&mut pc).unwrap();
    let _: () = redis::cmd("DEBUG").arg("SET-ACTIVE-EXPIRE").arg(1).query(&mut pc).unwrap();
    until("active expiry's DEL reached the replica", || {
        redis::cmd("DBSIZE").query::<i64>(&mut rc).unwrap() == 1
            && redis::cmd("DBSIZE").query::<i64>(&mut pc).unwrap() == 1
    });
    assert_eq!(digest(&mut rc), digest(&mut pc));
    // PUBLISH is propagated: a subscriber on the replica hears the primary's message.
    let mut sub = certs.client(r.port);
    let mut ps = sub.as_pubsub();
    ps.subscribe("news").unwrap();
    ps.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _: i64 = redis::cmd("PUBLISH").arg("news").arg("hello").query(&mut pc).unwrap();
    let msg = ps.get_message().unwrap();
    assert_eq!(msg.get_channel_name(), "news");
    assert_eq!(msg.get_payload::<String>().unwrap(), "hello");
}

#[test]
fn masterauth_and_masteruser_log_the_replica_in() {
    let b = "uring";
    let p = primary(b, &["--requirepass", "s3cret", "--user", "repl on >r3pl +@all ~*"]);
    let certs = Certs::of(&p);
    let mut pc = certs.client(p.port);
    let _: () = redis::cmd("AUTH").arg("s3cret").query(&mut pc).unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut pc).unwrap();
    // Without credentials the link cannot start.
    let mut bad = replica(b, &certs, &certs, p.port);
    until("the unauthenticated replica failed", || bad.log_text().contains("NOAUTH"));
    assert_eq!(info(&mut pc, "connected_slaves"), "0");
    bad.stop();
    for (user, pass) in [(None, "s3cret"), (Some("repl"), "r3pl")] {
        let mut args = vec!["--masterauth", pass];
        if let Some(u) = user {
            args.extend(["--masteruser", u]);
        }
        let r = replica_with(b, &certs, &certs, p.port, &args);
        let mut rc = certs.client(r.port);
        until("the authenticated replica has the data", || {
            redis::cmd("GET").arg("k").query::<Option<String>>(&mut rc).unwrap().as_deref() == Some("v")
        });
    }
}

#[test]
fn a_replica_past_its_output_buffer_limit_is_dropped_and_resyncs() {
    let b = "epoll";
    let p =
        primary(b, &["--client-output-buffer-limit", "replica 1mb 1mb 60", "--repl-backlog-size", "64kb"]);
    let certs = Certs::of(&p);
    let mut pc = certs.client(p.port);
    let r = replica(b, &certs, &certs, p.port);
    let mut rc = certs.client(r.port);
    until("replica online", || info(&mut pc, "connected_slaves") == "1");
    // Stop the replica's process: the primary keeps writing to a link nobody reads.
    // SAFETY: kill(2) of a child this test started.
    unsafe { libc::kill(r.pid() as i32, libc::SIGSTOP) };
    // 32 MB: more than the loopback socket buffers (tcp_wmem + tcp_rmem, up to ~10 MB) can
    // absorb, so the stream must pile up on the primary's side of the link.
    let value = "x".repeat(4000);
    for batch in 0..8 {
        let mut p2 = redis::pipe();
        for i in 0..1000 {
            p2.cmd("SET").arg(format!("big{batch}-{i}")).arg(&value).ignore();
        }
        let _: () = p2.query(&mut pc).unwrap();
    }
    until("the primary dropped the replica", || {
        info(&mut pc, "connected_slaves") == "0" && p.log_text().contains("client-output-buffer-limit")
    });
    // SAFETY: as above.
    unsafe { libc::kill(r.pid() as i32, libc::SIGCONT) };
    let want = digest(&mut pc);
    until("the replica resynchronised", || info(&mut pc, "sync_full") == "2" && digest(&mut rc) == want);
}
