//! String and key commands over the socket, with the examples of the Redis command reference
//! and their edge cases; exact reply bytes, on both backends.

mod common;
use common::*;

fn plain(b: &str) -> Server {
    start(b, &["--transit-encryption-mode", "disabled"])
}

/// Sends inline commands one by one and checks each reply's exact bytes.
fn script(s: &mut std::net::TcpStream, steps: &[(&str, &str)]) {
    for (cmd, want) in steps {
        let got = roundtrip(s, format!("{cmd}\r\n").as_bytes(), want.len());
        assert_eq!(String::from_utf8_lossy(&got), *want, "{cmd}");
    }
}

both_backends! {
    fn string_commands_follow_the_reference_examples(b: &str) {
        let srv = plain(b);
        let mut s = srv.raw_plain();
        script(&mut s, &[
            ("EXISTS mykey", ":0\r\n"),
            ("APPEND mykey \"Hello\"", ":5\r\n"),
            ("APPEND mykey \" World\"", ":11\r\n"),
            ("GET mykey", "$11\r\nHello World\r\n"),
            ("STRLEN mykey", ":11\r\n"),
            ("STRLEN nonexisting", ":0\r\n"),
            ("SET mykey \"This is a string\"", "+OK\r\n"),
            ("GETRANGE mykey 0 3", "$4\r\nThis\r\n"),
            ("GETRANGE mykey -3 -1", "$3\r\ning\r\n"),
            ("GETRANGE mykey 0 -1", "$16\r\nThis is a string\r\n"),
            ("GETRANGE mykey 10 100", "$6\r\nstring\r\n"),
            ("GETRANGE mykey 5 3", "$0\r\n\r\n"),
            ("GETRANGE mykey -1 -5", "$0\r\n\r\n"),
            ("GETRANGE nokey 0 -1", "$0\r\n\r\n"),
            ("SET key1 \"Hello World\"", "+OK\r\n"),
            ("SETRANGE key1 6 \"Redis\"", ":11\r\n"),
            ("GET key1", "$11\r\nHello Redis\r\n"),
            ("SETRANGE key2 6 \"Redis\"", ":11\r\n"),
            ("GET key2", "$11\r\n\0\0\0\0\0\0Redis\r\n"),
            ("SETRANGE key3 0 \"\"", ":0\r\n"),
            ("EXISTS key3", ":0\r\n"),
            ("SETRANGE key1 -1 x", "-ERR offset is out of range\r\n"),
            ("SETRANGE key1 536870911 xx", "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"),
            ("INCR mycounter", ":1\r\n"),
            ("GETSET mycounter \"0\"", "$1\r\n1\r\n"),
            ("GET mycounter", "$1\r\n0\r\n"),
            ("GETDEL mycounter", "$1\r\n0\r\n"),
            ("GETDEL mycounter", "$-1\r\n"),
            ("SETNX mykey2 \"Hello\"", ":1\r\n"),
            ("SETNX mykey2 \"World\"", ":0\r\n"),
            ("SETEX k 10 v", "+OK\r\n"),
            ("TTL k", ":10\r\n"),
            ("SETEX k 0 v", "-ERR invalid expire time in 'setex' command\r\n"),
            // TTL rounds to seconds, so a millisecond passing between the two requests cannot
            // change the reply (an exact PTTL could).
            ("PSETEX k 100000 v", "+OK\r\n"),
            ("TTL k", ":100\r\n"),
            ("GETEX k PERSIST", "$1\r\nv\r\n"),
            ("TTL k", ":-1\r\n"),
            ("GETEX k EX 60", "$1\r\nv\r\n"),
            ("TTL k", ":60\r\n"),
            ("GETEX k EX 1 PX 2", "-ERR syntax error\r\n"),
            ("GETEX k PXAT 1", "$1\r\nv\r\n"),
            ("EXISTS k", ":0\r\n"),
            ("MSETNX a 1 b 2", ":1\r\n"),
            ("MSETNX b 3 c 4", ":0\r\n"),
            ("MGET a b c", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n"),
            ("SET f 10.50", "+OK\r\n"),
            ("INCRBYFLOAT f 0.1", "$4\r\n10.6\r\n"),
            ("INCRBYFLOAT f -5", "$3\r\n5.6\r\n"),
            ("SET f 5.0e3", "+OK\r\n"),
            ("INCRBYFLOAT f 2.0e2", "$4\r\n5200\r\n"),
            ("INCRBYFLOAT f abc", "-ERR value is not a valid float\r\n"),
            ("INCRBYFLOAT mykey 1", "-ERR value is not a valid float\r\n"),
        ]);
    }

    fn key_commands_follow_the_reference_examples(b: &str) {
        let srv = plain(b);
        let mut s = srv.raw_plain();
        script(&mut s, &[
            ("SET mykey Hello", "+OK\r\n"),
            ("TYPE mykey", "+string\r\n"),
            ("TYPE nokey", "+none\r\n"),
            ("RENAME mykey myotherkey", "+OK\r\n"),
            ("GET myotherkey", "$5\r\nHello\r\n"),
            ("RENAME nokey x", "-ERR no such key\r\n"),
            ("SET mykey World", "+OK\r\n"),
            ("RENAMENX mykey myotherkey", ":0\r\n"),
            ("RENAMENX mykey fresh", ":1\r\n"),
            ("EXPIRE fresh 100", ":1\r\n"),
            ("RENAME fresh renamed", "+OK\r\n"),
            ("TTL renamed", ":100\r\n"),
            ("EXPIREAT renamed 4102444800", ":1\r\n"),
            ("EXPIRETIME renamed", ":4102444800\r\n"),
            ("PEXPIRETIME renamed", ":4102444800000\r\n"),
            ("EXPIRETIME myotherkey", ":-1\r\n"),
            ("EXPIRETIME nokey", ":-2\r\n"),
            ("PEXPIREAT renamed 1", ":1\r\n"),
            ("EXISTS renamed", ":0\r\n"),
            ("TOUCH myotherkey nokey myotherkey", ":2\r\n"),
            ("SET dolly sheep", "+OK\r\n"),
            ("COPY dolly clone", ":1\r\n"),
            ("GET clone", "$5\r\nsheep\r\n"),
            ("COPY dolly clone", ":0\r\n"),
            ("COPY dolly clone REPLACE", ":1\r\n"),
            ("COPY dolly dolly", "-ERR source and destination objects are the same\r\n"),
            ("COPY dolly dolly DB 1", ":1\r\n"),
            ("COPY dolly x DB 99", "-ERR DB index is out of range\r\n"),
            ("MOVE clone 2", ":1\r\n"),
            ("EXISTS clone", ":0\r\n"),
            ("MOVE dolly 0", "-ERR source and destination objects are the same\r\n"),
            ("SELECT 2", "+OK\r\n"),
            ("GET clone", "$5\r\nsheep\r\n"),
            ("SWAPDB 2 3", "+OK\r\n"),
            ("EXISTS clone", ":0\r\n"),
            ("SELECT 3", "+OK\r\n"),
            ("GET clone", "$5\r\nsheep\r\n"),
            ("SWAPDB x 1", "-ERR invalid first DB index\r\n"),
            ("SWAPDB 1 99", "-ERR DB index is out of range\r\n"),
            ("SELECT 0", "+OK\r\n"),
            ("SET n 123", "+OK\r\n"),
            ("OBJECT ENCODING n", "$3\r\nint\r\n"),
            ("OBJECT ENCODING dolly", "$6\r\nembstr\r\n"),
            ("OBJECT ENCODING nokey", "$-1\r\n"),
            ("OBJECT REFCOUNT n", ":2147483647\r\n"),
            ("OBJECT FOO n", "-ERR unknown subcommand 'FOO'. Try OBJECT HELP.\r\n"),
            ("UNLINK n nokey", ":1\r\n"),
            ("FLUSHDB", "+OK\r\n"),
            ("RANDOMKEY", "$-1\r\n"),
            ("SET only 1", "+OK\r\n"),
            ("RANDOMKEY", "$4\r\nonly\r\n"),
            ("SCAN x", "-ERR invalid cursor\r\n"),
            ("SCAN 0 COUNT 0", "-ERR syntax error\r\n"),
        ]);
    }

    fn keys_and_scan_find_every_key(b: &str) {
        // Shows KEYS matches patterns and a full SCAN returns every key (with MATCH and TYPE),
        // whatever COUNT.
        let srv = plain(b);
        let mut c = srv.plain_client().get_connection().unwrap();
        for i in 0..1000 {
            let _: () = redis::cmd("SET").arg(format!("user:{i}")).arg(i).query(&mut c).unwrap();
        }
        let _: () = redis::cmd("SET").arg("other").arg(1).query(&mut c).unwrap();
        let mut keys: Vec<String> = redis::cmd("KEYS").arg("user:1?").query(&mut c).unwrap();
        keys.sort();
        assert_eq!(keys, (10..20).map(|i| format!("user:{i}")).collect::<Vec<_>>());
        for count in [1, 10, 1000] {
            let mut seen = std::collections::BTreeSet::new();
            let mut cursor = 0u64;
            loop {
                let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor).arg("MATCH").arg("user:*").arg("COUNT").arg(count).arg("TYPE").arg("string")
                    .query(&mut c).unwrap();
                seen.extend(batch);
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
            assert_eq!(seen.len(), 1000, "COUNT {count}");
        }
        let (_, none): (u64, Vec<String>) = redis::cmd("SCAN").arg(0).arg("TYPE").arg("hash").arg("COUNT").arg(100000).query(&mut c).unwrap();
        assert!(none.is_empty());
    }
}

#[test]
fn time_lastsave_and_reset_report_and_restore_as_redis() {
    // Shows TIME is [seconds, microseconds] of the wall clock, LASTSAVE is the start time (no
    // save ever happens), and RESET returns a connection to its first state.
    let srv = start("uring", &[]);
    let mut c = srv.tls_client().get_connection().unwrap();
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query(&mut c).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(secs.abs_diff(now) <= 5 && micros < 1_000_000, "{secs} {micros} vs {now}");
    let last: u64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    assert!(last <= secs && secs - last < 600);
    let _: () = redis::cmd("SELECT").arg(5).query(&mut c).unwrap();
    let _: () = redis::cmd("CLIENT").arg("SETNAME").arg("before").query(&mut c).unwrap();
    let reply: String = redis::cmd("RESET").query(&mut c).unwrap();
    assert_eq!(reply, "RESET");
    let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut c).unwrap();
    assert_eq!(name, None);
    let _: () = redis::cmd("SET").arg("where").arg("db0").query(&mut c).unwrap();
    let _: () = redis::cmd("SELECT").arg(0).query(&mut c).unwrap();
    let v: String = redis::cmd("GET").arg("where").query(&mut c).unwrap();
    assert_eq!(v, "db0", "RESET went back to db 0");
}

