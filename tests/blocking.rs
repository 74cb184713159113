//! Blocking commands over the socket: served by pushes from other connections (and so, with
//! SO_REUSEPORT spreading connections, from other workers), timeouts, pipelines behind a
//! blocked request, EXEC, and disconnects.

mod common;
use common::*;
use std::io::Write;

fn plain(b: &str) -> Server {
    start(b, &["--transit-encryption-mode", "disabled"])
}

both_backends! {
    fn clients_blocked_on_a_key_each_get_one_pushed_element(b: &str) {
        // Shows the cross-worker wake-up: six clients block on one list; six pushes from
        // another connection reach them, one element each, none lost.
        let srv = plain(b);
        let client = srv.plain_client();
        let waiters: Vec<_> = (0..6)
            .map(|_| {
                let mut c = client.get_connection().unwrap();
                std::thread::spawn(move || -> (String, String) { redis::cmd("BLPOP").arg("q").arg(0).query(&mut c).unwrap() })
            })
            .collect();
        let mut p = client.get_connection().unwrap();
        // Wait (bounded) until all six are registered, so the pushes find them blocked.
        let mut blocked = 0;
        for _ in 0..200 {
            blocked = srv.info_field(&mut p, "blocked_clients").parse().unwrap();
            if blocked == 6 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(blocked, 6);
        for i in 0..6 {
            let _: () = redis::cmd("RPUSH").arg("q").arg(format!("v{i}")).query(&mut p).unwrap();
        }
        let mut got: Vec<String> = waiters.into_iter().map(|t| t.join().unwrap().1).collect();
        got.sort();
        assert_eq!(got, (0..6).map(|i| format!("v{i}")).collect::<Vec<_>>());
        assert_eq!(srv.info_field(&mut p, "blocked_clients"), "0");
    }

    fn a_timeout_answers_nil_and_requests_behind_it_run_afterwards(b: &str) {
        let srv = plain(b);
        let mut s = srv.raw_plain();
        s.write_all(b"BLPOP nothing 0.2\r\nPING\r\n").unwrap();
        assert_eq!(read_n(&mut s, 12), b"*-1\r\n+PONG\r\n");
        let mut s = srv.raw_plain();
        assert_eq!(roundtrip(&mut s, b"BLPOP k -1\r\n", 26), b"-ERR timeout is negative\r\n");
        let want = b"-ERR timeout is not a float or out of range\r\n";
        assert_eq!(roundtrip(&mut s, b"BLPOP k x\r\n", want.len()), want);
    }

    fn pipelined_requests_wait_behind_a_blocked_one(b: &str) {
        // Shows Redis's ordering: the PING sent after BLPOP is answered after BLPOP is served.
        let srv = plain(b);
        let mut s = srv.raw_plain();
        s.write_all(b"BLPOP k 0\r\nPING\r\n").unwrap();
        let mut p = srv.plain_client().get_connection().unwrap();
        for _ in 0..200 {
            if srv.info_field(&mut p, "blocked_clients") == "1" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _: () = redis::cmd("LPUSH").arg("k").arg("v").query(&mut p).unwrap();
        let want = b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n+PONG\r\n";
        assert_eq!(read_n(&mut s, want.len()), want);
    }

    fn blmove_and_bzpopmin_wake_on_their_writes(b: &str) {
        let srv = plain(b);
        let client = srv.plain_client();
        let mut c1 = client.get_connection().unwrap();
        let mover = std::thread::spawn(move || -> String {
            redis::cmd("BLMOVE").arg("src").arg("dst").arg("LEFT").arg("RIGHT").arg(5).query(&mut c1).unwrap()
        });
        let mut c2 = client.get_connection().unwrap();
        let popper = std::thread::spawn(move || -> (String, String, f64) {
            redis::cmd("BZPOPMIN").arg("z").arg(5).query(&mut c2).unwrap()
        });
        let mut p = client.get_connection().unwrap();
        for _ in 0..200 {
            if srv.info_field(&mut p, "blocked_clients") == "2" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _: () = redis::cmd("RPUSH").arg("src").arg("x").query(&mut p).unwrap();
        let _: () = redis::cmd("ZADD").arg("z").arg(1.5).arg("m").query(&mut p).unwrap();
        assert_eq!(mover.join().unwrap(), "x");
        assert_eq!(popper.join().unwrap(), ("z".to_string(), "m".to_string(), 1.5));
        let dst: Vec<String> = redis::cmd("LRANGE").arg("dst").arg(0).arg(-1).query(&mut p).unwrap();
        assert_eq!(dst, vec!["x"]);
    }

    fn exec_never_blocks_and_a_disconnect_unregisters(b: &str) {
        let srv = plain(b);
        let mut s = srv.raw_plain();
        let r = roundtrip(&mut s, b"MULTI\r\nBLPOP k 0\r\nEXEC\r\n", 5 + 9 + 9);
        assert_eq!(r, b"+OK\r\n+QUEUED\r\n*1\r\n*-1\r\n");
        let mut gone = srv.raw_plain();
        gone.write_all(b"BLPOP k 0\r\n").unwrap();
        let mut p = srv.plain_client().get_connection().unwrap();
        for _ in 0..200 {
            if srv.info_field(&mut p, "blocked_clients") == "1" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        drop(gone);
        let mut n = String::new();
        for _ in 0..200 {
            n = srv.info_field(&mut p, "blocked_clients");
            if n == "0" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(n, "0");
        // The list is untouched by the departed client.
        let _: () = redis::cmd("RPUSH").arg("k").arg("v").query(&mut p).unwrap();
        let len: i64 = redis::cmd("LLEN").arg("k").query(&mut p).unwrap();
        assert_eq!(len, 1);
    }
}
