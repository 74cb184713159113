//! TLS counters, declared here beside the code that bumps them and rendered by INFO's `# TLS`
//! section. All are monotonic and updated with relaxed atomics once per handshake, never per
//! request.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Why a handshake did not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// The client's certificate did not verify (unknown CA, expired, wrong usage).
    BadCertificate,
    /// A certificate was required and none was presented.
    NoClientCertificate,
    /// No protocol version or cipher suite in common.
    Incompatible,
    /// Bytes that are not TLS, or a malformed or unexpected message.
    Malformed,
    /// The client sent a fatal alert (often: it rejected our certificate).
    AlertReceived,
    /// The handshake did not finish within `tls-handshake-timeout`.
    Timeout,
    /// The peer closed the connection mid-handshake.
    PeerClosed,
    Other,
}

impl HandshakeFailure {
    pub const ALL: [HandshakeFailure; 8] = [
        HandshakeFailure::BadCertificate,
        HandshakeFailure::NoClientCertificate,
        HandshakeFailure::Incompatible,
        HandshakeFailure::Malformed,
        HandshakeFailure::AlertReceived,
        HandshakeFailure::Timeout,
        HandshakeFailure::PeerClosed,
        HandshakeFailure::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            HandshakeFailure::BadCertificate => "bad_certificate",
            HandshakeFailure::NoClientCertificate => "no_client_certificate",
            HandshakeFailure::Incompatible => "incompatible",
            HandshakeFailure::Malformed => "malformed",
            HandshakeFailure::AlertReceived => "alert_received",
            HandshakeFailure::Timeout => "timeout",
            HandshakeFailure::PeerClosed => "peer_closed",
            HandshakeFailure::Other => "other",
        }
    }

    pub fn from_error(e: &rustls::Error) -> Self {
        use rustls::Error as E;
        match e {
            E::InvalidCertificate(_) => HandshakeFailure::BadCertificate,
            E::NoCertificatesPresented => HandshakeFailure::NoClientCertificate,
            E::PeerIncompatible(_) => HandshakeFailure::Incompatible,
            E::InvalidMessage(_)
            | E::InappropriateMessage { .. }
            | E::InappropriateHandshakeMessage { .. } => HandshakeFailure::Malformed,
            E::AlertReceived(_) => HandshakeFailure::AlertReceived,
            _ => HandshakeFailure::Other,
        }
    }
}

/// Node-wide TLS counters.
#[derive(Default)]
pub struct TlsStats {
    /// Handshakes that completed with a full key exchange and certificate.
    pub full_handshakes: AtomicU64,
    /// Handshakes that resumed an earlier session (ticket or session ID).
    pub resumed_handshakes: AtomicU64,
    /// Failed handshakes, indexed like [`HandshakeFailure::ALL`].
    failures: [AtomicU64; 8],
    /// Completed handshakes on TLS 1.2 and TLS 1.3.
    pub tls12_connections: AtomicU64,
    pub tls13_connections: AtomicU64,
    /// Completed handshakes per cipher suite, indexed like `rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES`.
    suites: [AtomicU64; 16],
    /// Clients that presented a verified certificate.
    pub client_certificates: AtomicU64,
}

impl TlsStats {
    pub fn failure(&self, why: HandshakeFailure) {
        let i = HandshakeFailure::ALL.iter().position(|&f| f == why).unwrap_or(7);
        self.failures[i].fetch_add(1, Relaxed);
    }

    pub fn failures(&self) -> impl Iterator<Item = (HandshakeFailure, u64)> + '_ {
        HandshakeFailure::ALL.iter().zip(&self.failures).map(|(&f, c)| (f, c.load(Relaxed)))
    }

    pub fn total_failures(&self) -> u64 {
        self.failures.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// Records a completed handshake.
    pub fn completed(
        &self,
        resumed: bool,
        version: Option<rustls::ProtocolVersion>,
        suite: Option<rustls::SupportedCipherSuite>,
    ) {
        if resumed { &self.resumed_handshakes } else { &self.full_handshakes }.fetch_add(1, Relaxed);
        match version {
            Some(rustls::ProtocolVersion::TLSv1_2) => self.tls12_connections.fetch_add(1, Relaxed),
            Some(rustls::ProtocolVersion::TLSv1_3) => self.tls13_connections.fetch_add(1, Relaxed),
            _ => 0,
        };
        if let Some(s) = suite {
            let all = rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES;
            if let Some(i) = all.iter().position(|x| x.suite() == s.suite()) {
                self.suites[i.min(15)].fetch_add(1, Relaxed);
            }
        }
    }

    /// (IANA-style suite name, completed handshakes) for every suite used at least once.
    pub fn suites(&self) -> Vec<(String, u64)> {
        rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES
            .iter()
            .zip(&self.suites)
            .map(|(s, c)| (crate::suite_name(s.suite()), c.load(Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}