both_backends! {
    fn dump_and_restore_round_trip_every_type(b: &str) {
        // Shows DUMP payloads restore to equal values (checked with DEBUG DIGEST-VALUE) under
        // another name, with RESTORE's REPLACE, BUSYKEY, TTL and IDLETIME rules.
        let srv = start(b, &["--enable-debug-command", "yes"]);
        let mut c = srv.tls_client().get_connection().unwrap();
        let _: () = redis::cmd("SET").arg("s").arg("x".repeat(300)).query(&mut c).unwrap();
        let _: () = redis::cmd("RPUSH").arg("l").arg("a").arg("1").arg("b").query(&mut c).unwrap();
        let _: () = redis::cmd("SADD").arg("st").arg("1").arg("2").arg("three").query(&mut c).unwrap();
        let _: () = redis::cmd("HSET").arg("h").arg("f").arg("v").query(&mut c).unwrap();
        let _: () = redis::cmd("ZADD").arg("z").arg("1.5").arg("m").query(&mut c).unwrap();
        for k in ["s", "l", "st", "h", "z"] {
            let payload: Vec<u8> = redis::cmd("DUMP").arg(k).query(&mut c).unwrap();
            let copy = format!("{k}-copy");
            let _: () = redis::cmd("RESTORE").arg(&copy).arg(0).arg(&payload).query(&mut c).unwrap();
            let d: Vec<String> = redis::cmd("DEBUG").arg("DIGEST-VALUE").arg(k).arg(&copy).query(&mut c).unwrap();
            assert_eq!(d[0], d[1], "{k} restored differently");
            let e = redis::cmd("RESTORE").arg(&copy).arg(0).arg(&payload).query::<()>(&mut c).unwrap_err().to_string();
            assert!(e.contains("Target key name already exists"), "{e}");
            let _: () = redis::cmd("RESTORE").arg(&copy).arg(5000).arg(&payload).arg("REPLACE").arg("IDLETIME").arg(100)
                .query(&mut c).unwrap();
            let ttl: i64 = redis::cmd("PTTL").arg(&copy).query(&mut c).unwrap();
            assert!(ttl > 0 && ttl <= 5000, "{ttl}");
            let idle: i64 = redis::cmd("OBJECT").arg("IDLETIME").arg(&copy).query(&mut c).unwrap();
            assert!(idle >= 100, "{idle}");
        }
        let mut payload: Vec<u8> = redis::cmd("DUMP").arg("s").query(&mut c).unwrap();
        let last = payload.len() - 1;
        payload[last] ^= 0xff;
        let e = redis::cmd("RESTORE").arg("bad").arg(0).arg(&payload).query::<()>(&mut c).unwrap_err().to_string();
        assert!(e.contains("DUMP payload version or checksum are wrong"), "{e}");
    }
}
