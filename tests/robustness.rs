//! Hostile and unlucky conditions: io_uring refused by the sandbox, clients that never read
//! their replies, random bytes.

mod common;
use common::*;
use std::io::{Read, Write};

#[test]
fn auto_falls_back_to_epoll_when_io_uring_is_refused() {
    // Shows io-backend auto under a seccomp filter that refuses io_uring_setup (as Docker's
    // default profile does): one log line, epoll, and TLS traffic served.
    let srv = start_with(TempDir::new("seccomp"), "auto", &[], deny_io_uring);
    let log = srv.log_text();
    assert!(log.contains("io_uring unavailable") && log.contains("using epoll"), "{log}");
    assert!(log.contains("io_backend=epoll"), "{log}");
    let mut c = srv.tls_client().get_connection().unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    assert_eq!(srv.info_field(&mut c, "multiplexing_api"), "epoll");
}

#[test]
fn forcing_uring_where_it_is_refused_stops_start_up_with_one_line() {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cachet"));
    cmd.args(["serve", "--port", "0", "--io-backend", "uring", "--tls-dev-dir"]);
    let dir = TempDir::new("seccomp-forced");
    cmd.arg(dir.0.join("certs"));
    deny_io_uring(&mut cmd);
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("io-backend uring: io_uring unavailable"), "{err}");
}

/// The body of the never-reading-client test, over plaintext or TLS.
fn never_reading_client<S: Read + Write>(srv: &Server, c: &mut redis::Connection, mut s: S) {
    let big = vec![b'v'; 256 * 1024];
    let _: () = redis::cmd("SET").arg("big").arg(&big[..]).query(c).unwrap();
    let peak_before = srv.peak_rss();
    // Counts executed commands; each INFO used to ask is itself one, and is subtracted.
    let infos = std::cell::Cell::new(0u64);
    let processed = |c: &mut redis::Connection| -> u64 {
        infos.set(infos.get() + 1);
        srv.info_field(c, "total_commands_processed").parse::<u64>().unwrap() - infos.get()
    };
    let start_count = processed(c);
    // The writes stop when the node stops reading; the socket's write timeout then ends them.
    let _ = s.write_all(&b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n".repeat(2000)).and_then(|_| s.flush());
    // Wait until the count of executed commands stops moving (bounded wait).
    let (mut last, mut still) = (processed(c), 0);
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let now = processed(c);
        still = if now == last { still + 1 } else { 0 };
        last = now;
        if still >= 5 {
            break;
        }
    }
    let gets = last - start_count;
    assert!(still >= 5, "the node never settled: {gets} GETs and counting");
    assert!(gets < 100, "{gets} GETs executed for a client that reads nothing");
    let peak_after = srv.peak_rss();
    assert!(peak_after < peak_before + 128 * 1024 * 1024, "peak RSS {peak_before} -> {peak_after}");
    let _: () = redis::cmd("PING").query(c).unwrap();
    // Now read: all 2000 replies, each exactly the value.
    let header = format!("${}\r\n", big.len());
    let one = header.len() + big.len() + 2;
    let mut r = std::io::BufReader::with_capacity(1 << 20, s);
    let mut reply = vec![0u8; one];
    for i in 0..2000 {
        r.read_exact(&mut reply).unwrap_or_else(|e| panic!("reply {i}: {e}"));
        assert!(reply.starts_with(header.as_bytes()) && reply[header.len()..one - 2] == big[..], "reply {i}");
    }
}

both_backends! {
    fn a_client_that_never_reads_cannot_make_the_node_buffer_without_bound(b: &str) {
        // Shows output backpressure: 2000 pipelined GETs of a 256 KiB value (500 MB of
        // replies) from a client that reads nothing: once the node settles it has executed
        // only as many as its bounded output holds and its peak memory stayed bounded; when
        // the client finally reads, every one of the 2000 replies arrives, in order.
        let srv = start(b, &["--transit-encryption-mode", "disabled"]);
        let mut c = srv.plain_client().get_connection().unwrap();
        let s = srv.raw_plain();
        s.set_write_timeout(Some(std::time::Duration::from_secs(3))).unwrap();
        never_reading_client(&srv, &mut c, s);
    }

    fn the_same_over_tls(b: &str) {
        // Shows the stall and its resumption work the same over TLS, where the set-aside
        // requests are plaintext that was already decrypted.
        let srv = start(b, &[]);
        let mut c = srv.tls_client().get_connection().unwrap();
        let s = srv.raw_tls(srv.client_config());
        s.sock.set_write_timeout(Some(std::time::Duration::from_secs(3))).unwrap();
        never_reading_client(&srv, &mut c, s);
    }
}
