//! rustls configurations from PEM files and Redis-named settings.
//!
//! Why these defaults:
//! - Provider: aws-lc-rs, whose AES-GCM uses AES-NI/PMULL and VAES where present; every node
//!   family cachet targets has AES instructions, so AES-GCM suites come first and
//!   ChaCha20-Poly1305 stays for clients without them.
//! - Versions: TLS 1.3 and 1.2 only, AEAD suites only (rustls offers nothing weaker).
//! - Resumption: TLS 1.3 stateless tickets from a rotating ticketer (the key changes every few
//!   hours and the previous one is still accepted, so no client loses its session at rotation),
//!   and for TLS 1.2 clients without tickets, a session-ID cache of `tls-session-cache-size`
//!   entries that expire after `tls-session-cache-timeout` seconds. rustls's default cache
//!   holds 256 sessions, which thousands of reconnecting clients would thrash.

use crate::ClientAuth;
use rustls::crypto::{aws_lc_rs, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{
    NoServerSessionStorage, ServerSessionMemoryCache, StoresServerSessions, WebPkiClientVerifier,
};
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// What went wrong building a TLS configuration; the text names the setting or file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} '{path}': {source}")]
    Read { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{what} '{path}' holds no {expected}")]
    Empty { what: &'static str, path: PathBuf, expected: &'static str },
    #[error("{what} '{path}' is not valid PEM: {detail}")]
    BadPem { what: &'static str, path: PathBuf, detail: String },
    #[error("tls-key-file does not match tls-cert-file ({0})")]
    KeyMismatch(String),
    #[error("tls-ca-cert-file '{path}': {detail}")]
    BadCa { path: PathBuf, detail: String },
    #[error("tls-auth-clients is {0} but no tls-ca-cert-file is set")]
    NoCaForClientAuth(ClientAuth),
    #[error("tls-protocols '{0}': expected TLSv1.2 and/or TLSv1.3")]
    BadProtocols(String),
    #[error("tls-ciphersuites '{0}': no supported suite named (supported: {1})")]
    BadCipherSuites(String, String),
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("cannot create certificates in '{path}': {detail}")]
    DevCerts { path: PathBuf, detail: String },
}

/// The TLS settings of a node, with Redis's directive names in the docs of each field.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// `tls-cert-file`: the server's certificate chain.
    pub cert_file: PathBuf,
    /// `tls-key-file`.
    pub key_file: PathBuf,
    /// `tls-ca-cert-file`: CA that client certificates must chain to.
    pub ca_file: Option<PathBuf>,
    /// `tls-auth-clients`.
    pub auth_clients: ClientAuth,
    /// `tls-protocols`, e.g. `"TLSv1.2 TLSv1.3"`; empty means both.
    pub protocols: String,
    /// `tls-ciphersuites`: TLS 1.3 suite names (`TLS_AES_256_GCM_SHA384:...`); empty = default.
    pub ciphersuites: String,
    /// `tls-session-caching`.
    pub session_caching: bool,
    /// `tls-session-cache-size`.
    pub session_cache_size: usize,
    /// `tls-session-cache-timeout`, seconds.
    pub session_cache_timeout: u64,
}

impl TlsSettings {
    pub fn new(cert_file: PathBuf, key_file: PathBuf, ca_file: Option<PathBuf>) -> Self {
        TlsSettings {
            cert_file,
            key_file,
            ca_file,
            auth_clients: ClientAuth::No,
            protocols: String::new(),
            ciphersuites: String::new(),
            session_caching: true,
            session_cache_size: 20480,
            session_cache_timeout: 300,
        }
    }
}

/// Reads every certificate in a PEM file.
pub fn load_certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read { what, path: path.into(), source })?;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
    let certs = certs.map_err(|e| TlsError::BadPem { what, path: path.into(), detail: format!("{e:?}") })?;
    if certs.is_empty() {
        return Err(TlsError::Empty { what, path: path.into(), expected: "certificate" });
    }
    Ok(certs)
}

/// Reads the first private key in a PEM file.
pub fn load_key(path: &Path, what: &'static str) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read { what, path: path.into(), source })?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            TlsError::Empty { what, path: path.into(), expected: "private key" }
        }
        e => TlsError::BadPem { what, path: path.into(), detail: format!("{e:?}") },
    })
}

fn roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for c in load_certs(path, "tls-ca-cert-file")? {
        roots.add(c).map_err(|e| TlsError::BadCa { path: path.into(), detail: e.to_string() })?;
    }
    Ok(roots)
}

/// The provider restricted to `tls-ciphersuites` (TLS 1.3 names; TLS 1.2 suites are kept so
/// `tls-protocols TLSv1.2` still works, as Redis keeps `tls-ciphers` separate).
pub fn provider(ciphersuites: &str) -> Result<Arc<CryptoProvider>, TlsError> {
    let mut p = aws_lc_rs::default_provider();
    if !ciphersuites.trim().is_empty() {
        // Redis (OpenSSL) names TLS 1.3 suites `TLS_AES_256_GCM_SHA384`; rustls says `TLS13_...`.
        let wanted: Vec<String> = ciphersuites
            .split([':', ' ', ','])
            .filter(|s| !s.is_empty())
            .map(|s| s.to_ascii_uppercase().replace("TLS13_", "TLS_"))
            .collect();
        let name = |s: &rustls::SupportedCipherSuite| suite_name(s.suite());
        let tls13: Vec<_> = p
            .cipher_suites
            .iter()
            .filter(|s| s.tls13().is_some() && wanted.contains(&name(s)))
            .copied()
            .collect();
        if tls13.is_empty() {
            let names: Vec<String> =
                p.cipher_suites.iter().filter(|s| s.tls13().is_some()).map(name).collect();
            return Err(TlsError::BadCipherSuites(ciphersuites.into(), names.join(":")));
        }
        let tls12 = p.cipher_suites.iter().filter(|s| s.tls13().is_none()).copied();
        p.cipher_suites = tls13.into_iter().chain(tls12).collect();
    }
    Ok(Arc::new(p))
}

