//! Node-type profiles on a real node: each family's smallest size serves TLS with its derived
//! settings in force, explicit directives win, bad names stop start-up with the stated lines.

mod common;
use common::*;

fn config_get(c: &mut redis::Connection, name: &str) -> String {
    let v: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query(c).unwrap();
    assert_eq!(v.len(), 2, "CONFIG GET {name}");
    v[1].clone()
}

fn cachet(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_cachet")).args(args).output().unwrap()
}

#[test]
fn each_familys_smallest_profile_serves_tls_with_its_settings() {
    let list = cachet(&["profile", "list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 55);
    let mut families: Vec<&str> = rows.iter().map(|r| r["family"].as_str().unwrap()).collect();
    families.dedup();
    assert_eq!(families.len(), 11);
    for fam in families {
        let smallest = rows.iter().find(|r| r["family"] == fam).unwrap();
        let name = smallest["node_type"].as_str().unwrap();
        let srv = start("uring", &["--node-type", name]);
        let mut c = srv.tls_client().get_connection().unwrap_or_else(|e| panic!("{name}: {e}"));
        let _: () = redis::cmd("SET").arg("k").arg(name).query(&mut c).unwrap();
        let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
        assert_eq!(v, name);
        assert_eq!(srv.info_field(&mut c, "node_type"), name);
        assert_eq!(srv.info_field(&mut c, "tuning_profile"), fam);
        let published = smallest["maxmemory_bytes"].as_u64().unwrap();
        assert_eq!(config_get(&mut c, "maxmemory"), ((published as u128) * 75 / 100).to_string(), "{name}");
        assert_eq!(config_get(&mut c, "maxclients"), smallest["maxclients"].to_string());
        let vcpus = smallest["vcpus"].as_u64().unwrap();
        assert_eq!(config_get(&mut c, "workers"), vcpus.min(2).to_string(), "{name}");
        if fam.starts_with('t') {
            assert_eq!(config_get(&mut c, "io-sqpoll"), "no", "{name}: burstable types never poll");
        }
    }
}

#[test]
fn explicit_directives_win_over_the_profile() {
    let srv =
        start("uring", &["--node-type", "cache.r6g.large", "--maxclients", "1234", "--maxmemory", "100mb"]);
    let mut c = srv.tls_client().get_connection().unwrap();
    assert_eq!(config_get(&mut c, "maxclients"), "1234");
    assert_eq!(config_get(&mut c, "maxmemory"), (100u64 << 20).to_string());
    // What the operator did not set comes from the profile.
    assert_eq!(config_get(&mut c, "tls-session-cache-size"), "65000");
    assert_eq!(config_get(&mut c, "node-type"), "cache.r6g.large");
}

#[test]
fn a_profile_larger_than_the_host_is_capped_and_its_sqpoll_thread_serves() {
    // Shows r6g.16xlarge (64 vCPUs) on this host: workers capped at the host's cores with a
    // warning, and the shared SQPOLL thread the profile chooses carries real TLS traffic.
    let srv = start("uring", &["--node-type", "r6g.16xlarge"]);
    let log = srv.log_text();
    assert!(log.contains("wants 63 workers but this host has"), "{log}");
    assert!(log.contains("submission polling: one shared kernel thread"), "{log}");
    let mut c = srv.tls_client().get_connection().unwrap();
    assert_eq!(config_get(&mut c, "io-sqpoll"), "yes");
    for i in 0..200 {
        let _: () = redis::cmd("SET").arg(format!("k{i}")).arg(i).query(&mut c).unwrap();
    }
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 200);
}

#[test]
fn unsupported_and_unknown_node_types_stop_start_up_with_one_line() {
    let out = cachet(&["serve", "--port", "0", "--node-type", "cache.m7g.large"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cachet: node type 'cache.m7g.large' does not support in-transit encryption; supported families: R6g, R5, R4, R3, M6g, M5, M4, M3, T4g, T3, T2"),
        "{err}"
    );
    let out = cachet(&["serve", "--port", "0", "--node-type", "cache.r6g.larg"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cachet: unknown node type 'cache.r6g.larg'; nearest known: cache.r6g.large"),
        "{err}"
    );
    // With transit encryption disabled, an unsupported family runs on a generic profile.
    let srv = start("epoll", &["--transit-encryption-mode", "disabled", "--node-type", "cache.m7g.large"]);
    let mut c = srv.plain_client().get_connection().unwrap();
    assert_eq!(srv.info_field(&mut c, "tuning_profile"), "generic");
}

#[test]
fn writes_over_maxmemory_get_the_oom_error() {
    // Shows maxmemory (noeviction): once the data passes the limit, writes are refused with
    // Redis's error while reads still work.
    let srv = start("uring", &["--maxmemory", "1mb"]);
    let mut c = srv.tls_client().get_connection().unwrap();
    let value = vec![b'x'; 64 * 1024];
    let mut refused = None;
    // Memory is re-measured every 100 ms; keep writing (bounded) until the limit bites.
    for i in 0..2000 {
        let r: redis::RedisResult<()> = redis::cmd("SET").arg(format!("k{i}")).arg(&value[..]).query(&mut c);
        if let Err(e) = r {
            refused = Some(e.to_string());
            break;
        }
        if i >= 16 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    // The redis crate quotes error codes it has no name for.
    assert_eq!(refused.as_deref(), Some("\"OOM\": command not allowed when used memory > 'maxmemory'."));
    let v: Vec<u8> = redis::cmd("GET").arg("k0").query(&mut c).unwrap();
    assert_eq!(v, value);
}

#[test]
fn profile_show_explains_every_setting() {
    let out = cachet(&["profile", "show", "--node-type", "m5.large", "--json"]);
    assert!(out.status.success());
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(p["node_type"], "cache.m5.large");
    let settings = p["settings"].as_array().unwrap();
    assert!(settings.len() >= 9);
    assert!(settings.iter().all(|s| !s["reason"].as_str().unwrap().is_empty()));
    let text = cachet(&["profile", "show", "--node-type", "m5.large"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("maxmemory")
            && text.contains("published 6854542746 bytes less reserved-memory-percent 25"),
        "{text}"
    );
}

#[test]
fn a_tuning_dir_with_edited_copies_is_used_instead_of_the_embedded_files() {
    // Shows --tuning-dir: an operator's edit (reserve a core from 2 vCPUs on R6g) changes the
    // derived workers for cache.r6g.large, and a missing file is named.
    let dir = TempDir::new("tuning-dir");
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tuning")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, dir.0.join(p.file_name().unwrap())).unwrap();
    }
    let r6g = dir.0.join("r6g.toml");
    let text = std::fs::read_to_string(&r6g)
        .unwrap()
        .replace("reserve_core_from_vcpus = 8", "reserve_core_from_vcpus = 2");
    std::fs::write(&r6g, text).unwrap();
    let d = dir.0.to_str().unwrap();
    let show = |args: &[&str]| -> serde_json::Value {
        let mut a = vec!["profile", "show", "--node-type", "r6g.large", "--on-instance", "--json"];
        a.extend_from_slice(args);
        serde_json::from_slice(&cachet(&a).stdout).unwrap()
    };
    assert_eq!(show(&[])["workers"], 2);
    assert_eq!(show(&["--tuning-dir", d])["workers"], 1);
    std::fs::remove_file(dir.0.join("t2.toml")).unwrap();
    let out = cachet(&["profile", "list", "--tuning-dir", d]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("t2.toml"));
}
