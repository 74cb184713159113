//! CLIENT REPLY/PAUSE/UNPAUSE/UNBLOCK/NO-EVICT, MONITOR and MEMORY USAGE over real TLS
//! connections (exact bytes where replies are suppressed).

mod common;
use common::*;
use std::io::Write;

fn id(c: &mut redis::Connection) -> i64 {
    redis::cmd("CLIENT").arg("ID").query(c).unwrap()
}

/// Polls until `field` of INFO reads `want` (a bounded loop, not a timed assertion).
fn wait_info(srv: &Server, c: &mut redis::Connection, field: &str, want: &str) {
    for _ in 0..1000 {
        if srv.info_field(c, field) == want {
            return;
        }
        std::thread::yield_now();
    }
    panic!("{field} never reached {want}");
}

both_backends! {
    fn client_reply_off_skip_and_on(b: &str) {
        let srv = start(b, &[]);
        let mut s = srv.raw_tls(srv.client_config());
        // OFF: nothing until ON, whose +OK is the only reply.
        let got = roundtrip(&mut s, b"CLIENT REPLY OFF\r\nSET a 1\r\nGET a\r\nCLIENT REPLY ON\r\n", 5);
        assert_eq!(got, b"+OK\r\n");
        // SKIP: the next command's reply only.
        let got = roundtrip(&mut s, b"CLIENT REPLY SKIP\r\nSET a 2\r\nGET a\r\n", 7);
        assert_eq!(got, b"$1\r\n2\r\n");
        let want = b"-ERR syntax error\r\n";
        assert_eq!(roundtrip(&mut s, b"CLIENT REPLY MAYBE\r\n", want.len()), want);
    }

    fn client_pause_write_holds_writes_until_unpause(b: &str) {
        let srv = start(b, &["--workers", "2"]);
        let client = srv.tls_client();
        let mut admin = client.get_connection().unwrap();
        let mut reader = client.get_connection().unwrap();
        let _: () = redis::cmd("CLIENT").arg("PAUSE").arg("100000").arg("WRITE").query(&mut admin).unwrap();
        let mut writer = srv.raw_tls(srv.client_config());
        writer.write_all(b"SET paused-key v\r\n").unwrap();
        writer.flush().unwrap();
        // Reads go on during a WRITE pause; the write has not happened.
        for _ in 0..50 {
            let v: Option<String> = redis::cmd("GET").arg("paused-key").query(&mut reader).unwrap();
            assert_eq!(v, None, "a write ran during CLIENT PAUSE WRITE");
        }
        let _: () = redis::cmd("CLIENT").arg("UNPAUSE").query(&mut admin).unwrap();
        assert_eq!(read_n(&mut writer, 5), b"+OK\r\n");
        let v: Option<String> = redis::cmd("GET").arg("paused-key").query(&mut reader).unwrap();
        assert_eq!(v.as_deref(), Some("v"));
        let e = redis::cmd("CLIENT").arg("PAUSE").arg("-1").query::<()>(&mut admin).unwrap_err().to_string();
        assert!(e.contains("timeout is negative"), "{e}");
    }

    fn client_unblock_answers_a_blocked_pop(b: &str) {
        let srv = start(b, &["--workers", "2"]);
        let client = srv.tls_client();
        let mut admin = client.get_connection().unwrap();
        let mut blocked = srv.raw_tls(srv.client_config());
        blocked.write_all(b"CLIENT ID\r\n").unwrap();
        blocked.flush().unwrap();
        let mut got = Vec::new();
        while !got.ends_with(b"\r\n") {
            got.extend(read_n(&mut blocked, 1));
        }
        let bid: i64 = String::from_utf8_lossy(&got[1..]).trim().parse().unwrap();
        // Not blocked yet: nothing to unblock.
        let n: i64 = redis::cmd("CLIENT").arg("UNBLOCK").arg(bid).query(&mut admin).unwrap();
        assert_eq!(n, 0);
        blocked.write_all(b"BLPOP nolist 0\r\n").unwrap();
        blocked.flush().unwrap();
        wait_info(&srv, &mut admin, "blocked_clients", "1");
        let n: i64 = redis::cmd("CLIENT").arg("UNBLOCK").arg(bid).query(&mut admin).unwrap();
        assert_eq!(n, 1);
        assert_eq!(read_n(&mut blocked, 5), b"*-1\r\n");

        blocked.write_all(b"BLPOP nolist 0\r\n").unwrap();
        blocked.flush().unwrap();
        wait_info(&srv, &mut admin, "blocked_clients", "1");
        let n: i64 = redis::cmd("CLIENT").arg("UNBLOCK").arg(bid).arg("ERROR").query(&mut admin).unwrap();
        assert_eq!(n, 1);
        let want = b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n";
        assert_eq!(read_n(&mut blocked, want.len()), want);
        let _ = id(&mut admin);
        let e = redis::cmd("CLIENT").arg("UNBLOCK").arg(bid).arg("LATER").query::<i64>(&mut admin).unwrap_err().to_string();
        assert!(e.contains("CLIENT UNBLOCK reason should be TIMEOUT or ERROR"), "{e}");
        let ok: () = redis::cmd("CLIENT").arg("NO-EVICT").arg("on").query(&mut admin).unwrap();
        assert_eq!(ok, ());
    }

    fn monitor_sees_commands_from_other_connections(b: &str) {
        let srv = start(b, &["--workers", "2"]);
        let client = srv.tls_client();
        let mut m = srv.raw_tls(srv.client_config());
        assert_eq!(roundtrip(&mut m, b"MONITOR\r\n", 5), b"+OK\r\n");
        let mut c = client.get_connection().unwrap();
        let _: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("port").query(&mut c).unwrap(); // admin: not shown
        let _: () = redis::cmd("SET").arg("foo").arg("bar baz\n").query(&mut c).unwrap();
        // The client library's own CLIENT SETINFO lines come first; CONFIG (admin) never does.
        let line = loop {
            let mut line = Vec::new();
            while !line.ends_with(b"\r\n") {
                line.extend(read_n(&mut m, 1));
            }
            let line = String::from_utf8(line).unwrap();
            assert!(!line.contains("CONFIG"), "an admin command was shown: {line}");
            if line.contains("\"SET\"") {
                break line;
            }
        };
        assert!(line.starts_with('+') && line.contains(" [0 127.0.0.1:"), "{line}");
        assert!(line.ends_with("] \"SET\" \"foo\" \"bar baz\\n\"\r\n"), "{line}");
    }

    fn memory_usage_counts_key_and_value(b: &str) {
        let srv = start(b, &[]);
        let mut c = srv.tls_client().get_connection().unwrap();
        let _: () = redis::cmd("SET").arg("k").arg("x".repeat(1000)).query(&mut c).unwrap();
        let n: i64 = redis::cmd("MEMORY").arg("USAGE").arg("k").query(&mut c).unwrap();
        assert!(n > 1000 && n < 1200, "{n}");
        let none: Option<i64> = redis::cmd("MEMORY").arg("USAGE").arg("missing").query(&mut c).unwrap();
        assert_eq!(none, None);
        let _: i64 = redis::cmd("MEMORY").arg("USAGE").arg("k").arg("SAMPLES").arg("0").query(&mut c).unwrap();
    }
}
