//! One connection before the load starts: checks the server answers (and the credentials
//! work), reads its `INFO server` for the record, and notes the TLS session it negotiates.

use crate::opts::Workload;
use crate::reply::{self, Reply};
use crate::tlsconf;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The `INFO server` fields worth recording about the server under test.
const FIELDS: &[&str] = &[
    "redis_version",
    "server_name",
    "valkey_version",
    "cachet_version",
    "os",
    "arch_bits",
    "workers",
    "io_backend",
];

pub struct Probe {
    pub info: BTreeMap<String, String>,
    pub tls: Option<(String, String)>,
}

/// A command in RESP.
pub fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// `AUTH [user] password` for `-a`'s (user, password).
pub fn auth_command((user, pass): &(Option<String>, String)) -> Vec<u8> {
    let mut args: Vec<&[u8]> = vec![b"AUTH"];
    if let Some(u) = user {
        args.push(u.as_bytes());
    }
    args.push(pass.as_bytes());
    command(&args)
}

/// Sends `cmd` and reads one reply: `Ok(bytes of the reply)` or `Err(error text)`.
fn roundtrip(s: &mut dyn ReadWrite, cmd: &[u8]) -> Result<Vec<u8>, String> {
    s.write_all(cmd).and_then(|_| s.flush()).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match reply::scan(&buf) {
            Ok(Some((_, Reply::Error { start, end }))) => {
                return Err(String::from_utf8_lossy(&buf[start..end]).into_owned());
            }
            Ok(Some((len, _))) => {
                buf.truncate(len);
                return Ok(buf);
            }
            Ok(None) => {}
            Err(_) => return Err("the server's reply is not RESP".into()),
        }
        let n = s.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

pub fn probe(w: &Workload, addr: SocketAddr) -> Result<Probe, String> {
    let target = format!("{}:{}", w.server, w.port);
    let sock = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("cannot connect to {target}: {e}"))?;
    sock.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    sock.set_write_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let mut tls_session = None;
    let mut stream: Box<dyn ReadWrite> = match &w.tls {
        Some(o) => {
            let (cfg, name) = tlsconf::client(o)?;
            let conn = rustls::ClientConnection::new(cfg, name).map_err(|e| e.to_string())?;
            let mut s = rustls::StreamOwned::new(conn, sock);
            while s.conn.is_handshaking() {
                s.conn.complete_io(&mut s.sock).map_err(|e| format!("TLS handshake with {target}: {e}"))?;
            }
            let c = &s.conn;
            tls_session = Some((
                c.protocol_version().map(|v| format!("{v:?}").replace('_', ".")).unwrap_or_default(),
                c.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())).unwrap_or_default(),
            ));
            Box::new(s)
        }
        None => Box::new(sock),
    };
    if let Some(auth) = &w.auth {
        roundtrip(&mut *stream, &auth_command(auth)).map_err(|e| format!("AUTH at {target}: {e}"))?;
    }
    let info = roundtrip(&mut *stream, &command(&[b"INFO", b"server"]))
        .map_err(|e| format!("INFO at {target}: {e}"))?;
    let text = String::from_utf8_lossy(&info);
    let mut fields = BTreeMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once(':') {
            if FIELDS.contains(&k) {
                fields.insert(k.to_string(), v.trim().to_string());
            }
        }
    }
    Ok(Probe { info: fields, tls: tls_session })
}
