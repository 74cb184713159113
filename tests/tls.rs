//! TLS through real clients: the `redis` crate over rustls with the server certificate
//! verified against the development CA, and raw rustls where exact bytes or session reuse
//! matter. Each test runs on both I/O backends.

mod common;
use common::*;
use rustls::pki_types::pem::PemObject;
use std::io::{Read, Write};
use std::sync::Arc;

fn tls12_only(ca: &std::path::Path) -> Arc<rustls::ClientConfig> {
    install_provider();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&std::fs::read(ca).unwrap()) {
        roots.add(c.unwrap()).unwrap();
    }
    Arc::new(
        rustls::ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS12])
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn ping(s: &mut (impl Read + Write)) -> Vec<u8> {
    roundtrip(s, b"*1\r\n$4\r\nPING\r\n", 7)
}

both_backends! {
    fn required_mode_serves_tls_and_refuses_plaintext(b: &str) {
        // Shows the default mode: a verified TLS client works; a plaintext client gets the
        // readable TLS-required error, then a close.
        let srv = start(b, &[]);
        let mut c = srv.tls_client().get_connection().unwrap();
        let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
        let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
        assert_eq!(v, "v");
        let n: i64 = redis::cmd("INCRBY").arg("n").arg(5).query(&mut c).unwrap();
        assert_eq!(n, 5);
        let mut p = srv.raw_plain();
        p.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(read_to_close(&mut p), cachet_tls_error());
        assert_eq!(srv.info_field(&mut c, "plaintext_refused"), "1");
        assert_eq!(srv.info_field(&mut c, "tls_connections_tlsv1_3"), "1");
    }

    fn a_client_trusting_another_ca_refuses_the_server(b: &str) {
        // Shows server authentication: the client verifies the chain and rejects a server
        // whose certificate is not from the CA it trusts.
        let srv = start(b, &[]);
        let other = TempDir::new("other-ca");
        std::process::Command::new(env!("CARGO_BIN_EXE_cachet"))
            .args(["certs", "--out"]).arg(&other.0).output().unwrap();
        let c = tls_client_with_ca(srv.port, &other.0.join("ca.crt"), None);
        assert!(c.get_connection().is_err());
        let mut ok = srv.tls_client().get_connection().unwrap();
        let failures: u64 = srv.info_field(&mut ok, "tls_handshake_failures").parse().unwrap();
        assert!(failures >= 1, "the refused handshake is counted");
    }

    fn preferred_mode_serves_tls_and_plaintext_on_one_port(b: &str) {
        // Shows preferred: the first byte tells TLS from plaintext on the same port.
        let srv = start(b, &["--transit-encryption-mode", "preferred"]);
        let mut t = srv.tls_client().get_connection().unwrap();
        let mut p = srv.plain_client().get_connection().unwrap();
        let _: () = redis::cmd("SET").arg("shared").arg("1").query(&mut t).unwrap();
        let v: String = redis::cmd("GET").arg("shared").query(&mut p).unwrap();
        assert_eq!(v, "1");
    }

    fn disabled_mode_alerts_a_tls_client(b: &str) {
        // Shows disabled: plaintext works and a ClientHello gets a TLS alert, not a hang.
        let srv = start(b, &["--transit-encryption-mode", "disabled"]);
        let mut p = srv.plain_client().get_connection().unwrap();
        let _: () = redis::cmd("PING").query(&mut p).unwrap();
        let mut s = srv.raw_tls(srv.client_config());
        let err = s.write_all(b"PING\r\n").and_then(|_| s.flush()).and_then(|_| s.read(&mut [0u8; 16]).map(|_| ()));
        let e = err.expect_err("TLS must fail").to_string();
        assert!(e.contains("HandshakeFailure") || e.contains("handshake"), "{e}");
    }

    fn the_mode_changes_live_without_dropping_connections(b: &str) {
        // Shows CONFIG SET transit-encryption-mode: open connections keep working, new ones
        // follow the new mode.
        let srv = start(b, &[]);
        let mut t = srv.tls_client().get_connection().unwrap();
        let _: () = redis::cmd("CONFIG").arg("SET").arg("transit-encryption-mode").arg("disabled").query(&mut t).unwrap();
        let _: () = redis::cmd("PING").query(&mut t).unwrap();
        let mut p = srv.plain_client().get_connection().unwrap();
        let _: () = redis::cmd("PING").query(&mut p).unwrap();
        assert!(srv.tls_client().get_connection().is_err());
        let _: () = redis::cmd("CONFIG").arg("SET").arg("transit-encryption-mode").arg("required").query(&mut p).unwrap();
        let _: () = redis::cmd("PING").query(&mut p).unwrap();
        assert!(srv.plain_client().get_connection().is_err());
        let _: () = redis::cmd("PING").query(&mut srv.tls_client().get_connection().unwrap()).unwrap();
    }

    fn sessions_resume_on_tls13_and_tls12(b: &str) {
        // Shows resumption: a second connection from a client that kept its session resumes,
        // over TLS 1.3 (tickets) and TLS 1.2, and the counters say so.
        let srv = start(b, &[]);
        for cfg in [srv.client_config(), tls12_only(&srv.ca())] {
            for _ in 0..3 {
                let mut s = srv.raw_tls(cfg.clone());
                assert_eq!(ping(&mut s), b"+PONG\r\n");
            }
        }
        let mut c = srv.tls_client().get_connection().unwrap();
        let resumed: u64 = srv.info_field(&mut c, "tls_resumed_handshakes").parse().unwrap();
        assert!(resumed >= 4, "resumed {resumed} of 6");
        assert_eq!(srv.info_field(&mut c, "tls_connections_tlsv1_2"), "3");
    }

    fn mutual_tls_accepts_the_dev_client_and_refuses_others(b: &str) {
        // Shows tls-auth-clients yes: the CA-signed client certificate is accepted; no
        // certificate is refused; optional accepts both.
        let srv = start(b, &["--tls-auth-clients", "yes"]);
        let (cert, key) = (srv.certs().join("client.crt"), srv.certs().join("client.key"));
        let mut c = srv.tls_client_on(srv.port, Some((&cert, &key))).get_connection().unwrap();
        let _: () = redis::cmd("PING").query(&mut c).unwrap();
        assert!(srv.tls_client().get_connection().is_err());
        assert_eq!(srv.info_field(&mut c, "tls_handshake_failures_no_client_certificate"), "1");
        let _: () = redis::cmd("CONFIG").arg("SET").arg("tls-auth-clients").arg("optional").query(&mut c).unwrap();
        let _: () = redis::cmd("PING").query(&mut srv.tls_client().get_connection().unwrap()).unwrap();
    }

    fn certificates_rotate_for_new_connections_only(b: &str) {
        // Shows CONFIG SET tls-cert-file/tls-key-file: existing connections continue, new
        // ones get the new certificate (trusted through the new CA only).
        let srv = start(b, &[]);
        let mut old = srv.tls_client().get_connection().unwrap();
        let next = TempDir::new("rotate");
        std::process::Command::new(env!("CARGO_BIN_EXE_cachet"))
            .args(["certs", "--out"]).arg(&next.0).output().unwrap();
        let _: () = redis::cmd("CONFIG").arg("SET")
            .arg("tls-cert-file").arg(next.0.join("server.crt").to_str().unwrap())
            .arg("tls-key-file").arg(next.0.join("server.key").to_str().unwrap())
            .query(&mut old).unwrap();
        let _: () = redis::cmd("PING").query(&mut old).unwrap();
        assert!(srv.tls_client().get_connection().is_err(), "old CA no longer matches");
        let mut c = tls_client_with_ca(srv.port, &next.0.join("ca.crt"), None).get_connection().unwrap();
        let _: () = redis::cmd("PING").query(&mut c).unwrap();
        // A key that does not match its certificate is refused, and nothing changes.
        let r: redis::RedisResult<()> = redis::cmd("CONFIG").arg("SET")
            .arg("tls-key-file").arg(srv.certs().join("server.key").to_str().unwrap())
            .query(&mut c);
        assert!(r.unwrap_err().to_string().contains("does not match"));
    }

    fn garbage_truncation_and_silence_close_only_that_connection(b: &str) {
        // Shows bad TLS input: garbage after a record header, a truncated ClientHello and a
        // silent peer are each closed and counted; other clients are unaffected.
        let srv = start(b, &["--tls-handshake-timeout", "1"]);
        let mut g = srv.raw_plain();
        g.write_all(b"\x16\x03\x01\x00\x10this is not tls!").unwrap();
        let _ = read_to_close(&mut g);
        let mut t = srv.raw_plain();
        t.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03").unwrap();
        let mut silent = srv.raw_plain();
        // Both are closed by the handshake timeout; read_to_close returns at the close.
        let _ = read_to_close(&mut t);
        let _ = read_to_close(&mut silent);
        let mut c = srv.tls_client().get_connection().unwrap();
        let _: () = redis::cmd("PING").query(&mut c).unwrap();
        assert_eq!(srv.info_field(&mut c, "tls_handshake_failures_malformed"), "1");
        assert_eq!(srv.info_field(&mut c, "tls_handshake_failures_timeout"), "1");
    }

    fn over_maxclients_gets_a_readable_error_after_the_handshake(b: &str) {
        // Shows maxclients: the refusal is sent over TLS so the client can read it.
        let srv = start(b, &["--maxclients", "1"]);
        let mut first = srv.tls_client().get_connection().unwrap();
        let _: () = redis::cmd("PING").query(&mut first).unwrap();
        let mut s = srv.raw_tls(srv.client_config());
        s.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
        let got = read_to_close(&mut s);
        assert_eq!(String::from_utf8_lossy(&got), "-ERR max number of clients reached\r\n");
        assert_eq!(srv.info_field(&mut first, "rejected_connections"), "1");
    }

    fn sigterm_sends_close_notify_and_exits_zero(b: &str) {
        // Shows a clean stop: open TLS clients see close_notify (a clean end of stream, not a
        // truncation) and the process exits 0.
        let mut srv = start(b, &[]);
        let mut s = srv.raw_tls(srv.client_config());
        assert_eq!(ping(&mut s), b"+PONG\r\n");
        let status = srv.stop();
        assert!(status.success(), "exit status {status}");
        let mut buf = [0u8; 16];
        assert_eq!(s.read(&mut buf).expect("clean close_notify, not a truncation"), 0);
    }
}

