//! One server-side TLS connection over rustls's *unbuffered* API.
//!
//! The unbuffered API lets cachet own the buffers at both ends: ciphertext is opened in the
//! buffer the kernel wrote into, and sealed records land in the buffer the kernel sends from.
//! Compared with rustls's buffered `ServerConnection` that removes, per record:
//! - read: the copy of ciphertext into rustls's deframer buffer;
//! - write: the queue of sealed records inside rustls and the copy out of it into a writer.
//!
//! What rustls 0.23 still does per record, measured by `tests/alloc.rs` (one allocation each):
//! - read: moves the opened plaintext into a `Vec` of its own (`take_received_plaintext`),
//!   from which we parse;
//! - write: builds the record in a fresh `PrefixedPayload`, encrypts it there, and copies it
//!   into our buffer.
//!
//! Removing those two means owning the record layer once the handshake is done (rustls can
//! hand over the traffic secrets; AES-GCM from aws-lc-rs then seals in place), which is the
//! planned next step for the data plane.
//!
//! Obligations of the caller, in rustls's words: bytes reported as *discarded* MUST be removed
//! from the front of the incoming buffer before the next call; everything appended to `out`
//! MUST be sent, in order, exactly once. And one of ours, learnt the hard way: every call
//! (including [`TlsSession::encrypt`] and [`TlsSession::close_notify`]) MUST pass the bytes
//! still pending from earlier reads (a partial record, usually none), because rustls's
//! handshake deframer keeps offsets into that buffer between calls; handing it an unrelated
//! empty slice panics inside rustls.

use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError};
use rustls::{HandshakeKind, ServerConfig};
use std::sync::Arc;

/// Where a session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The handshake is in progress. The caller MUST keep feeding received bytes to
    /// [`TlsSession::read`] and sending what it appends to `out`; no plaintext flows yet.
    Handshaking,
    /// Application data flows both ways: [`TlsSession::read`] yields plaintext and
    /// [`TlsSession::encrypt`] seals replies.
    Open,
    /// The peer sent close_notify: it will send nothing more. The caller MAY still send
    /// replies already due, then SHOULD [`TlsSession::close_notify`] and close.
    PeerClosed,
    /// Both sides have sent close_notify; the caller closes the socket.
    Closed,
    /// A read failed. rustls MUST NOT be called again (it can panic on a later call whose
    /// buffer differs from the one it failed on), so every method now returns an error or does
    /// nothing; the caller sends what is in `out` (an alert, maybe) and closes.
    Failed,
}

/// What one [`TlsSession::read`] did.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadOutcome {
    /// Bytes to drop from the front of the incoming buffer (whole records consumed). Anything
    /// after them is a partial record that MUST stay and be extended by later reads.
    pub discard: usize,
    /// The handshake completed during this call.
    pub handshake_completed: bool,
}

/// Bytes a sealed record adds to its plaintext, generously: 5 header + up to 8 explicit nonce
/// (TLS 1.2 GCM) + 16 tag + 1 inner content type (TLS 1.3), rounded up.
const RECORD_OVERHEAD: usize = 32;
const MAX_FRAGMENT: usize = 16 * 1024;

/// A server-side TLS session; see the module docs.
pub struct TlsSession {
    conn: UnbufferedServerConnection,
    phase: Phase,
}

