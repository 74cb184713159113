//! Pub/sub over the socket: every subscriber, on whichever worker, gets every message in
//! publication order; subscriptions end with the connection.

mod common;
use common::*;
use std::io::Write;

both_backends! {
    fn every_subscriber_gets_every_message_in_order(b: &str) {
        let srv = start(b, &["--transit-encryption-mode", "disabled"]);
        let mut subs = Vec::new();
        for _ in 0..8 {
            let mut s = srv.raw_plain();
            let ack = b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n";
            assert_eq!(roundtrip(&mut s, b"SUBSCRIBE news\r\n", ack.len()), ack);
            subs.push(s);
        }
        let mut p = srv.plain_client().get_connection().unwrap();
        for i in 0..50 {
            let n: i64 = redis::cmd("PUBLISH").arg("news").arg(format!("m{i:02}")).query(&mut p).unwrap();
            assert_eq!(n, 8);
        }
        for s in &mut subs {
            for i in 0..50 {
                let want = format!("*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$3\r\nm{i:02}\r\n");
                assert_eq!(String::from_utf8(read_n(s, want.len())).unwrap(), want);
            }
        }
        // RESP2 subscribed mode refuses other commands, as Redis.
        let s = &mut subs[0];
        s.write_all(b"GET x\r\n").unwrap();
        let want = b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n";
        assert_eq!(read_n(s, want.len()), want);
        drop(subs);
        let mut n = -1i64;
        for _ in 0..200 {
            let v: (String, i64) = redis::cmd("PUBSUB").arg("NUMSUB").arg("news").query(&mut p).unwrap();
            n = v.1;
            if n == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(n, 0, "subscriptions end with their connections");
    }
}
