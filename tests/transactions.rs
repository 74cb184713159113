//! MULTI/EXEC over the socket: atomicity against readers on other connections (and so, with
//! SO_REUSEPORT spreading connections, other workers), and WATCH.

mod common;
use common::*;

both_backends! {
    fn exec_is_atomic_for_readers_on_other_connections(b: &str) {
        // Shows EXEC holds every stripe it touches: writers increment two keys in one
        // transaction, and a reader's MGET (which locks both stripes) never sees them differ.
        let srv = start(b, &["--transit-encryption-mode", "disabled"]);
        let client = srv.plain_client();
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let mut c = client.get_connection().unwrap();
                std::thread::spawn(move || {
                    for _ in 0..300 {
                        let (_, _): (i64, i64) = redis::pipe().atomic().incr("tx:a", 1).incr("tx:b", 1).query(&mut c).unwrap();
                    }
                })
            })
            .collect();
        let mut readers = Vec::new();
        for _ in 0..8 {
            let mut c = client.get_connection().unwrap();
            readers.push(std::thread::spawn(move || {
                for _ in 0..400 {
                    let (a, b): (Option<i64>, Option<i64>) = redis::cmd("MGET").arg("tx:a").arg("tx:b").query(&mut c).unwrap();
                    assert_eq!(a, b, "a transaction was seen half done");
                }
            }));
        }
        for t in writers.into_iter().chain(readers) {
            t.join().unwrap();
        }
        let mut c = client.get_connection().unwrap();
        let (a, b): (i64, i64) = redis::cmd("MGET").arg("tx:a").arg("tx:b").query(&mut c).unwrap();
        assert_eq!((a, b), (1200, 1200));
    }

    fn a_watched_key_changed_elsewhere_aborts_exec(b: &str) {
        let srv = start(b, &["--transit-encryption-mode", "disabled"]);
        let client = srv.plain_client();
        let mut a = client.get_connection().unwrap();
        let mut other = client.get_connection().unwrap();
        let _: () = redis::cmd("SET").arg("w").arg(1).query(&mut a).unwrap();
        let _: () = redis::cmd("WATCH").arg("w").query(&mut a).unwrap();
        let _: () = redis::cmd("SET").arg("w").arg(2).query(&mut other).unwrap();
        let r: Option<(i64,)> = redis::pipe().atomic().incr("w", 10).query(&mut a).unwrap();
        assert_eq!(r, None, "EXEC must abort");
        let v: i64 = redis::cmd("GET").arg("w").query(&mut a).unwrap();
        assert_eq!(v, 2);
        // After EXEC the watch is gone: the same transaction now succeeds.
        let r: Option<(i64,)> = redis::pipe().atomic().incr("w", 10).query(&mut a).unwrap();
        assert_eq!(r, Some((12,)));
    }
}