impl TlsSession {
    pub fn new(config: Arc<ServerConfig>) -> Result<Self, rustls::Error> {
        Ok(TlsSession { conn: UnbufferedServerConnection::new(config)?, phase: Phase::Handshaking })
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Processes the records in `incoming` (decrypting in place), appending any handshake or
    /// alert records to send to `out` and handing each application-data record's plaintext to
    /// `on_plaintext`. On error, the fatal alert rustls chose (`unknown_ca`,
    /// `certificate_required`, ...) is already in `out`: the caller sends it and closes.
    pub fn read(
        &mut self,
        incoming: &mut [u8],
        out: &mut Vec<u8>,
        mut on_plaintext: impl FnMut(&[u8]),
    ) -> Result<ReadOutcome, rustls::Error> {
        let mut r = ReadOutcome::default();
        if self.phase == Phase::Failed {
            return Err(rustls::Error::General("TLS session already failed".into()));
        }
        loop {
            let status = self.conn.process_tls_records(&mut incoming[r.discard..]);
            let discard = status.discard;
            let state = match status.state {
                Ok(s) => s,
                Err(e) => {
                    r.discard += discard;
                    self.queue_alert(&mut incoming[r.discard..], out);
                    self.phase = Phase::Failed;
                    return Err(e);
                }
            };
            match state {
                ConnectionState::ReadTraffic(mut traffic) => {
                    let mut extra = 0;
                    while let Some(record) = traffic.next_record() {
                        let record = record?;
                        extra += record.discard;
                        on_plaintext(record.payload);
                    }
                    r.discard += discard + extra;
                }
                ConnectionState::EncodeTlsData(mut enc) => {
                    r.discard += discard;
                    seal_into(out, 2048, |buf| enc.encode(buf).map_err(encode_error))?;
                }
                ConnectionState::TransmitTlsData(t) => {
                    // What was encoded sits in `out`, which the caller sends, in order, at the
                    // end of this loop turn: as far as rustls is concerned it is transmitted.
                    r.discard += discard;
                    t.done();
                }
                ConnectionState::WriteTraffic(_) => {
                    r.discard += discard;
                    if self.phase == Phase::Handshaking {
                        self.phase = Phase::Open;
                        r.handshake_completed = true;
                    }
                    return Ok(r);
                }
                ConnectionState::BlockedHandshake => {
                    r.discard += discard;
                    return Ok(r);
                }
                ConnectionState::PeerClosed => {
                    r.discard += discard;
                    self.phase = Phase::PeerClosed;
                }
                ConnectionState::Closed => {
                    r.discard += discard;
                    self.phase = Phase::Closed;
                    return Ok(r);
                }
                // Early data is never enabled in our ServerConfig; anything else is a state
                // a newer rustls added that we do not handle: fail the connection, not the node.
                _ => {
                    self.phase = Phase::Failed;
                    return Err(rustls::Error::General("unexpected TLS state".into()));
                }
            }
        }
    }

    /// Seals `plain` into as few records as fit and appends them to `out`. `pending` is the
    /// incoming buffer's undiscarded tail (see the module docs).
    pub fn encrypt(
        &mut self,
        pending: &mut [u8],
        plain: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), rustls::Error> {
        if plain.is_empty() {
            return Ok(());
        }
        if self.phase == Phase::Failed {
            return Err(rustls::Error::General("TLS session already failed".into()));
        }
        let room = plain.len() + (plain.len() / MAX_FRAGMENT + 1) * RECORD_OVERHEAD;
        match self.conn.process_tls_records(pending).state? {
            ConnectionState::WriteTraffic(mut w) => seal_into(out, room, |buf| {
                w.encrypt(plain, buf).map_err(|e| match e {
                    EncryptError::InsufficientSize(s) => Sized::Need(s.required_size),
                    e => Sized::Fail(rustls::Error::General(e.to_string())),
                })
            }),
            _ => Err(rustls::Error::General("TLS session is not open for writing".into())),
        }
    }

    /// Appends a close_notify alert to `out` when the session can still send one.
    pub fn close_notify(&mut self, pending: &mut [u8], out: &mut Vec<u8>) {
        if self.phase == Phase::Failed {
            return;
        }
        if let Ok(ConnectionState::WriteTraffic(mut w)) = self.conn.process_tls_records(pending).state {
            let _ = seal_into(out, 64, |buf| {
                w.queue_close_notify(buf).map_err(|e| match e {
                    EncryptError::InsufficientSize(s) => Sized::Need(s.required_size),
                    e => Sized::Fail(rustls::Error::General(e.to_string())),
                })
            });
        }
    }

    /// After a failure, appends the fatal alert rustls queued so the peer learns why.
    fn queue_alert(&mut self, pending: &mut [u8], out: &mut Vec<u8>) {
        for _ in 0..4 {
            match self.conn.process_tls_records(pending).state {
                Ok(ConnectionState::EncodeTlsData(mut enc)) => {
                    if seal_into(out, 64, |buf| enc.encode(buf).map_err(encode_error)).is_err() {
                        return;
                    }
                }
                Ok(ConnectionState::TransmitTlsData(t)) => t.done(),
                _ => return,
            }
        }
    }

    /// Whether the completed handshake resumed an earlier session.
    pub fn resumed(&self) -> bool {
        self.conn.handshake_kind() == Some(HandshakeKind::Resumed)
    }

    pub fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
        self.conn.protocol_version()
    }

    pub fn cipher_suite(&self) -> Option<rustls::SupportedCipherSuite> {
        self.conn.negotiated_cipher_suite()
    }

    /// The client's verified certificate chain, when it presented one.
    pub fn peer_certificates(&self) -> Option<&[rustls::pki_types::CertificateDer<'static>]> {
        self.conn.peer_certificates()
    }
}