/// A suite's name as OpenSSL (and so Redis) writes it.
pub fn suite_name(s: rustls::CipherSuite) -> String {
    format!("{s:?}").replace("TLS13_", "TLS_")
}

/// Parses `tls-protocols`.
pub fn protocol_versions(s: &str) -> Result<Vec<&'static SupportedProtocolVersion>, TlsError> {
    let mut v = Vec::new();
    for word in s.split_whitespace() {
        match word.to_ascii_lowercase().as_str() {
            "tlsv1.2" => v.push(&rustls::version::TLS12),
            "tlsv1.3" => v.push(&rustls::version::TLS13),
            _ => return Err(TlsError::BadProtocols(s.into())),
        }
    }
    if v.is_empty() {
        v = vec![&rustls::version::TLS13, &rustls::version::TLS12];
    }
    Ok(v)
}

/// Builds the server configuration a node hands to every new TLS connection.
pub fn server_config(s: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider(&s.ciphersuites)?;
    let versions = protocol_versions(&s.protocols)?;
    let certs = load_certs(&s.cert_file, "tls-cert-file")?;
    let key = load_key(&s.key_file, "tls-key-file")?;
    let builder = ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(&versions)?;
    let builder = match (s.auth_clients, &s.ca_file) {
        (ClientAuth::No, _) => builder.with_no_client_auth(),
        (auth, None) => return Err(TlsError::NoCaForClientAuth(auth)),
        (auth, Some(ca)) => {
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider);
            let v = if auth == ClientAuth::Optional { v.allow_unauthenticated() } else { v };
            let v = v.build().map_err(|e| TlsError::BadCa { path: ca.clone(), detail: e.to_string() })?;
            builder.with_client_cert_verifier(v)
        }
    };
    let mut cfg = builder.with_single_cert(certs, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(k) => TlsError::KeyMismatch(format!("{k:?}")),
        e => TlsError::Rustls(e),
    })?;
    if s.session_caching {
        cfg.session_storage = Arc::new(TimedSessionCache {
            inner: ServerSessionMemoryCache::new(s.session_cache_size.max(1)),
            timeout_secs: s.session_cache_timeout,
        });
        cfg.ticketer = aws_lc_rs::Ticketer::new()?;
    } else {
        cfg.session_storage = Arc::new(NoServerSessionStorage {});
        cfg.send_tls13_tickets = 0;
    }
    // RESP is not HTTP: ALPN is not negotiated, like Redis.
    Ok(Arc::new(cfg))
}

/// A client configuration trusting `ca_file`, presenting `cert`/`key` when given: used by
/// replicas dialling a primary and by tools and tests.
pub fn client_config(
    ca_file: &Path,
    cert_and_key: Option<(&Path, &Path)>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider("")?)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(ca_file)?);
    let cfg = match cert_and_key {
        None => builder.with_no_client_auth(),
        Some((c, k)) => builder.with_client_auth_cert(load_certs(c, "certificate")?, load_key(k, "key")?)?,
    };
    Ok(Arc::new(cfg))
}

/// rustls's session-ID cache, with entries that lapse after `tls-session-cache-timeout`
/// seconds (rustls's own cache only bounds the count). Each stored value is prefixed with its
/// expiry time.
#[derive(Debug)]
struct TimedSessionCache {
    inner: Arc<ServerSessionMemoryCache>,
    timeout_secs: u64,
}

fn unix_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl TimedSessionCache {
    fn unwrap_live(&self, v: Vec<u8>) -> Option<Vec<u8>> {
        let (exp, rest) = v.split_first_chunk::<8>()?;
        (u64::from_be_bytes(*exp) > unix_secs()).then(|| rest.to_vec())
    }
}

impl StoresServerSessions for TimedSessionCache {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let mut v = (unix_secs() + self.timeout_secs).to_be_bytes().to_vec();
        v.extend_from_slice(&value);
        self.inner.put(key, v)
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.get(key).and_then(|v| self.unwrap_live(v))
    }
    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.take(key).and_then(|v| self.unwrap_live(v))
    }
    fn can_cache(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_parse_and_reject_old_versions() {
        assert_eq!(protocol_versions("TLSv1.2").unwrap().len(), 1);
        assert_eq!(protocol_versions("").unwrap().len(), 2);
        assert!(protocol_versions("TLSv1.1").is_err());
    }

    #[test]
    fn ciphersuites_filter_tls13_and_reject_unknown_names() {
        let p = provider("TLS_AES_256_GCM_SHA384").unwrap();
        assert_eq!(p.cipher_suites.iter().filter(|s| s.tls13().is_some()).count(), 1);
        assert!(provider("TLS_NULL_WITH_NULL_NULL").is_err());
    }

    #[test]
    fn session_cache_entries_lapse_after_the_timeout() {
        let live = TimedSessionCache { inner: ServerSessionMemoryCache::new(4), timeout_secs: 300 };
        live.put(b"k".to_vec(), b"v".to_vec());
        assert_eq!(live.get(b"k"), Some(b"v".to_vec()));
        let lapsed = TimedSessionCache { inner: ServerSessionMemoryCache::new(4), timeout_secs: 0 };
        lapsed.put(b"k".to_vec(), b"v".to_vec());
        assert_eq!(lapsed.get(b"k"), None);
    }
}