fn cachet_tls_error() -> Vec<u8> {
    b"-ERR TLS is required on this port (transit-encryption-mode required); connect with TLS\r\n".to_vec()
}

#[test]
fn tls_port_serves_tls_beside_a_plaintext_port() {
    // Shows Redis's tls-port: a separate TLS port while the main port is plaintext.
    // tls-port 0 means "no TLS port", as in Redis: ask the OS for a free one.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let srv = start("epoll", &["--transit-encryption-mode", "disabled", "--tls-port", &free.to_string()]);
    assert_eq!(srv.tls_port, free);
    let mut t = srv.tls_client_on(srv.tls_port, None).get_connection().unwrap();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut t).unwrap();
    let mut p = srv.plain_client().get_connection().unwrap();
    let v: String = redis::cmd("GET").arg("a").query(&mut p).unwrap();
    assert_eq!(v, "1");
}

#[test]
fn a_bad_directive_or_certificate_stops_start_up_with_one_line() {
    // Shows start-up errors name the culprit in one line and exit non-zero.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cachet"))
        .args(["serve", "--port", "0", "--no-such-thing", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown directive 'no-such-thing'"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cachet"))
        .args([
            "serve",
            "--port",
            "0",
            "--tls-cert-file",
            "/nonexistent.crt",
            "--tls-key-file",
            "/nonexistent.key",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read tls-cert-file '/nonexistent.crt'"), "{err}");
}

#[test]
fn dev_certificates_are_made_once_and_reused() {
    // Shows the first start makes the development set and the next start reuses it.
    let shared = TempDir::new("reuse");
    let certs = shared.0.join("certs");
    let certs_arg = certs.to_str().unwrap();
    let srv = start("epoll", &["--tls-dev-dir", certs_arg]);
    for f in ["ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key"] {
        assert!(certs.join(f).is_file(), "{f}");
    }
    let first = std::fs::read(certs.join("ca.crt")).unwrap();
    assert!(srv.log_text().contains("created a development CA"));
    drop(srv);
    let srv2 = start("epoll", &["--tls-dev-dir", certs_arg]);
    assert_eq!(std::fs::read(certs.join("ca.crt")).unwrap(), first);
    assert!(srv2.log_text().contains("using development certificates"));
    let mut c = tls_client_with_ca(srv2.port, &certs.join("ca.crt"), None).get_connection().unwrap();
    let _: () = redis::cmd("PING").query(&mut c).unwrap();
}

both_backends! {
    fn vanishing_peers_and_stray_records_close_only_their_connection(b: &str) {
        // Shows a client that closes mid-handshake is counted as peer_closed, and a stray
        // (forged) record inside an established session closes that session only.
        let srv = start(b, &[]);
        let mut v = srv.raw_plain();
        v.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03").unwrap();
        drop(v);
        let mut s = srv.raw_tls(srv.client_config());
        assert_eq!(ping(&mut s), b"+PONG\r\n");
        // Bypass rustls: an application-data record the server cannot authenticate.
        let mut forged = b"\x17\x03\x03\x00\x20".to_vec();
        forged.extend_from_slice(&[0xaa; 32]);
        s.sock.write_all(&forged).unwrap();
        let mut buf = [0u8; 64];
        // The server answers with a bad_record_mac alert and closes.
        let e = s.read(&mut buf).expect_err("session must end after a forged record").to_string();
        assert!(e.contains("BadRecordMac"), "{e}");
        let mut c = srv.tls_client().get_connection().unwrap();
        let _: () = redis::cmd("PING").query(&mut c).unwrap();
        // The vanished client's close may be seen after our PING: wait for the counter.
        let mut closed = String::new();
        for _ in 0..50 {
            closed = srv.info_field(&mut c, "tls_handshake_failures_peer_closed");
            if closed == "1" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(closed, "1");
    }

    fn idle_clients_are_closed_after_timeout(b: &str) {
        // Shows the `timeout` directive: an idle authenticated client is closed by the node.
        let srv = start(b, &["--timeout", "1"]);
        let mut s = srv.raw_tls(srv.client_config());
        assert_eq!(ping(&mut s), b"+PONG\r\n");
        let mut buf = [0u8; 16];
        // A clean end of stream (close_notify): not a read timeout, not a truncation.
        assert_eq!(s.read(&mut buf).expect("close_notify from the node"), 0);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits (bounded) until a TCP connect to `port` succeeds or fails as `want`.
fn port_open(port: u16, want: bool) -> bool {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() == want {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

both_backends! {
    fn ports_change_live_and_a_taken_port_changes_nothing(b: &str) {
        // Shows CONFIG SET port/tls-port on a live node: every worker moves to the new
        // listeners, open connections stay, and a port already taken is refused with Redis's
        // error, leaving the node as it was.
        let srv = start(b, &[]);
        let mut c = srv.tls_client().get_connection().unwrap();
        let (new_port, new_tls) = (free_port(), free_port());
        let _: () = redis::cmd("CONFIG").arg("SET").arg("port").arg(new_port).arg("tls-port").arg(new_tls)
            .query(&mut c).unwrap();
        assert!(port_open(srv.port, false), "old port still accepting");
        assert!(port_open(new_port, true));
        let _: () = redis::cmd("PING").query(&mut c).unwrap();
        for p in [new_port, new_tls] {
            let mut n = srv.tls_client_on(p, None).get_connection().unwrap();
            let _: () = redis::cmd("PING").query(&mut n).unwrap();
        }
        let got: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("port").query(&mut c).unwrap();
        assert_eq!(got, vec!["port".to_string(), new_port.to_string()]);
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken_port = taken.local_addr().unwrap().port();
        let r: redis::RedisResult<()> = redis::cmd("CONFIG").arg("SET").arg("port").arg(taken_port).query(&mut c);
        assert_eq!(
            r.unwrap_err().to_string(),
            "ResponseError: CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port"
        );
        let mut n = srv.tls_client_on(new_port, None).get_connection().unwrap();
        let _: () = redis::cmd("PING").query(&mut n).unwrap();
    }
}
