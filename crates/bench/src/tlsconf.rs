//! The generator's rustls client configuration: roots from `--cacert` (or no verification),
//! a client certificate, the offered versions, and resumption on or off.

use crate::opts::TlsOpts;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{aws_lc_rs, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;

/// Sessions a connection keeps for resumption (it talks to one server: a few tickets).
const SESSIONS: usize = 4;

/// `--tls-skip-verify`: accepts any certificate but still checks the handshake signatures,
/// so the server does the same work as for a verifying client.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A configuration and the server name to send. Each connection then takes its own copy
/// ([`own_sessions`]).
pub fn client(o: &TlsOpts) -> Result<(Arc<ClientConfig>, ServerName<'static>), String> {
    let provider = Arc::new(aws_lc_rs::default_provider());
    let mut versions = Vec::new();
    for p in &o.protocols {
        versions.push(if p == "TLSv1.2" { &rustls::version::TLS12 } else { &rustls::version::TLS13 });
    }
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("TLS versions: {e}"))?;
    let builder = if o.skip_verify {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
    } else {
        let path = o.cacert.as_ref().ok_or("--tls needs --cacert")?;
        let mut roots = RootCertStore::empty();
        for c in
            CertificateDer::pem_file_iter(path).map_err(|e| format!("--cacert {}: {e}", path.display()))?
        {
            let c = c.map_err(|e| format!("--cacert {}: {e}", path.display()))?;
            roots.add(c).map_err(|e| format!("--cacert {}: {e}", path.display()))?;
        }
        if roots.is_empty() {
            return Err(format!("--cacert {} holds no certificate", path.display()));
        }
        builder.with_root_certificates(roots)
    };
    let mut cfg = match (&o.cert, &o.key) {
        (Some(c), Some(k)) => {
            let certs = CertificateDer::pem_file_iter(c)
                .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("--cert {}: {e}", c.display()))?;
            let key = PrivateKeyDer::from_pem_file(k).map_err(|e| format!("--key {}: {e}", k.display()))?;
            builder.with_client_auth_cert(certs, key).map_err(|e| format!("--cert/--key: {e}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    cfg.resumption = if o.resume { Resumption::in_memory_sessions(SESSIONS) } else { Resumption::disabled() };
    let name = ServerName::try_from(o.sni.clone()).map_err(|e| format!("--sni '{}': {e}", o.sni))?;
    Ok((Arc::new(cfg), name))
}

/// A copy of `base` with a resumption store of its own (or none), for one connection.
pub fn own_sessions(base: &Arc<ClientConfig>, resume: bool) -> Arc<ClientConfig> {
    let mut c = (**base).clone();
    c.resumption = if resume { Resumption::in_memory_sessions(SESSIONS) } else { Resumption::disabled() };
    Arc::new(c)
}
