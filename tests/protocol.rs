//! RESP over the socket: exact reply bytes for the foundation's commands, Redis's error
//! strings, pipelining, inline commands, and malformed input. Each test runs on both backends.

mod common;
use common::*;
use std::io::{Read, Write};

/// Plaintext node (mode disabled) so raw bytes can be compared directly.
fn plain(b: &str, extra: &[&str]) -> Server {
    let mut args = vec!["--transit-encryption-mode", "disabled"];
    args.extend_from_slice(extra);
    start(b, &args)
}

fn rt(s: &mut std::net::TcpStream, req: &[u8], expect: &[u8]) {
    let got = roundtrip(s, req, expect.len());
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expect),
        "request {:?}",
        String::from_utf8_lossy(req)
    );
}

both_backends! {
    fn core_commands_reply_with_redis_bytes(b: &str) {
        // Shows GET/SET/INCR/MGET/DEL/EXISTS/DBSIZE answer byte for byte as Redis 7.
        let srv = plain(b, &[]);
        let mut s = srv.raw_plain();
        rt(&mut s, b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
        rt(&mut s, b"*2\r\n$4\r\nPING\r\n$2\r\nhi\r\n", b"$2\r\nhi\r\n");
        rt(&mut s, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", b"$-1\r\n");
        rt(&mut s, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", b"+OK\r\n");
        rt(&mut s, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", b"$1\r\nv\r\n");
        rt(&mut s, b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nw\r\n$2\r\nNX\r\n", b"$-1\r\n");
        rt(&mut s, b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nw\r\n$2\r\nXX\r\n$3\r\nGET\r\n", b"$1\r\nv\r\n");
        rt(&mut s, b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n", b":1\r\n");
        rt(&mut s, b"*3\r\n$6\r\nINCRBY\r\n$1\r\nn\r\n$2\r\n41\r\n", b":42\r\n");
        rt(&mut s, b"*3\r\n$6\r\nDECRBY\r\n$1\r\nn\r\n$1\r\n2\r\n", b":40\r\n");
        rt(&mut s, b"*2\r\n$4\r\nDECR\r\n$1\r\nn\r\n", b":39\r\n");
        rt(&mut s, b"*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n", b"-ERR value is not an integer or out of range\r\n");
        rt(&mut s, b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$19\r\n9223372036854775807\r\n", b"+OK\r\n");
        rt(&mut s, b"*2\r\n$4\r\nINCR\r\n$3\r\nbig\r\n", b"-ERR increment or decrement would overflow\r\n");
        rt(&mut s, b"*5\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n", b"+OK\r\n");
        rt(&mut s, b"*4\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nx\r\n$1\r\nb\r\n", b"*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
        rt(&mut s, b"*4\r\n$6\r\nEXISTS\r\n$1\r\na\r\n$1\r\na\r\n$1\r\nx\r\n", b":2\r\n");
        rt(&mut s, b"*1\r\n$6\r\nDBSIZE\r\n", b":5\r\n");
        rt(&mut s, b"*4\r\n$3\r\nDEL\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nx\r\n", b":2\r\n");
        rt(&mut s, b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", b"$0\r\n\r\n");
        rt(&mut s, b"*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n", b"+OK\r\n");
        rt(&mut s, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", b"$-1\r\n");
        rt(&mut s, b"*2\r\n$6\r\nSELECT\r\n$2\r\n16\r\n", b"-ERR DB index is out of range\r\n");
        rt(&mut s, b"*1\r\n$8\r\nFLUSHALL\r\n", b"+OK\r\n");
        rt(&mut s, b"*1\r\n$4\r\nQUIT\r\n", b"+OK\r\n");
        assert!(read_to_close(&mut s).is_empty(), "QUIT closes the connection");
    }

    fn errors_match_redis_7_text(b: &str) {
        // Shows unknown command, arity and syntax errors carry Redis 7's exact text.
        let srv = plain(b, &[]);
        let mut s = srv.raw_plain();
        rt(&mut s, b"*3\r\n$3\r\nFOO\r\n$1\r\na\r\n$1\r\nb\r\n", b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n");
        rt(&mut s, b"*1\r\n$3\r\nGET\r\n", b"-ERR wrong number of arguments for 'get' command\r\n");
        rt(&mut s, b"*4\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n", b"-ERR wrong number of arguments for 'mset' command\r\n");
        rt(&mut s, b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$3\r\nFOO\r\n", b"-ERR syntax error\r\n");
        rt(&mut s, b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$1\r\n0\r\n", b"-ERR invalid expire time in 'set' command\r\n");
        rt(&mut s, b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$1\r\nx\r\n", b"-ERR value is not an integer or out of range\r\n");
        rt(&mut s, b"*6\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nNX\r\n$2\r\nXX\r\n$3\r\nGET\r\n", b"-ERR syntax error\r\n");
        rt(&mut s, b"*2\r\n$6\r\nCONFIG\r\n$3\r\nFOO\r\n", b"-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n");
        rt(&mut s, b"*2\r\n$4\r\nAUTH\r\n$1\r\nx\r\n", b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n");
        rt(&mut s, b"*2\r\n$5\r\nHELLO\r\n$1\r\n4\r\n", b"-NOPROTO unsupported protocol version\r\n");
        rt(&mut s, b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
    }

    fn pipelined_and_inline_requests_are_all_answered_in_order(b: &str) {
        // Shows 1000 requests written at once come back as 1000 replies, in order.
        let srv = plain(b, &[]);
        let mut s = srv.raw_plain();
        let mut req = Vec::new();
        let mut expect = Vec::new();
        for i in 0..1000 {
            let v = format!("v{i}");
            req.extend_from_slice(format!("*3\r\n$3\r\nSET\r\n$2\r\nk{}\r\n${}\r\n{v}\r\n", i % 10, v.len()).as_bytes());
            req.extend_from_slice(format!("*2\r\n$3\r\nGET\r\n$2\r\nk{}\r\n", i % 10).as_bytes());
            expect.extend_from_slice(b"+OK\r\n");
            expect.extend_from_slice(format!("${}\r\n{v}\r\n", v.len()).as_bytes());
        }
        rt(&mut s, &req, &expect);
        rt(&mut s, b"set greeting \"hello world\"\r\nget greeting\r\nPING\n", b"+OK\r\n$11\r\nhello world\r\n+PONG\r\n");
        rt(&mut s, b"\r\n*0\r\n*-5\r\nPING\r\n", b"+PONG\r\n");
    }

    fn a_request_trickled_byte_by_byte_is_answered_once(b: &str) {
        // Shows the resumable parser: a request cut at every byte still parses once.
        let srv = plain(b, &[]);
        let mut s = srv.raw_plain();
        s.set_nodelay(true).unwrap();
        for &byte in b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n" {
            s.write_all(&[byte]).unwrap();
        }
        assert_eq!(read_n(&mut s, 5), b"+OK\r\n");
        rt(&mut s, b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", b"$5\r\nvalue\r\n");
    }

    fn protocol_errors_reply_then_close(b: &str) {
        // Shows each malformed request gets Redis's protocol error and a close, and that the
        // node keeps serving others.
        let srv = plain(b, &["--proto-max-bulk-len", "1mb"]);
        let cases: [(&[u8], &[u8]); 5] = [
            (b"*3000000000\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
            (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", b"-ERR Protocol error: expected '$', got 'f'\r\n"),
            (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
            (b"*1\r\n$2000000\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
            (b"set \"unbalanced\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
        ];
        for (req, expect) in cases {
            let mut s = srv.raw_plain();
            s.write_all(req).unwrap();
            assert_eq!(String::from_utf8_lossy(&read_to_close(&mut s)), String::from_utf8_lossy(expect));
        }
        let mut s = srv.raw_plain();
        let mut big = b"*1\r\n$".to_vec();
        big.extend(std::iter::repeat_n(b'1', 70_000));
        s.write_all(&big).unwrap();
        assert_eq!(read_to_close(&mut s), b"-ERR Protocol error: too big bulk count string\r\n");
        let mut s = srv.raw_plain();
        rt(&mut s, b"PING\r\n", b"+PONG\r\n");
    }

    fn a_query_buffer_over_the_limit_closes_the_client(b: &str) {
        // Shows client-query-buffer-limit: a request growing past it is cut off (no reply, as
        // Redis), and the node stays up.
        let srv = plain(b, &["--client-query-buffer-limit", "1mb", "--proto-max-bulk-len", "64mb"]);
        let mut s = srv.raw_plain();
        s.write_all(b"*2\r\n$3\r\nGET\r\n$4000000\r\n").unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        let mut closed = false;
        for _ in 0..60 {
            if s.write_all(&chunk).is_err() {
                closed = true;
                break;
            }
        }
        if !closed {
            assert!(read_to_close(&mut s).is_empty());
        }
        let mut s = srv.raw_plain();
        rt(&mut s, b"PING\r\n", b"+PONG\r\n");
    }

    fn a_huge_declared_value_costs_only_what_arrives(b: &str) {
        // Shows memory tracks bytes received, not a declared 500 MB length.
        let srv = plain(b, &[]);
        let mut c = srv.plain_client().get_connection().unwrap();
        let before: u64 = srv.info_field(&mut c, "used_memory_rss").parse().unwrap();
        let mut s = srv.raw_plain();
        s.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500000000\r\n").unwrap();
        s.write_all(&vec![b'x'; 1024 * 1024]).unwrap();
        rt(&mut srv.raw_plain(), b"PING\r\n", b"+PONG\r\n");
        let after: u64 = srv.info_field(&mut c, "used_memory_rss").parse().unwrap();
        assert!(after < before + 64 * 1024 * 1024, "RSS grew from {before} to {after}");
    }

    fn requirepass_gates_commands_and_can_change_live(b: &str) {
        // Shows NOAUTH before AUTH, WRONGPASS, and that changing requirepass keeps existing
        // clients authenticated while new ones need the new password.
        let srv = plain(b, &["--requirepass", "s3cret"]);
        let mut s = srv.raw_plain();
        rt(&mut s, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", b"-NOAUTH Authentication required.\r\n");
        rt(&mut s, b"*1\r\n$3\r\nFOO\r\n", b"-ERR unknown command 'FOO', with args beginning with: \r\n");
        rt(&mut s, b"*2\r\n$4\r\nAUTH\r\n$5\r\nwrong\r\n", b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
        rt(&mut s, b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n", b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n");
        rt(&mut s, b"*2\r\n$4\r\nAUTH\r\n$6\r\ns3cret\r\n", b"+OK\r\n");
        rt(&mut s, b"*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$11\r\nrequirepass\r\n$4\r\nnext\r\n", b"+OK\r\n");
        rt(&mut s, b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
        let mut t = srv.raw_plain();
        rt(&mut t, b"*12\r\n", b"-ERR Protocol error: unauthenticated multibulk length\r\n");
        let mut t = srv.raw_plain();
        rt(&mut t, b"*3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$4\r\nnext\r\n", b"+OK\r\n");
        rt(&mut t, b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
    }

    fn hello_3_switches_to_resp3(b: &str) {
        // Shows HELLO 3's map reply and RESP3 null.
        let srv = plain(b, &[]);
        let mut s = srv.raw_plain();
        s.write_all(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n").unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        while !String::from_utf8_lossy(&got).contains("modules") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"), "{text}");
        assert!(text.contains("$5\r\nproto\r\n:3\r\n"), "{text}");
        let mut rest = read_n(&mut s, 0);
        if !text.ends_with("*0\r\n") {
            rest = read_n(&mut s, 4);
        }
        let _ = rest;
        rt(&mut s, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", b"_\r\n");
    }

    fn expiry_is_exact_and_active(b: &str) {
        // Shows TTL/PTTL/PERSIST/EXPIRE options, deletion for past times, and keys removed
        // by active expiry without being touched.
        let srv = plain(b, &[]);
        let mut s = srv.raw_plain();
        rt(&mut s, b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$3\r\n100\r\n", b"+OK\r\n");
        rt(&mut s, b"*2\r\n$3\r\nTTL\r\n$1\r\nk\r\n", b":100\r\n");
        rt(&mut s, b"*4\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n50\r\n$2\r\nGT\r\n", b":0\r\n");
        rt(&mut s, b"*4\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n50\r\n$2\r\nLT\r\n", b":1\r\n");
        rt(&mut s, b"*4\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n50\r\n$2\r\nNX\r\n", b":0\r\n");
        rt(&mut s, b"*5\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n50\r\n$2\r\nNX\r\n$2\r\nXX\r\n", b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
        rt(&mut s, b"*2\r\n$7\r\nPERSIST\r\n$1\r\nk\r\n", b":1\r\n");
        rt(&mut s, b"*2\r\n$4\r\nPTTL\r\n$1\r\nk\r\n", b":-1\r\n");
        rt(&mut s, b"*2\r\n$4\r\nPTTL\r\n$1\r\nx\r\n", b":-2\r\n");
        rt(&mut s, b"*3\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n-1\r\n", b":1\r\n");
        rt(&mut s, b"*2\r\n$6\r\nEXISTS\r\n$1\r\nk\r\n", b":0\r\n");
        rt(&mut s, b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$1\r\n1\r\n", b"+OK\r\n");
        rt(&mut s, b"*2\r\n$6\r\nEXISTS\r\n$1\r\nk\r\n", b":0\r\n");
        // 200 keys with a 1 ms life: active expiry must remove them without any access.
        let mut req = Vec::new();
        for i in 0..200 {
            req.extend_from_slice(format!("*5\r\n$3\r\nSET\r\n$4\r\nt{i:03}\r\n$1\r\nv\r\n$2\r\nPX\r\n$1\r\n1\r\n").as_bytes());
        }
        rt(&mut s, &req, &b"+OK\r\n".repeat(200));
        let mut c = srv.plain_client().get_connection().unwrap();
        let mut left = usize::MAX;
        for _ in 0..100 {
            left = redis::cmd("DBSIZE").query(&mut c).unwrap();
            if left == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(left, 0, "active expiry left {left} keys");
        let expired: u64 = srv.info_field(&mut c, "expired_keys").parse().unwrap();
        assert!(expired >= 200, "expired_keys {expired}");
    }

    fn client_commands_name_list_and_kill(b: &str) {
        // Shows CLIENT ID/SETNAME/GETNAME/LIST/KILL across workers.
        let srv = plain(b, &[]);
        let mut a = srv.plain_client().get_connection().unwrap();
        let mut victim = srv.raw_plain();
        rt(&mut victim, b"CLIENT SETNAME victim\r\n", b"+OK\r\n");
        rt(&mut victim, b"CLIENT GETNAME\r\n", b"$6\r\nvictim\r\n");
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut a).unwrap();
        let line = list.lines().find(|l| l.contains("name=victim")).expect("victim listed");
        let id: u64 = line.split_whitespace().next().unwrap().trim_start_matches("id=").parse().unwrap();
        let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id).query(&mut a).unwrap();
        assert_eq!(killed, 1);
        assert!(read_to_close(&mut victim).is_empty(), "killed client is closed");
        let r: redis::RedisResult<()> = redis::cmd("CLIENT").arg("SETNAME").arg("has space").query(&mut a);
        assert!(r.unwrap_err().to_string().contains("Client names cannot contain spaces"));
        let count: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut a).unwrap();
        assert!(count >= 28);
    }

    fn config_get_and_set_use_redis_names_and_errors(b: &str) {
        // Shows CONFIG GET patterns, immutable and bad-value errors in Redis's words.
        let srv = plain(b, &[]);
        let mut c = srv.plain_client().get_connection().unwrap();
        let got: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("tls-session-cache-*").query(&mut c).unwrap();
        assert_eq!(got, vec!["tls-session-cache-size", "20480", "tls-session-cache-timeout", "300"]);
        let mut s = srv.raw_plain();
        rt(&mut s, b"CONFIG SET databases 4\r\n", b"-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config\r\n");
        rt(&mut s, b"CONFIG SET maxclients lots\r\n", b"-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer\r\n");
        rt(&mut s, b"CONFIG SET nope 1\r\n", b"-ERR Unknown option or number of arguments for CONFIG SET - 'nope'\r\n");
        rt(&mut s, b"CONFIG SET timeout 30 maxclients 500\r\n", b"+OK\r\n");
        let got: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("maxclients").query(&mut c).unwrap();
        assert_eq!(got, vec!["maxclients", "500"]);
    }
}

both_backends! {
    fn pipelines_over_a_large_keyspace_answer_as_one_command_at_a_time(b: &str) {
        // With more keys than the cache holds, a pipeline's keys are looked up ahead of
        // execution (cache prefetch). Its replies must be exactly those of the commands run one
        // at a time, including keys that an earlier command of the same pipeline deleted,
        // created, overwrote or changed the type of.
        use redis::Value as V;
        let srv = start(b, &[]);
        let mut c = srv.tls_client().get_connection().unwrap();
        let long = |i: u64| format!("{i:0>40}").into_bytes();
        let mut model: std::collections::HashMap<Vec<u8>, V> = Default::default();
        let mut load = redis::pipe();
        for i in 0..40_000u64 {
            let (k, v) = (format!("key:{i}").into_bytes(), if i % 2 == 0 { format!("v{i}").into_bytes() } else { long(i) });
            load.cmd("SET").arg(&k).arg(&v).ignore();
            model.insert(k, V::BulkString(v));
        }
        let () = load.query(&mut c).unwrap();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let (mut p, mut want) = (redis::pipe(), Vec::new());
        for _ in 0..3_000 {
            let r = next();
            let k = format!("key:{}", r % 41_000).into_bytes(); // some never set
            match (r >> 32) % 6 {
                0 | 1 => {
                    p.cmd("GET").arg(&k);
                    want.push(match model.get(&k) {
                        Some(V::Int(_)) | None => V::Nil,
                        Some(v) => v.clone(),
                    });
                }
                2 => {
                    let v = long(r);
                    p.cmd("SET").arg(&k).arg(&v);
                    model.insert(k, V::BulkString(v));
                    want.push(V::Okay);
                }
                3 => {
                    p.cmd("DEL").arg(&k);
                    want.push(V::Int(model.remove(&k).is_some() as i64));
                }
                4 => {
                    p.cmd("EXISTS").arg(&k);
                    want.push(V::Int(model.contains_key(&k) as i64));
                }
                _ => {
                    // A fresh counter, or the key gone: INCR on a non-number is an error.
                    let ck = format!("ctr:{}", r % 500).into_bytes();
                    p.cmd("INCR").arg(&ck);
                    let n = match model.get(&ck) {
                        Some(V::Int(n)) => n + 1,
                        _ => 1,
                    };
                    model.insert(ck, V::Int(n));
                    want.push(V::Int(n));
                }
            }
        }
        let got: Vec<V> = p.query(&mut c).unwrap();
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "command {i} of the pipeline");
        }
        // A pipeline cut in the middle of a request: the part before the cut is answered, the
        // rest once it arrives.
        let mut s = srv.raw_tls(srv.client_config());
        let (mut req, mut replies) = (Vec::new(), Vec::new());
        for i in 0..20u64 {
            let k = format!("key:{}", i * 7);
            req.extend_from_slice(format!("*2\r\n$3\r\nGET\r\n${}\r\n{k}\r\n", k.len()).as_bytes());
            replies.push(match model.get(k.as_bytes()) {
                Some(V::BulkString(v)) => [format!("${}\r\n", v.len()).as_bytes(), v, b"\r\n"].concat(),
                _ => b"$-1\r\n".to_vec(), // deleted by the pipeline above
            });
        }
        let cut = req.len() - 9;
        s.write_all(&req[..cut]).unwrap();
        s.flush().unwrap();
        assert_eq!(read_n(&mut s, replies[..19].concat().len()), replies[..19].concat());
        s.write_all(&req[cut..]).unwrap();
        s.flush().unwrap();
        assert_eq!(read_n(&mut s, replies[19].len()), replies[19]);
    }
}
