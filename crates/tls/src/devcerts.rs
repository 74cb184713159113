//! Development certificates: a CA, a server certificate and a client certificate, made with
//! rcgen so that `cachet serve` runs with TLS on a fresh machine with nothing made by hand.
//!
//! These are for development only: the CA key sits beside the certificates, unprotected.

use crate::TlsError;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// The files of a development set, by name within its directory.
pub const DEV_FILES: [&str; 6] = ["ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key"];

/// Paths of a development set.
#[derive(Clone, Debug)]
pub struct DevCerts {
    pub dir: PathBuf,
}

impl DevCerts {
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.crt")
    }
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
    pub fn client_cert(&self) -> PathBuf {
        self.dir.join("client.crt")
    }
    pub fn client_key(&self) -> PathBuf {
        self.dir.join("client.key")
    }
}

/// Whether `dir` already holds a whole set.
pub fn dev_set_exists(dir: &Path) -> bool {
    DEV_FILES.iter().all(|f| dir.join(f).is_file())
}

/// Makes a new set in `dir` (created if missing), replacing any files of the same names.
/// The server certificate is valid for `localhost`, `127.0.0.1` and `::1`; the client
/// certificate's CN is `cachet-dev-client`.
pub fn make_dev_set(dir: &Path) -> Result<DevCerts, TlsError> {
    let err = |detail: String| TlsError::DevCerts { path: dir.into(), detail };
    std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;

    let ca_key = KeyPair::generate().map_err(|e| err(e.to_string()))?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(|e| err(e.to_string()))?;
    ca.distinguished_name.push(DnType::CommonName, "cachet development CA");
    ca.distinguished_name.push(DnType::OrganizationName, "cachet (development only)");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key).map_err(|e| err(e.to_string()))?;
    let issuer = Issuer::new(ca, &ca_key);

    let leaf = |sans: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().map_err(|e| err(e.to_string()))?;
        let mut p = CertificateParams::new(sans).map_err(|e| err(e.to_string()))?;
        p.distinguished_name.push(DnType::CommonName, cn);
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![usage];
        let cert = p.signed_by(&key, &issuer).map_err(|e| err(e.to_string()))?;
        Ok::<_, TlsError>((cert.pem(), key.serialize_pem()))
    };
    let (server_crt, server_key) = leaf(
        vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
        "localhost",
        ExtendedKeyUsagePurpose::ServerAuth,
    )?;
    let (client_crt, client_key) = leaf(vec![], "cachet-dev-client", ExtendedKeyUsagePurpose::ClientAuth)?;

    let files = [
        ("ca.crt", ca_cert.pem(), false),
        ("ca.key", ca_key.serialize_pem(), true),
        ("server.crt", server_crt, false),
        ("server.key", server_key, true),
        ("client.crt", client_crt, false),
        ("client.key", client_key, true),
    ];
    for (name, pem, secret) in files {
        write_file(&dir.join(name), pem.as_bytes(), secret).map_err(|e| err(format!("{name}: {e}")))?;
    }
    Ok(DevCerts { dir: dir.into() })
}

/// Writes a file; private keys are created readable by the owner only.
fn write_file(path: &Path, bytes: &[u8], secret: bool) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    if secret {
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{server_config, ClientAuth, TlsSettings};

    #[test]
    fn a_dev_set_loads_as_a_server_config_with_client_auth() {
        let dir = std::env::temp_dir().join(format!("cachet-devcerts-{}", std::process::id()));
        let set = make_dev_set(&dir).unwrap();
        assert!(dev_set_exists(&dir));
        let mut s = TlsSettings::new(set.server_cert(), set.server_key(), Some(set.ca_cert()));
        s.auth_clients = ClientAuth::Yes;
        server_config(&s).unwrap();
        crate::client_config(&set.ca_cert(), Some((&set.client_cert(), &set.client_key()))).unwrap();
        // A key from another pair is refused with a line naming the mismatch.
        let other = dir.join("other");
        let set2 = make_dev_set(&other).unwrap();
        let bad = TlsSettings::new(set.server_cert(), set2.server_key(), None);
        let e = server_config(&bad).unwrap_err().to_string();
        assert!(e.contains("tls-key-file does not match"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
