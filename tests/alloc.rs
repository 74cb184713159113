//! No heap allocation per request on the GET/SET path: the real connection code (parser,
//! dispatch, keyspace, reply encoding, TLS sealing) is driven in-process under an allocator that
//! counts, and only the server's calls are counted.

mod common;
use cachet_server::conn::{Conn, PortKind};
use cachet_server::{Config, Node};
use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; the counters are
// thread-local cells touched without allocating.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCS.with(|a| a.set(a.get() + 1));
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCS.with(|a| a.set(a.get() + 1));
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f`.
fn counted(f: impl FnOnce()) -> u64 {
    ALLOCS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.with(|a| a.get())
}

fn node(dir: &TempDir, mode: &str) -> Node {
    let set = cachet_tls::make_dev_set(&dir.0).unwrap();
    let mut c = Config {
        tls_cert_file: Some(set.server_cert()),
        tls_key_file: Some(set.server_key()),
        ..Config::default()
    };
    c.apply("transit-encryption-mode", mode, "test").unwrap();
    Node::new(c, cachet_runtime::IoBackend::Epoll, 1, 0, 0).unwrap()
}

fn batch(cmd: &[u8], n: usize) -> Vec<u8> {
    cmd.repeat(n)
}

#[test]
fn plaintext_get_and_set_allocate_nothing_per_request() {
    let dir = TempDir::new("alloc-plain");
    let node = node(&dir, "disabled");
    let ws = &node.worker_stats[0];
    let (h, _) = node.register_client(0, "a".into(), "b".into());
    let mut conn = Conn::new(PortKind::Main, &node, h, 0, false);
    let mut out = Vec::new();
    let get = batch(b"*2\r\n$3\r\nGET\r\n$8\r\nkey:0001\r\n", 16);
    let set_int = batch(b"*3\r\n$3\r\nSET\r\n$8\r\nkey:0002\r\n$5\r\n12345\r\n", 16);
    let set_str =
        batch(b"*3\r\n$3\r\nSET\r\n$8\r\nkey:0001\r\n$32\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n", 16);
    let set_short = batch(b"*3\r\n$3\r\nSET\r\n$8\r\nkey:0003\r\n$16\r\nxxxxxxxxxxxxxxxx\r\n", 16);
    let mut run = |req: &[u8], out: &mut Vec<u8>| {
        let mut data = req.to_vec();
        let mut n = 0;
        n += counted(|| {
            conn.receive(&node, ws, &mut data);
            conn.flush(ws, out);
        });
        out.clear();
        n
    };
    for _ in 0..100 {
        run(&set_str, &mut out);
        run(&set_short, &mut out);
        // Twice: the connection swaps its reply buffer with `out`, so both grow to a GET
        // batch's size during warm-up, not in the measured loop.
        run(&get, &mut out);
        run(&get, &mut out);
        run(&set_int, &mut out);
    }
    let gets: u64 = (0..1000).map(|_| run(&get, &mut out)).sum();
    assert_eq!(gets, 0, "allocations over 16 000 GETs");
    let int_sets: u64 = (0..1000).map(|_| run(&set_int, &mut out)).sum();
    assert_eq!(int_sets, 0, "allocations over 16 000 SETs of an integer (stored inline)");
    let str_sets: u64 = (0..1000).map(|_| run(&set_str, &mut out)).sum();
    assert_eq!(str_sets, 16_000, "one allocation per SET of a string: the stored value itself");
    let short_sets: u64 = (0..1000).map(|_| run(&set_short, &mut out)).sum();
    assert_eq!(short_sets, 0, "allocations over 16 000 SETs of a 16-byte string (stored inline)");
}

#[test]
fn tls_get_allocates_only_rustls_per_record_buffers() {
    install_provider();
    let dir = TempDir::new("alloc-tls");
    let node = node(&dir, "required");
    let ws = &node.worker_stats[0];
    let (h, _) = node.register_client(0, "a".into(), "b".into());
    let mut conn = Conn::new(PortKind::Main, &node, h, 0, false);
    let ccfg = cachet_tls_client_config(&dir.0.join("ca.crt"), None);
    let mut client =
        rustls::ClientConnection::new(ccfg, rustls::pki_types::ServerName::try_from("localhost").unwrap())
            .unwrap();
    let get = batch(b"*2\r\n$3\r\nGET\r\n$8\r\nkey:0001\r\n", 16);
    let mut out = Vec::new();
    // One exchange: client bytes in, server bytes back to the client; returns server allocations.
    let mut exchange = |client: &mut rustls::ClientConnection, plain: &[u8], out: &mut Vec<u8>| -> u64 {
        if !plain.is_empty() {
            client.writer().write_all(plain).unwrap();
        }
        let mut wire = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut wire).unwrap();
        }
        let n = counted(|| {
            if !wire.is_empty() {
                conn.receive(&node, ws, &mut wire);
            }
            conn.flush(ws, out);
        });
        let mut rd = &out[..];
        while !rd.is_empty() {
            client.read_tls(&mut rd).unwrap();
            client.process_new_packets().unwrap();
        }
        out.clear();
        let mut sink = vec![0u8; 1 << 16];
        while let Ok(k) = client.reader().read(&mut sink) {
            if k == 0 {
                break;
            }
        }
        n
    };
    for _ in 0..5 {
        exchange(&mut client, b"", &mut out);
    }
    assert!(!client.is_handshaking());
    for _ in 0..100 {
        exchange(&mut client, &get, &mut out);
    }
    let records = 1000u64;
    let allocs: u64 = (0..records).map(|_| exchange(&mut client, &get, &mut out)).sum();
    // rustls 0.23 allocates once per record read (the plaintext Vec) and once per record
    // written (the sealed record before it is copied out); everything of ours (parse,
    // dispatch, reply encoding, sealing into the send buffer) allocates nothing. A request
    // and its reply here are one record each way.
    assert!(allocs <= 2 * records, "{allocs} allocations for {records} records of 16 GETs");
}
