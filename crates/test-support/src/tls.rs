//! A throwaway certificate authority for tests of the real TLS path: a CA made
//! for one test, and server certificates it signs for the names the test uses
//! (`localhost`, `127.0.0.1`, the guest-facing `10.0.2.2`), all as PEM files.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// A CA whose certificate is in `ca.pem` in its directory.
pub struct ThrowawayCa {
    issuer: Issuer<'static, KeyPair>,
    pub ca_pem: PathBuf,
}

/// A server certificate chain and key written by [`ThrowawayCa::issue`].
#[derive(Debug, Clone)]
pub struct ServerCert {
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
}

impl ThrowawayCa {
    /// A new CA, its certificate written to `dir/ca.pem`.
    pub fn new(dir: &Path) -> anyhow::Result<ThrowawayCa> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "Edge test CA (throwaway)");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key)?;
        let ca_pem = dir.join("ca.pem");
        std::fs::write(&ca_pem, cert.pem())?;
        Ok(ThrowawayCa {
            issuer: Issuer::new(params, key),
            ca_pem,
        })
    }

    /// A server certificate for `names` (DNS names or IP addresses), written as
    /// `dir/<file_stem>.pem` (the chain: server, then CA) and `dir/<file_stem>-key.pem`.
    pub fn issue(&self, dir: &Path, file_stem: &str, names: &[&str]) -> anyhow::Result<ServerCert> {
        let key = KeyPair::generate()?;
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("server"),
        );
        let cert = params.signed_by(&key, &self.issuer)?;
        let cert_pem = dir.join(format!("{file_stem}.pem"));
        let key_pem = dir.join(format!("{file_stem}-key.pem"));
        let ca = std::fs::read_to_string(&self.ca_pem)?;
        std::fs::write(&cert_pem, format!("{}{ca}", cert.pem()))?;
        std::fs::write(&key_pem, key.serialize_pem())?;
        Ok(ServerCert { cert_pem, key_pem })
    }
}
