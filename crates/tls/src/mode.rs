//! Transit-encryption modes and telling TLS from plaintext by a connection's first byte.

use std::fmt;
use std::str::FromStr;

/// Whether a node's client port speaks TLS, plaintext RESP, or both.
///
/// The mode is read when a connection is accepted, so changing it with `CONFIG SET` affects
/// new connections and leaves open ones as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Plaintext only. A TLS ClientHello gets a `handshake_failure` alert and a close.
    Disabled,
    /// TLS and plaintext on the same port, told apart by the first byte ([`is_tls_record_start`]).
    Preferred,
    /// TLS only. A plaintext client gets [`TLS_REQUIRED_ERROR`] and a close.
    Required,
}

impl FromStr for TlsMode {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "disabled" => Ok(TlsMode::Disabled),
            "preferred" => Ok(TlsMode::Preferred),
            "required" => Ok(TlsMode::Required),
            _ => Err(()),
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsMode::Disabled => "disabled",
            TlsMode::Preferred => "preferred",
            TlsMode::Required => "required",
        })
    }
}

/// `tls-auth-clients`: whether a client must present a certificate signed by the CA.
///
/// cachet defaults to `No`, unlike Redis's `yes`: a managed cache authenticates clients with
/// AUTH tokens and ACL users, and uses certificates to authenticate the *server*.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    No,
    Optional,
    Yes,
}

impl FromStr for ClientAuth {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "no" => Ok(ClientAuth::No),
            "optional" => Ok(ClientAuth::Optional),
            "yes" => Ok(ClientAuth::Yes),
            _ => Err(()),
        }
    }
}

impl fmt::Display for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientAuth::No => "no",
            ClientAuth::Optional => "optional",
            ClientAuth::Yes => "yes",
        })
    }
}

/// A TLS connection opens with a handshake record (content type 22). RESP requests start with
/// `*` or an inline command's letter, never with byte 0x16, so one byte decides.
pub fn is_tls_record_start(first: u8) -> bool {
    first == 0x16
}

/// The reply a plaintext client gets on a port that requires TLS, before the close.
pub const TLS_REQUIRED_ERROR: &[u8] =
    b"-ERR TLS is required on this port (transit-encryption-mode required); connect with TLS\r\n";

/// A fatal `handshake_failure` alert in a plaintext TLS 1.2 record: what a TLS client gets from
/// a port with TLS disabled, so it fails with a TLS error instead of waiting.
pub const HANDSHAKE_FAILURE_ALERT: &[u8] = &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_case_insensitively_and_print_back() {
        for m in ["disabled", "preferred", "required"] {
            assert_eq!(m.parse::<TlsMode>().unwrap().to_string(), m);
        }
        assert_eq!("REQUIRED".parse::<TlsMode>(), Ok(TlsMode::Required));
        assert!("on".parse::<TlsMode>().is_err());
        assert_eq!("optional".parse::<ClientAuth>(), Ok(ClientAuth::Optional));
    }

    #[test]
    fn only_a_handshake_record_byte_looks_like_tls() {
        assert!(is_tls_record_start(0x16));
        assert!(!is_tls_record_start(b'*'));
        assert!(!is_tls_record_start(b'P'));
    }
}