/// Result of one attempt to write into a sized slice.
enum Sized {
    Need(usize),
    Fail(rustls::Error),
}

fn encode_error(e: EncodeError) -> Sized {
    match e {
        EncodeError::InsufficientSize(s) => Sized::Need(s.required_size),
        e => Sized::Fail(rustls::Error::General(e.to_string())),
    }
}

/// Grows `out` by `room` zeroed bytes, lets `f` write into them, and keeps what it wrote;
/// retries once with the size rustls asks for when `room` was short.
fn seal_into(
    out: &mut Vec<u8>,
    mut room: usize,
    mut f: impl FnMut(&mut [u8]) -> Result<usize, Sized>,
) -> Result<(), rustls::Error> {
    let start = out.len();
    for _ in 0..3 {
        out.resize(start + room, 0);
        match f(&mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                return Ok(());
            }
            Err(Sized::Need(n)) => room = n,
            Err(Sized::Fail(e)) => {
                out.truncate(start);
                return Err(e);
            }
        }
    }
    out.truncate(start);
    Err(rustls::Error::General("TLS record did not fit".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{client_config, make_dev_set, server_config, TlsSettings};
    use rustls::pki_types::ServerName;
    use std::io::{Read, Write};

    /// Shuttles bytes between a rustls client and our session until both are quiet; returns
    /// the plaintext the server received.
    fn pump(client: &mut rustls::ClientConnection, server: &mut TlsSession, inbuf: &mut Vec<u8>) -> Vec<u8> {
        let mut got = Vec::new();
        for _ in 0..20 {
            let mut wire = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut wire).unwrap();
            }
            inbuf.extend_from_slice(&wire);
            let mut out = Vec::new();
            let r = server.read(inbuf, &mut out, |p| got.extend_from_slice(p)).unwrap();
            inbuf.drain(..r.discard);
            let mut rd = &out[..];
            while !rd.is_empty() {
                client.read_tls(&mut rd).unwrap();
                client.process_new_packets().unwrap();
            }
            if wire.is_empty() && out.is_empty() {
                break;
            }
        }
        got
    }

    #[test]
    fn handshake_data_and_resumption_through_the_unbuffered_session() {
        let dir = std::env::temp_dir().join(format!("cachet-session-{}", std::process::id()));
        let set = make_dev_set(&dir).unwrap();
        let scfg = server_config(&TlsSettings::new(set.server_cert(), set.server_key(), None)).unwrap();
        let ccfg = client_config(&set.ca_cert(), None).unwrap();
        let name = ServerName::try_from("localhost").unwrap();

        for round in 0..2 {
            let mut client = rustls::ClientConnection::new(ccfg.clone(), name.clone()).unwrap();
            let mut server = TlsSession::new(scfg.clone()).unwrap();
            let mut inbuf = Vec::new();
            client.writer().write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
            let got = pump(&mut client, &mut server, &mut inbuf);
            assert_eq!(server.phase(), Phase::Open);
            assert_eq!(got, b"*1\r\n$4\r\nPING\r\n");
            assert_eq!(server.resumed(), round == 1, "round {round}");

            let mut out = Vec::new();
            server.encrypt(&mut inbuf, b"+PONG\r\n", &mut out).unwrap();
            let mut rd = &out[..];
            client.read_tls(&mut rd).unwrap();
            client.process_new_packets().unwrap();
            let mut reply = [0u8; 7];
            client.reader().read_exact(&mut reply).unwrap();
            assert_eq!(&reply, b"+PONG\r\n");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn garbage_fails_the_session_without_panicking() {
        let dir = std::env::temp_dir().join(format!("cachet-garbage-{}", std::process::id()));
        let set = make_dev_set(&dir).unwrap();
        let scfg = server_config(&TlsSettings::new(set.server_cert(), set.server_key(), None)).unwrap();
        let mut server = TlsSession::new(scfg).unwrap();
        let mut junk = b"\x16\x03\x01\x00\x05hello-not-a-client-hello".to_vec();
        let mut out = Vec::new();
        assert!(server.read(&mut junk, &mut out, |_| {}).is_err());
        // rustls queues an alert only for failures past deframing; whatever is queued is one.
        assert!(out.is_empty() || out[0] == 0x15, "only an alert may be queued: {out:?}");
        assert_eq!(server.phase(), Phase::Failed);
        // A second read after the failure reports the failure again and does not panic.
        let mut more = b"\x16\x03\x03\x00\x01x".to_vec();
        assert!(server.read(&mut more, &mut out, |_| {}).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
