//! INFO commandstats/errorstats and the SLOWLOG over real connections.

mod common;
use common::*;

fn info_line(c: &mut redis::Connection, section: &str, prefix: &str) -> Option<String> {
    let text: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    text.lines().find(|l| l.starts_with(prefix)).map(str::to_string)
}

fn field(line: &str, name: &str) -> u64 {
    let at = line.find(&format!("{name}=")).unwrap_or_else(|| panic!("no {name} in {line}")) + name.len() + 1;
    line[at..].split([',', '\r']).next().unwrap().parse().unwrap()
}

both_backends! {
    fn commandstats_count_calls_rejections_and_failures(b: &str) {
        let srv = start(b, &[]);
        let mut c = srv.tls_client().get_connection().unwrap();
        for i in 0..5 {
            let _: () = redis::cmd("SET").arg(format!("k{i}")).arg("v").query(&mut c).unwrap();
        }
        let _: redis::RedisResult<()> = redis::cmd("GET").query(&mut c); // arity: rejected
        let _: () = redis::cmd("LPUSH").arg("l").arg("x").query(&mut c).unwrap();
        let _: redis::RedisResult<()> = redis::cmd("GET").arg("l").query(&mut c); // WRONGTYPE: failed
        let _: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("port").query(&mut c).unwrap();

        let set = info_line(&mut c, "commandstats", "cmdstat_set:").unwrap();
        assert_eq!(field(&set, "calls"), 5);
        let get = info_line(&mut c, "commandstats", "cmdstat_get:").unwrap();
        assert_eq!((field(&get, "calls"), field(&get, "rejected_calls"), field(&get, "failed_calls")), (1, 1, 1));
        assert!(info_line(&mut c, "commandstats", "cmdstat_config|get:").is_some());
        let wrongtype = info_line(&mut c, "errorstats", "errorstat_WRONGTYPE:").unwrap();
        assert_eq!(field(&wrongtype, "count"), 1);
        assert_eq!(field(&info_line(&mut c, "errorstats", "errorstat_ERR:").unwrap(), "count"), 1);
        // Not in the default INFO, as in Redis.
        assert!(info_line(&mut c, "default", "cmdstat_").is_none());

        let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
        assert!(info_line(&mut c, "commandstats", "cmdstat_set:").is_none());
        assert!(info_line(&mut c, "errorstats", "errorstat_").is_none());
    }

    fn slowlog_keeps_the_slowest_with_secrets_redacted(b: &str) {
        let srv = start(b, &["--requirepass", "pw"]);
        let mut c = srv.tls_client().get_connection().unwrap();
        let _: () = redis::cmd("AUTH").arg("pw").query(&mut c).unwrap();
        let _: () = redis::cmd("CONFIG").arg("SET").arg("slowlog-log-slower-than").arg("0").query(&mut c).unwrap();
        let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut c).unwrap();
        let _: () = redis::cmd("AUTH").arg("pw").query(&mut c).unwrap();
        let long = "x".repeat(200);
        let _: () = redis::cmd("SET").arg("big").arg(&long).query(&mut c).unwrap();
        let many: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
        let _: Vec<Option<String>> = redis::cmd("MGET").arg(&many).query(&mut c).unwrap();

        type Entry = (u64, u64, u64, Vec<String>, String, String);
        let log: Vec<Entry> = redis::cmd("SLOWLOG").arg("GET").arg("3").query(&mut c).unwrap();
        assert_eq!(log.len(), 3);
        let (mget, set, auth) = (&log[0].3, &log[1].3, &log[2].3);
        assert_eq!(auth, &["AUTH", "(redacted)"]);
        assert_eq!(set[2], format!("{}... (72 more bytes)", "x".repeat(128)));
        assert_eq!(mget.len(), 32);
        assert_eq!(mget[31], "... (10 more arguments)");
        assert!(log[0].0 > log[1].0, "newest first, ids increasing");

        let _: () = redis::cmd("CONFIG").arg("SET").arg("slowlog-max-len").arg("2").query(&mut c).unwrap();
        let _: () = redis::cmd("PING").query(&mut c).unwrap();
        let len: u64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut c).unwrap();
        assert_eq!(len, 2);
        let _: () = redis::cmd("CONFIG").arg("SET").arg("slowlog-log-slower-than").arg("-1").query(&mut c).unwrap();
        let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut c).unwrap();
        let _: () = redis::cmd("PING").query(&mut c).unwrap();
        let len: u64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut c).unwrap();
        assert_eq!(len, 0);
    }
}

both_backends! {
    fn debug_needs_enabling_and_digests_follow_the_data(b: &str) {
        let off = start(b, &[]);
        let mut c = off.tls_client().get_connection().unwrap();
        let e = redis::cmd("DEBUG").arg("DIGEST").query::<String>(&mut c).unwrap_err().to_string();
        assert!(e.contains("DEBUG command not allowed"), "{e}");

        let srv = start(b, &["--enable-debug-command", "yes"]);
        let mut c = srv.tls_client().get_connection().unwrap();
        let empty: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut c).unwrap();
        assert_eq!(empty, "0".repeat(40));
        let _: () = redis::cmd("SET").arg("s").arg("hello").query(&mut c).unwrap();
        let one: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut c).unwrap();
        assert_ne!(one, empty);
        // The value digest is Redis's: redis-server 7.0.15 prints this for "hello".
        let v: Vec<String> = redis::cmd("DEBUG").arg("DIGEST-VALUE").arg("s").arg("none").query(&mut c).unwrap();
        assert_eq!(v, ["36b23a1456b2dce2c3ed252c456761301dba8060", &"0".repeat(40)]);
        // The digest depends on the data, not on how it got there.
        let _: () = redis::cmd("SET").arg("t").arg("x").query(&mut c).unwrap();
        let _: i64 = redis::cmd("DEL").arg("t").query(&mut c).unwrap();
        let again: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut c).unwrap();
        assert_eq!(again, one);
        let obj: String = redis::cmd("DEBUG").arg("OBJECT").arg("s").query(&mut c).unwrap();
        assert!(obj.contains("encoding:embstr") && obj.contains("refcount:1"), "{obj}");
        let _: () = redis::cmd("DEBUG").arg("SET-ACTIVE-EXPIRE").arg("0").query(&mut c).unwrap();
        let _: () = redis::cmd("DEBUG").arg("SLEEP").arg("0").query(&mut c).unwrap();
        let e = redis::cmd("DEBUG").arg("NOPE").query::<String>(&mut c).unwrap_err().to_string();
        assert!(e.contains("unknown subcommand or wrong number of arguments for 'NOPE'"), "{e}");
    }
}
