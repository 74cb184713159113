//! The primary's side of replication as far as it goes: SYNC/PSYNC over TLS answer with an
//! RDB snapshot that holds the node's data (read back with cachet-repl's loader; the interop
//! script also loads it into a real redis-server and compares DEBUG DIGEST).

mod common;
use common::*;
use std::io::Write;

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
