//! Hashes, sets and lists over the socket: exact reply bytes, WRONGTYPE, encodings, and memory
//! accounting that returns to zero; on both backends.

mod common;
use common::*;

fn script(s: &mut std::net::TcpStream, steps: &[(&str, &str)]) {
    for (cmd, want) in steps {
        let got = roundtrip(s, format!("{cmd}\r\n").as_bytes(), want.len());
        assert_eq!(String::from_utf8_lossy(&got), *want, "{cmd}");
    }
}

both_backends! {
    fn hashes_behave_like_redis(b: &str) {
        let srv = start(b, &["--transit-encryption-mode", "disabled"]);
        let mut s = srv.raw_plain();
        script(&mut s, &[
            ("HSET myhash field1 Hello field2 World", ":2\r\n"),
            ("HGET myhash field1", "$5\r\nHello\r\n"),
            ("HGETALL myhash", "*4\r\n$6\r\nfield1\r\n$5\r\nHello\r\n$6\r\nfield2\r\n$5\r\nWorld\r\n"),
            ("HMGET myhash field1 nofield", "*2\r\n$5\r\nHello\r\n$-1\r\n"),
            ("HINCRBY myhash n 5", ":5\r\n"),
            ("HINCRBY myhash field1 1", "-ERR hash value is not an integer\r\n"),
            ("HINCRBYFLOAT myhash f 10.5", "$4\r\n10.5\r\n"),
            ("HLEN myhash", ":4\r\n"),
            ("OBJECT ENCODING myhash", "$8\r\nlistpack\r\n"),
            ("GET myhash", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("TYPE myhash", "+hash\r\n"),
            ("HDEL myhash field1 field2 n f", ":4\r\n"),
            ("EXISTS myhash", ":0\r\n"),
        ]);
    }

    fn sets_behave_like_redis(b: &str) {
        let srv = start(b, &["--transit-encryption-mode", "disabled"]);
        let mut s = srv.raw_plain();
        script(&mut s, &[
            ("SADD key1 a b c", ":3\r\n"),
            ("SADD key2 c d e", ":3\r\n"),
            ("SINTER key1 key2", "*1\r\n$1\r\nc\r\n"),
            ("SADD ints 5 3 1", ":3\r\n"),
            ("SMEMBERS ints", "*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n5\r\n"),
            ("OBJECT ENCODING ints", "$6\r\nintset\r\n"),
            ("OBJECT ENCODING key1", "$9\r\nhashtable\r\n"),
            ("SINTERSTORE out key1 key2", ":1\r\n"),
            ("SMEMBERS out", "*1\r\n$1\r\nc\r\n"),
            ("SINTERCARD 2 key1 key2", ":1\r\n"),
            ("SMOVE key1 key2 a", ":1\r\n"),
            ("SISMEMBER key2 a", ":1\r\n"),
            ("SPOP ints 10", "*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n5\r\n"),
            ("EXISTS ints", ":0\r\n"),
            ("SADD myhash x", ":1\r\n"),
            ("HSET myhash f v", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ]);
    }

    fn lists_behave_like_redis(b: &str) {
        let srv = start(b, &["--transit-encryption-mode", "disabled"]);
        let mut s = srv.raw_plain();
        script(&mut s, &[
            ("RPUSH mylist one two three", ":3\r\n"),
            ("LPUSH mylist zero", ":4\r\n"),
            ("LRANGE mylist 0 -1", "*4\r\n$4\r\nzero\r\n$3\r\none\r\n$3\r\ntwo\r\n$5\r\nthree\r\n"),
            ("LINDEX mylist -1", "$5\r\nthree\r\n"),
            ("LPOS mylist two", ":2\r\n"),
            ("LMOVE mylist other RIGHT LEFT", "$5\r\nthree\r\n"),
            ("LPOP mylist 2", "*2\r\n$4\r\nzero\r\n$3\r\none\r\n"),
            ("LMPOP 2 none mylist LEFT", "*2\r\n$6\r\nmylist\r\n*1\r\n$3\r\ntwo\r\n"),
            ("EXISTS mylist", ":0\r\n"),
            ("LPOP nokey 1", "*-1\r\n"),
            ("OBJECT ENCODING other", "$9\r\nquicklist\r\n"),
            ("SET str x", "+OK\r\n"),
            ("LPUSH str y", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ]);
    }

    fn memory_accounting_returns_to_zero_after_collections_empty(b: &str) {
        // Shows in-place changes to hashes and sets are counted: grow, shrink, delete, and
        // used_memory comes back to where it started.
        let srv = start(b, &["--transit-encryption-mode", "disabled"]);
        let mut c = srv.plain_client().get_connection().unwrap();
        // used_memory_dataset: the per-key accounting, exact; used_memory (the whole heap)
        // also holds connection buffers that keep their capacity.
        let base: u64 = srv.info_field(&mut c, "used_memory_dataset").parse().unwrap();
        let heap_base: u64 = srv.info_field(&mut c, "used_memory").parse().unwrap();
        for i in 0..300 {
            let _: () = redis::cmd("HSET").arg("h").arg(format!("f{i}")).arg(vec![b'x'; 100]).query(&mut c).unwrap();
            let _: () = redis::cmd("SADD").arg("s").arg(format!("m{i}")).query(&mut c).unwrap();
            let _: () = redis::cmd("APPEND").arg("str").arg("abc").query(&mut c).unwrap();
            let _: () = redis::cmd("RPUSH").arg("l").arg(format!("e{i}")).query(&mut c).unwrap();
        }
        let grown: u64 = srv.info_field(&mut c, "used_memory_dataset").parse().unwrap();
        assert!(grown > base + 300 * 100, "{base} -> {grown}");
        let heap: u64 = srv.info_field(&mut c, "used_memory").parse().unwrap();
        assert!(heap > heap_base + 300 * 100, "heap {heap_base} -> {heap}");
        for i in 0..300 {
            let _: () = redis::cmd("HDEL").arg("h").arg(format!("f{i}")).query(&mut c).unwrap();
            let _: () = redis::cmd("SREM").arg("s").arg(format!("m{i}")).query(&mut c).unwrap();
        }
        let _: () = redis::cmd("DEL").arg("str").query(&mut c).unwrap();
        let _: () = redis::cmd("LTRIM").arg("l").arg(1).arg(0).query(&mut c).unwrap();
        let after: u64 = srv.info_field(&mut c, "used_memory_dataset").parse().unwrap();
        assert_eq!(after, base);
    }
}

both_backends! {
    fn sorted_sets_behave_like_redis(b: &str) {
        let srv = start(b, &["--transit-encryption-mode", "disabled"]);
        let mut s = srv.raw_plain();
        script(&mut s, &[
            ("ZADD myzset 1 one 2 two 3 three", ":3\r\n"),
            ("ZRANGE myzset 0 -1 WITHSCORES", "*6\r\n$3\r\none\r\n$1\r\n1\r\n$3\r\ntwo\r\n$1\r\n2\r\n$5\r\nthree\r\n$1\r\n3\r\n"),
            ("ZRANGE myzset (1 +inf BYSCORE LIMIT 0 1", "*1\r\n$3\r\ntwo\r\n"),
            ("ZINCRBY myzset 0.1 one", "$18\r\n1.1000000000000001\r\n"),
            ("ZRANK myzset three", ":2\r\n"),
            ("ZPOPMAX myzset", "*2\r\n$5\r\nthree\r\n$1\r\n3\r\n"),
            ("ZADD myzset GT LT 1 a", "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n"),
            ("OBJECT ENCODING myzset", "$8\r\nlistpack\r\n"),
        ]);
        // RESP3: scores are doubles and WITHSCORES gives pairs. HELLO's reply ends with the
        // empty modules array.
        std::io::Write::write_all(&mut s, b"HELLO 3\r\n").unwrap();
        let mut hello = Vec::new();
        while !hello.ends_with(b"$7\r\nmodules\r\n*0\r\n") {
            hello.extend(read_n(&mut s, 1));
        }
        script(&mut s, &[("ZSCORE myzset two", ",2\r\n"), ("ZRANGE myzset 0 0 WITHSCORES", "*1\r\n*2\r\n$3\r\none\r\n,1.1000000000000001\r\n")]);
    }
}
