//! Data-plane microbenchmarks, through the same code the server runs:
//! - `resp/parse_pipeline_16`: parse a batch of 16 pipelined GETs (divide by 16 for per command);
//! - `resp/encode_bulk_32`: encode one 32-byte bulk reply;
//! - `tls/open_record_16_gets` and `tls/seal_reply_*`: TlsSession opening a client record and
//!   sealing a reply (TLS 1.3, AES-256-GCM, as negotiated by default);
//! - `dispatch/*_16_gets`: one received batch of 16 GETs through `Conn` (parse, dispatch,
//!   keyspace, reply, and for TLS open + seal), as the worker calls it.

use cachet_resp::{Limits, Parsed, Protocol, ReplyWriter, RequestParser};
use cachet_server::conn::{Conn, PortKind};
use cachet_server::{Config, Node};
use cachet_tls::{client_config, make_dev_set, server_config, TlsSession, TlsSettings};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rustls::pki_types::ServerName;
use std::hint::black_box;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

const GET: &[u8] = b"*2\r\n$3\r\nGET\r\n$8\r\nkey:0001\r\n";

fn certs() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cachet-bench-{}", std::process::id()));
    if !cachet_tls::dev_set_exists(&dir) {
        make_dev_set(&dir).unwrap();
    }
    dir
}

fn resp(c: &mut Criterion) {
    let batch = GET.repeat(16);
    let mut g = c.benchmark_group("resp");
    g.throughput(Throughput::Elements(16));
    g.bench_function("parse_pipeline_16", |b| {
        let mut p = RequestParser::new();
        let limits = Limits::default();
        b.iter(|| {
            let mut buf = &batch[..];
            while let Ok(Parsed::Request { consumed }) = p.parse(buf, &limits) {
                black_box(p.args(buf).get(1));
                buf = &buf[consumed..];
            }
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode_bulk_32", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            ReplyWriter::new(&mut out, Protocol::Resp2).bulk(black_box(&[b'x'; 32]));
            black_box(&out);
        })
    });
    g.finish();
}

/// A server session and a client, handshaken in memory.
fn pair(dir: &std::path::Path) -> (TlsSession, rustls::ClientConnection) {
    pair_with(dir, "")
}

/// As [`pair`], with the server restricted to `suites` (`tls-ciphersuites`).
fn pair_with(dir: &std::path::Path, suites: &str) -> (TlsSession, rustls::ClientConnection) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut settings = TlsSettings::new(dir.join("server.crt"), dir.join("server.key"), None);
    settings.ciphersuites = suites.into();
    let scfg = server_config(&settings).unwrap();
    let ccfg = client_config(&dir.join("ca.crt"), None).unwrap();
    let mut client = rustls::ClientConnection::new(ccfg, ServerName::try_from("localhost").unwrap()).unwrap();
    let mut server = TlsSession::new(scfg).unwrap();
    for _ in 0..10 {
        let mut wire = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut wire).unwrap();
        }
        let mut out = Vec::new();
        let r = server.read(&mut wire, &mut out, |_| {}).unwrap();
        assert_eq!(r.discard, wire.len());
        let mut rd = &out[..];
        while !rd.is_empty() {
            client.read_tls(&mut rd).unwrap();
            client.process_new_packets().unwrap();
        }
    }
    assert!(!client.is_handshaking());
    (server, client)
}

fn tls(c: &mut Criterion) {
    let dir = certs();
    let mut g = c.benchmark_group("tls");
    g.bench_function("open_record_16_gets", |b| {
        let (mut server, mut client) = pair(&dir);
        let batch = GET.repeat(16);
        let mut out = Vec::new();
        b.iter_batched(
            || {
                client.writer().write_all(&batch).unwrap();
                let mut wire = Vec::new();
                client.write_tls(&mut wire).unwrap();
                wire
            },
            |mut wire| {
                server.read(&mut wire, &mut out, |p| {
                    black_box(p);
                })
            },
            BatchSize::SmallInput,
        )
    });
    for (name, size) in [("seal_reply_16_bulks", 16 * 14), ("seal_reply_16k", 16 * 1024)] {
        g.bench_function(name, |b| {
            let (mut server, _client) = pair(&dir);
            let plain = vec![b'x'; size];
            let mut out = Vec::with_capacity(size * 2);
            b.iter(|| {
                out.clear();
                server.encrypt(&mut [], &plain, &mut out).unwrap();
                black_box(&out);
            })
        });
    }
    // The tuning profiles order AES-128-GCM first only where AES-256's extra rounds cost most
    // (no VAES); this measures the gap on the machine at hand.
    for (name, suite) in
        [("seal_16k_aes128gcm", "TLS_AES_128_GCM_SHA256"), ("seal_16k_aes256gcm", "TLS_AES_256_GCM_SHA384")]
    {
        g.bench_function(name, |b| {
            let (mut server, _client) = pair_with(&dir, suite);
            let plain = vec![b'x'; 16 * 1024];
            let mut out = Vec::with_capacity(40 * 1024);
            b.iter(|| {
                out.clear();
                server.encrypt(&mut [], &plain, &mut out).unwrap();
                black_box(&out);
            })
        });
    }
    g.finish();
}

fn dispatch(c: &mut Criterion) {
    let dir = certs();
    let mut g = c.benchmark_group("dispatch");
    g.throughput(Throughput::Elements(16));
    for mode in ["disabled", "required"] {
        let mut cfg = Config {
            tls_cert_file: Some(dir.join("server.crt")),
            tls_key_file: Some(dir.join("server.key")),
            ..Config::default()
        };
        cfg.apply("transit-encryption-mode", mode, "bench").unwrap();
        let node = Arc::new(Node::new(cfg, cachet_runtime::IoBackend::Epoll, 1, 0, 0).unwrap());
        node.started();
        let ws = &node.worker_stats[0];
        let (h, _) = node.register_client(0, "a".into(), "b".into());
        let mut conn = Conn::new(PortKind::Main, &node, h, 0, false);
        let mut out = Vec::new();
        let batch = GET.repeat(16);
        if mode == "disabled" {
            g.bench_function("plaintext_16_gets", |b| {
                b.iter_batched(
                    || batch.clone(),
                    |mut data| {
                        conn.receive(&node, ws, &mut data);
                        out.clear();
                        conn.flush(ws, &mut out);
                    },
                    BatchSize::SmallInput,
                )
            });
        } else {
            let ccfg = client_config(&dir.join("ca.crt"), None).unwrap();
            let mut client =
                rustls::ClientConnection::new(ccfg, ServerName::try_from("localhost").unwrap()).unwrap();
            for _ in 0..10 {
                let mut wire = Vec::new();
                while client.wants_write() {
                    client.write_tls(&mut wire).unwrap();
                }
                if !wire.is_empty() {
                    conn.receive(&node, ws, &mut wire);
                }
                out.clear();
                conn.flush(ws, &mut out);
                let mut rd = &out[..];
                while !rd.is_empty() {
                    client.read_tls(&mut rd).unwrap();
                    client.process_new_packets().unwrap();
                }
            }
            g.bench_function("tls_16_gets", |b| {
                b.iter_batched(
                    || {
                        client.writer().write_all(&batch).unwrap();
                        let mut wire = Vec::new();
                        client.write_tls(&mut wire).unwrap();
                        wire
                    },
                    |mut wire| {
                        conn.receive(&node, ws, &mut wire);
                        out.clear();
                        conn.flush(ws, &mut out);
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    g.finish();
}

criterion_group!(benches, resp, tls, dispatch);
criterion_main!(benches);
