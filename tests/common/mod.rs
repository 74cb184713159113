//! Test harness: starts the real `cachet` binary on a free loopback port and connects to it
//! with real clients (the `redis` crate over rustls, raw rustls, raw TCP).
#![allow(dead_code)]

use rustls::pki_types::ServerName;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Bound on any single blocking read in tests, so a server bug fails a test instead of
/// hanging it.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

pub const BACKENDS: [&str; 2] = ["uring", "epoll"];

pub fn install_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("cachet-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub tls_port: u16,
    pub dir: TempDir,
    pub log: Arc<Mutex<Vec<String>>>,
}

/// Starts `cachet serve` with `--io-backend backend`, development certificates in a fresh
/// directory, port 0, and `extra` directives.
pub fn start(backend: &str, extra: &[&str]) -> Server {
    start_in(TempDir::new("srv"), backend, extra)
}

pub fn start_in(dir: TempDir, backend: &str, extra: &[&str]) -> Server {
    start_with(dir, backend, extra, |_| {})
}

/// Like [`start_in`], letting the caller adjust the command (e.g. a seccomp filter).
pub fn start_with(dir: TempDir, backend: &str, extra: &[&str], adjust: impl FnOnce(&mut Command)) -> Server {
    install_provider();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cachet"));
    adjust(&mut cmd);
    cmd.arg("serve")
        .args(["--port", "0", "--io-backend", backend])
        .arg("--tls-dev-dir")
        .arg(dir.0.join("certs"))
        .args(extra)
        .env("CACHET_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start cachet");
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let log2 = log.clone();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            // Log first, then signal: a test reading the log after start() must see the line.
            log2.lock().unwrap().push(line.clone());
            if line.contains("ready to accept connections") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(line);
                }
            }
        }
    });
    let ready = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            panic!("cachet did not start: {:?}", log.lock().unwrap());
        }
    };
    let field = |name: &str| -> u16 {
        let key = format!(" {name}=");
        let at = ready.find(&key).unwrap_or_else(|| panic!("no {name} in {ready}")) + key.len();
        ready[at..].split_whitespace().next().unwrap().parse().unwrap()
    };
    Server { port: field("port"), tls_port: field("tls_port"), child: Some(child), dir, log }
}

impl Server {
    pub fn certs(&self) -> PathBuf {
        self.dir.0.join("certs")
    }
    pub fn ca(&self) -> PathBuf {
        self.certs().join("ca.crt")
    }

    /// A `redis` crate client over TLS, verifying the server against the dev CA.
    pub fn tls_client(&self) -> redis::Client {
        self.tls_client_on(self.port, None)
    }

    pub fn tls_client_on(&self, port: u16, client_cert: Option<(&Path, &Path)>) -> redis::Client {
        tls_client_with_ca(port, &self.ca(), client_cert)
    }

    pub fn plain_client(&self) -> redis::Client {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap()
    }

    pub fn raw_plain(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s
    }

    /// A raw TLS stream (rustls), for exact bytes over TLS.
    pub fn raw_tls(
        &self,
        config: Arc<rustls::ClientConfig>,
    ) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        raw_tls_to(self.port, config)
    }

    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        cachet_tls_client_config(&self.ca(), None)
    }

    /// Sends SIGTERM and waits; returns the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        // SAFETY: plain kill(2) of the child we spawned.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        child.wait().unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Peak resident memory of the server process so far, in bytes (`VmHWM`).
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        kb * 1024
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// One INFO field as text.
    pub fn info_field(&self, conn: &mut redis::Connection, field: &str) -> String {
        let info: String = redis::cmd("INFO").arg("everything").query(conn).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in INFO"))
            .trim()
            .to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn tls_client_with_ca(port: u16, ca: &Path, client_cert: Option<(&Path, &Path)>) -> redis::Client {
    let certs = redis::TlsCertificates {
        client_tls: client_cert.map(|(c, k)| redis::ClientTlsConfig {
            client_cert: std::fs::read(c).unwrap(),
            client_key: std::fs::read(k).unwrap(),
        }),
        root_cert: Some(std::fs::read(ca).unwrap()),
    };
    redis::Client::build_with_tls(format!("rediss://localhost:{port}/"), certs).unwrap()
}

pub fn cachet_tls_client_config(ca: &Path, cert: Option<(&Path, &Path)>) -> Arc<rustls::ClientConfig> {
    install_provider();
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca).unwrap();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(c.unwrap()).unwrap();
    }
    use rustls::pki_types::pem::PemObject;
    let b = rustls::ClientConfig::builder().with_root_certificates(roots);
    Arc::new(match cert {
        None => b.with_no_client_auth(),
        Some((c, k)) => {
            let certs: Vec<_> =
                rustls::pki_types::CertificateDer::pem_file_iter(c).unwrap().map(|c| c.unwrap()).collect();
            let key = rustls::pki_types::PrivateKeyDer::from_pem_file(k).unwrap();
            b.with_client_auth_cert(certs, key).unwrap()
        }
    })
}

pub fn raw_tls_to(
    port: u16,
    config: Arc<rustls::ClientConfig>,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let conn = rustls::ClientConnection::new(config, ServerName::try_from("localhost").unwrap()).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// Writes `req` and reads until `expect.len()` bytes have arrived; returns what arrived.
pub fn roundtrip(s: &mut (impl Read + Write), req: &[u8], expect_len: usize) -> Vec<u8> {
    s.write_all(req).unwrap();
    s.flush().unwrap();
    read_n(s, expect_len)
}

pub fn read_n(s: &mut impl Read, n: usize) -> Vec<u8> {
    let mut got = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        match s.read(&mut got[filled..]) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) => panic!(
                "read failed after {filled} bytes ({:?}): {e}",
                String::from_utf8_lossy(&got[..filled])
            ),
        }
    }
    got.truncate(filled);
    got
}

/// Reads until the peer closes (or errors); returns everything read.
pub fn read_to_close(s: &mut impl Read) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
}

/// Makes the command's process refuse `io_uring_setup` with EPERM through a real seccomp filter,
/// as Docker's default profile does.
pub fn deny_io_uring(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    const RET_ERRNO_EPERM: u32 = 0x0005_0000 | libc::EPERM as u32;
    const RET_ALLOW: u32 = 0x7fff_0000;
    let filter = [
        // Load the syscall number (offset 0 of seccomp_data).
        libc::sock_filter { code: 0x20, jt: 0, jf: 0, k: 0 },
        libc::sock_filter { code: 0x15, jt: 0, jf: 1, k: libc::SYS_io_uring_setup as u32 },
        libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: RET_ERRNO_EPERM },
        libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: RET_ALLOW },
    ];
    // SAFETY: runs in the child between fork and exec; prctl is async-signal-safe, and the
    // filter array is moved into the closure, so nothing is allocated there.
    unsafe {
        cmd.pre_exec(move || {
            let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr() as *mut _ };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog as *const _) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Expands one test body into one test per I/O backend.
#[macro_export]
macro_rules! both_backends {
    ($(fn $name:ident($b:ident: &str) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                fn run($b: &str) $body
                #[test]
                fn uring() { run("uring") }
                #[test]
                fn epoll() { run("epoll") }
            }
        )*
    };
}
