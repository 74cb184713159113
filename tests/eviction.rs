//! maxmemory and maxmemory-policy under a small limit, over TLS: noeviction refuses writes,
//! the allkeys/volatile policies evict what Redis's sampled approximation would, and OBJECT
//! IDLETIME/FREQ follow the policy.

mod common;
use common::*;

/// Room for data above what the node uses when idle (maxmemory is compared with the whole
/// heap, as Redis compares used_memory).
const ROOM: u64 = 2 * 1024 * 1024;

fn info_u64(srv: &Server, c: &mut redis::Connection, field: &str) -> u64 {
    srv.info_field(c, field).parse().unwrap()
}

fn config_set(c: &mut redis::Connection, name: &str, value: &str) {
    let _: () = redis::cmd("CONFIG").arg("SET").arg(name).arg(value).query(c).unwrap();
}

/// Sets maxmemory to the heap in use now plus [`ROOM`], and the policy; returns the limit.
fn limit(srv: &Server, c: &mut redis::Connection, policy: &str) -> u64 {
    let limit = info_u64(srv, c, "used_memory") + ROOM;
    config_set(c, "maxmemory", &limit.to_string());
    config_set(c, "maxmemory-policy", policy);
    limit
}

both_backends! {
    fn noeviction_refuses_writes_but_serves_reads_and_deletes(b: &str) {
        let srv = start(b, &[]);
        let mut c = srv.tls_client().get_connection().unwrap();
        limit(&srv, &mut c, "noeviction");
        let value = vec![b'v'; 1024];
        let mut refused = None;
        for i in 0..20_000 {
            match redis::cmd("SET").arg(format!("k{i}")).arg(&value).query::<()>(&mut c) {
                Ok(()) => {}
                Err(e) => {
                    refused = Some((i, e.to_string()));
                    break;
                }
            }
        }
        let (n, e) = refused.expect("writes past maxmemory were all accepted");
        assert!(e.contains("command not allowed when used memory > 'maxmemory'"), "{e}");
        assert!(n > 500, "refused after only {n} keys");
        let v: Vec<u8> = redis::cmd("GET").arg("k0").query(&mut c).unwrap();
        assert_eq!(v, value);
        let _: i64 = redis::cmd("DEL").arg("k0").query(&mut c).unwrap();
        assert_eq!(info_u64(&srv, &mut c, "evicted_keys"), 0);
    }

    fn allkeys_lru_keeps_the_keys_in_use(b: &str) {
        let srv = start(b, &[]);
        let mut c = srv.tls_client().get_connection().unwrap();
        let limit = limit(&srv, &mut c, "allkeys-lru");
        let value = vec![b'v'; 1024];
        let hot: Vec<String> = (0..50).map(|i| format!("hot{i}")).collect();
        for k in &hot {
            let _: () = redis::cmd("SET").arg(k).arg(&value).query(&mut c).unwrap();
        }
        for i in 0..10_000 {
            let _: () = redis::cmd("SET").arg(format!("cold{i}")).arg(&value).query(&mut c).unwrap();
            if i % 100 == 0 {
                let _: Vec<Option<Vec<u8>>> = redis::cmd("MGET").arg(&hot).query(&mut c).unwrap();
            }
        }
        let evicted = info_u64(&srv, &mut c, "evicted_keys");
        assert!(evicted > 5_000, "evicted {evicted}");
        let used = info_u64(&srv, &mut c, "used_memory");
        assert!(used <= limit + ROOM / 10, "used_memory {used} over the limit {limit}");
        let alive: i64 = redis::cmd("EXISTS").arg(&hot).query(&mut c).unwrap();
        // Sampling 5 keys per eviction keeps recently used keys with high probability; a cold
        // key survives only by luck (about 1 in 6 keys fit).
        assert!(alive >= 45, "only {alive} of 50 hot keys survived");
    }

    fn volatile_policies_only_evict_keys_with_a_ttl(b: &str) {
        let srv = start(b, &[]);
        let mut c = srv.tls_client().get_connection().unwrap();
        limit(&srv, &mut c, "volatile-ttl");
        let value = vec![b'v'; 1024];
        for i in 0..500 {
            let _: () = redis::cmd("SET").arg(format!("keep{i}")).arg(&value).query(&mut c).unwrap();
        }
        for i in 0..5_000 {
            let _: () = redis::cmd("SET").arg(format!("tmp{i}")).arg(&value).arg("EX").arg(1000 + i).query(&mut c).unwrap();
        }
        let kept: Vec<String> = (0..500).map(|i| format!("keep{i}")).collect();
        let alive: i64 = redis::cmd("EXISTS").arg(&kept).query(&mut c).unwrap();
        assert_eq!(alive, 500, "a key without TTL was evicted");
        // volatile-ttl drops the soonest expiry first: the last keys written live longest.
        let late: i64 = redis::cmd("EXISTS").arg("tmp4999").arg("tmp4998").query(&mut c).unwrap();
        assert_eq!(late, 2);
        assert!(info_u64(&srv, &mut c, "evicted_keys") > 2_000);

        // With nothing volatile left to evict, writes are refused.
        let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
        config_set(&mut c, "maxmemory-policy", "volatile-lru");
        let mut refused = false;
        for i in 0..5_000 {
            if redis::cmd("SET").arg(format!("p{i}")).arg(&value).query::<()>(&mut c).is_err() {
                refused = true;
                break;
            }
        }
        assert!(refused, "volatile-lru with no volatile keys never refused a write");
    }

    fn object_idletime_and_freq_follow_the_policy(b: &str) {
        let srv = start(b, &["--maxmemory-policy", "allkeys-lfu"]);
        let mut c = srv.tls_client().get_connection().unwrap();
        let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
        let fresh: i64 = redis::cmd("OBJECT").arg("FREQ").arg("k").query(&mut c).unwrap();
        for _ in 0..2_000 {
            let _: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
        }
        let hot: i64 = redis::cmd("OBJECT").arg("FREQ").arg("k").query(&mut c).unwrap();
        assert!(hot > fresh, "freq {fresh} -> {hot} after 2000 reads");
        let e = redis::cmd("OBJECT").arg("IDLETIME").arg("k").query::<i64>(&mut c).unwrap_err().to_string();
        assert!(e.contains("An LRU maxmemory policy is not selected"), "{e}");

        config_set(&mut c, "maxmemory-policy", "allkeys-lru");
        let _: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
        let idle: i64 = redis::cmd("OBJECT").arg("IDLETIME").arg("k").query(&mut c).unwrap();
        assert_eq!(idle, 0);
        let e = redis::cmd("OBJECT").arg("FREQ").arg("k").query::<i64>(&mut c).unwrap_err().to_string();
        assert!(e.contains("An LFU maxmemory policy is not selected"), "{e}");
        let policy: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("maxmemory-policy").query(&mut c).unwrap();
        assert_eq!(policy, ["maxmemory-policy", "allkeys-lru"]);
        assert!(redis::cmd("CONFIG").arg("SET").arg("maxmemory-policy").arg("sometimes").query::<()>(&mut c).is_err());
    }
}
