//! ACL users over real connections: AUTH with usernames, password rotation with clients
//! connected, NOPERM denials and the ACL LOG, live changes to connected users, the ACL file,
//! and login by client certificate (`tls-auth-clients-user CN`), over TLS with verification.

mod common;
use common::*;

fn cmd(c: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<redis::Value> {
    let mut k = redis::cmd(args[0]);
    for a in &args[1..] {
        k.arg(*a);
    }
    k.query(c)
}

fn ok(c: &mut redis::Connection, args: &[&str]) -> redis::Value {
    cmd(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// The error text (code and message) of a command that must fail.
fn err(c: &mut redis::Connection, args: &[&str]) -> String {
    match cmd(c, args) {
        Ok(v) => panic!("{args:?} succeeded: {v:?}"),
        Err(e) => e.to_string().replace("NoPerm:", "NOPERM"),
    }
}

fn text(v: redis::Value) -> String {
    redis::from_redis_value::<String>(v).unwrap()
}

both_backends! {
    fn a_password_rotates_with_clients_connected(b: &str) {
        // Shows an AUTH token rotated as a managed cache does it: add the new password, move
        // clients, remove the old one; connected clients are never interrupted.
        let srv = start(b, &["--requirepass", "boot-secret"]);
        let client = srv.tls_client();
        let mut admin = client.get_connection().unwrap();
        assert!(err(&mut admin, &["GET", "k"]).contains("NOAUTH"));
        ok(&mut admin, &["AUTH", "boot-secret"]);
        ok(&mut admin, &["ACL", "SETUSER", "app", "on", ">old-token", "~app:*", "+@all"]);

        let mut c1 = client.get_connection().unwrap();
        ok(&mut c1, &["AUTH", "app", "old-token"]);
        ok(&mut c1, &["SET", "app:1", "v1"]);

        ok(&mut admin, &["ACL", "SETUSER", "app", ">new-token"]);
        let mut c2 = client.get_connection().unwrap();
        ok(&mut c2, &["AUTH", "app", "new-token"]);
        ok(&mut admin, &["ACL", "SETUSER", "app", "<old-token"]);

        // c1 logged in with the old token and keeps working; new logins need the new one.
        assert_eq!(text(ok(&mut c1, &["GET", "app:1"])), "v1");
        let mut c3 = client.get_connection().unwrap();
        assert!(err(&mut c3, &["AUTH", "app", "old-token"]).contains("WRONGPASS"));
        ok(&mut c3, &["AUTH", "app", "new-token"]);
        assert_eq!(text(ok(&mut c3, &["ACL", "WHOAMI"])), "app");

        // Passwords are stored hashed: neither token appears in ACL LIST, GETUSER or INFO.
        let list: Vec<String> = redis::cmd("ACL").arg("LIST").query(&mut admin).unwrap();
        let info: String = redis::cmd("INFO").arg("everything").query(&mut admin).unwrap();
        for t in [list.join("\n"), info] {
            assert!(!t.contains("old-token") && !t.contains("new-token") && !t.contains("boot-secret"));
        }
        assert!(list.iter().any(|l| l.starts_with("user app on #") && l.ends_with("~app:* resetchannels +@all")), "{list:?}");

        // The failed AUTH is in the ACL LOG under the name it tried.
        let log: Vec<std::collections::HashMap<String, redis::Value>> =
            redis::cmd("ACL").arg("LOG").query(&mut admin).unwrap();
        let e = &log[0];
        assert_eq!(text(e["reason"].clone()), "auth");
        assert_eq!(text(e["username"].clone()), "app");
        assert_eq!(text(e["object"].clone()), "AUTH");

        // requirepass changed live is the default user's only password.
        ok(&mut admin, &["CONFIG", "SET", "requirepass", "rotated"]);
        let mut c4 = client.get_connection().unwrap();
        assert!(err(&mut c4, &["AUTH", "boot-secret"]).contains("WRONGPASS"));
        ok(&mut c4, &["AUTH", "rotated"]);
    }

    fn denied_commands_keys_and_channels_get_noperm_and_a_log_entry(b: &str) {
        let srv = start(b, &[]);
        let client = srv.tls_client();
        let mut admin = client.get_connection().unwrap();
        ok(&mut admin, &["ACL", "SETUSER", "ro", "on", ">pw", "%R~r:*", "%W~w:*", "&news.*", "-@all", "+get", "+set",
            "+publish", "+multi", "+exec"]);
        let mut c = client.get_connection().unwrap();
        ok(&mut c, &["AUTH", "ro", "pw"]);
        assert_eq!(ok(&mut c, &["GET", "r:1"]), redis::Value::Nil);
        ok(&mut c, &["SET", "w:1", "x"]);
        let key_err = "NOPERM this user has no permissions to access one of the keys used as arguments";
        assert!(err(&mut c, &["SET", "r:1", "x"]).contains(key_err));
        assert!(err(&mut c, &["GET", "w:1"]).contains(key_err));
        assert!(err(&mut c, &["CONFIG", "GET", "port"])
            .contains("this user has no permissions to run the 'config|get' command"));
        assert!(err(&mut c, &["PUBLISH", "sports", "m"]).contains("one of the channels used as arguments"));
        ok(&mut c, &["PUBLISH", "news.today", "m"]);

        // A denied command inside MULTI fails the transaction.
        ok(&mut c, &["MULTI"]);
        assert!(err(&mut c, &["DEL", "w:1"]).contains("NOPERM"));
        assert!(err(&mut c, &["EXEC"]).contains("Transaction discarded because of previous errors"));

        let log: Vec<std::collections::HashMap<String, redis::Value>> =
            redis::cmd("ACL").arg("LOG").query(&mut admin).unwrap();
        let seen: Vec<(String, String, String)> = log
            .iter()
            .map(|e| (text(e["reason"].clone()), text(e["object"].clone()), text(e["context"].clone())))
            .collect();
        for want in [
            ("command", "del", "multi"),
            ("channel", "sports", "toplevel"),
            ("command", "config|get", "toplevel"),
            ("key", "w:1", "toplevel"),
            ("key", "r:1", "toplevel"),
        ] {
            assert!(seen.contains(&(want.0.into(), want.1.into(), want.2.into())), "{want:?} not in {seen:?}");
        }
        assert_eq!(text(ok(&mut admin, &["ACL", "DRYRUN", "ro", "GET", "w:1"])),
            "This user has no permissions to access the 'w:1' key");
        assert_eq!(ok(&mut admin, &["ACL", "DRYRUN", "ro", "GET", "r:1"]), redis::Value::Okay);
        ok(&mut admin, &["ACL", "LOG", "RESET"]);
        let log: Vec<redis::Value> = redis::cmd("ACL").arg("LOG").query(&mut admin).unwrap();
        assert!(log.is_empty());
    }

    fn changes_reach_connected_users_and_deluser_disconnects_them(b: &str) {
        // Shows a client on another connection (and so, often, another worker) sees ACL SETUSER
        // at its next command, and is disconnected when its user is deleted.
        let srv = start(b, &["--workers", "2"]);
        let client = srv.tls_client();
        let mut admin = client.get_connection().unwrap();
        ok(&mut admin, &["ACL", "SETUSER", "svc", "on", ">pw", "~*", "+@all"]);
        let mut c = client.get_connection().unwrap();
        ok(&mut c, &["AUTH", "svc", "pw"]);
        ok(&mut c, &["SET", "k", "v"]);
        ok(&mut admin, &["ACL", "SETUSER", "svc", "-set"]);
        assert!(err(&mut c, &["SET", "k", "v"]).contains("'set' command"));
        assert_eq!(text(ok(&mut c, &["GET", "k"])), "v");
        let killed = ok(&mut admin, &["ACL", "DELUSER", "svc", "nobody"]);
        assert_eq!(killed, redis::Value::Int(1));
        assert!(cmd(&mut c, &["PING"]).is_err(), "a deleted user's connection stays open");
        assert!(err(&mut admin, &["ACL", "DELUSER", "default"]).contains("The 'default' user cannot be removed"));
    }

    fn the_acl_file_loads_saves_and_refuses_bad_files(b: &str) {
        let dir = TempDir::new("aclfile");
        let path = dir.0.join("users.acl");
        std::fs::write(&path, "user reader on #5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8 ~* +@read\n").unwrap();
        let srv = start(b, &["--aclfile", path.to_str().unwrap()]);
        let client = srv.tls_client();
        let mut admin = client.get_connection().unwrap();
        let mut r = client.get_connection().unwrap();
        // The hash above is SHA-256("password").
        ok(&mut r, &["AUTH", "reader", "password"]);
        assert!(err(&mut r, &["SET", "k", "v"]).contains("NOPERM"));

        ok(&mut admin, &["ACL", "SETUSER", "writer", "on", ">w", "~w:*", "+@write"]);
        ok(&mut admin, &["ACL", "SAVE"]);
        let saved = std::fs::read_to_string(&path).unwrap();
        assert!(saved.contains("user writer on #") && saved.contains("user reader on #5e88"), "{saved}");
        assert!(!saved.contains(">w"));

        std::fs::write(&path, "user only on nopass ~* +@all\nuser broken on +nosuchcommand\n").unwrap();
        let e = err(&mut admin, &["ACL", "LOAD"]);
        assert!(e.contains("users.acl:2") && e.contains("Unknown command or category name in ACL"), "{e}");
        let users: Vec<String> = redis::cmd("ACL").arg("USERS").query(&mut admin).unwrap();
        assert_eq!(users, ["default", "reader", "writer"]);

        std::fs::write(&path, "user only on nopass ~* +@all\n").unwrap();
        ok(&mut admin, &["ACL", "LOAD"]);
        let users: Vec<String> = redis::cmd("ACL").arg("USERS").query(&mut admin).unwrap();
        assert_eq!(users, ["default", "only"]);
    }

    fn a_client_certificate_cn_logs_in_as_that_user(b: &str) {
        // Shows tls-auth-clients-user CN: the dev client certificate's CN (cachet-dev-client)
        // names an ACL user, so the client is that user from the handshake on, with no AUTH;
        // a client with no such user stays unauthenticated.
        let srv = start(b, &["--tls-auth-clients", "optional", "--tls-auth-clients-user", "CN",
            "--requirepass", "secret", "--user", "cachet-dev-client on resetpass ~cert:* +@all"]);
        let (cert, key) = (srv.certs().join("client.crt"), srv.certs().join("client.key"));
        let mut c = srv.tls_client_on(srv.port, Some((&cert, &key))).get_connection().unwrap();
        assert_eq!(text(ok(&mut c, &["ACL", "WHOAMI"])), "cachet-dev-client");
        ok(&mut c, &["SET", "cert:1", "v"]);
        assert!(err(&mut c, &["SET", "other", "v"]).contains("NOPERM"));
        let mut anon = srv.tls_client().get_connection().unwrap();
        assert!(err(&mut anon, &["PING"]).contains("NOAUTH"));

        ok(&mut c, &["AUTH", "secret"]);
        ok(&mut c, &["CONFIG", "SET", "tls-auth-clients-user", "off"]);
        let mut c2 = srv.tls_client_on(srv.port, Some((&cert, &key))).get_connection().unwrap();
        assert!(err(&mut c2, &["PING"]).contains("NOAUTH"));
    }
}

both_backends! {
    fn a_subscriber_whose_channel_is_revoked_is_disconnected(b: &str) {
        // Shows Redis 7's rule: ACL SETUSER that takes a channel away closes the clients of
        // that user subscribed to it, at once (a subscriber may never send another command).
        let srv = start(b, &["--workers", "2"]);
        let client = srv.tls_client();
        let mut admin = client.get_connection().unwrap();
        ok(&mut admin, &["ACL", "SETUSER", "listener", "on", ">pw", "resetchannels", "&news.*", "+@all"]);
        let mut sub = srv.raw_tls(srv.client_config());
        let auth = b"*3\r\n$4\r\nAUTH\r\n$8\r\nlistener\r\n$2\r\npw\r\n";
        assert_eq!(roundtrip(&mut sub, auth, 5), b"+OK\r\n");
        let want = b"*3\r\n$9\r\nsubscribe\r\n$10\r\nnews.sport\r\n:1\r\n";
        assert_eq!(roundtrip(&mut sub, b"SUBSCRIBE news.sport\r\n", want.len()), want);
        // Still allowed: the subscriber stays.
        ok(&mut admin, &["ACL", "SETUSER", "listener", "&weather"]);
        let n: i64 = redis::cmd("PUBLISH").arg("news.sport").arg("goal").query(&mut admin).unwrap();
        assert_eq!(n, 1);
        let msg = b"*3\r\n$7\r\nmessage\r\n$10\r\nnews.sport\r\n$4\r\ngoal\r\n";
        assert_eq!(read_n(&mut sub, msg.len()), msg);
        // Revoked: closed.
        ok(&mut admin, &["ACL", "SETUSER", "listener", "resetchannels", "&weather"]);
        assert!(read_to_close(&mut sub).is_empty(), "the subscriber got more data instead of being closed");
    }
}
