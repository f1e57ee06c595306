//! The TLS client side of the link to the hub: one rustls configuration (ring
//! provider, TLS 1.2 and 1.3) trusting the public web's roots (Mozilla's list,
//! bundled by `webpki-roots`, so a box with a stale or empty certificate store
//! still reaches a hub with a public certificate) plus, optionally, a private
//! CA from a PEM file (`[hub] ca_file`) for a hub with its own certificates.
//! The sync WebSocket, the menu pictures and enrollment all use it; HTTP
//! requests to the hub go through [`hub_http`] (not reqwest: see `api_kit::https`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum HubTlsError {
    #[error("reading the hub's CA file {path}: {source}")]
    CaFile {
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error("the hub's CA file {0} holds no certificate")]
    NoCert(PathBuf),
    #[error("the hub's CA file {path} holds a certificate that cannot be a trust anchor: {source}")]
    BadCert {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("building the TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The client configuration for reaching the hub: the bundled web roots, plus
/// every certificate in `ca_file` when given.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, HubTlsError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
            .map_err(|source| HubTlsError::CaFile {
                path: path.to_owned(),
                source,
            })?;
        if certs.is_empty() {
            return Err(HubTlsError::NoCert(path.to_owned()));
        }
        for cert in certs {
            roots.add(cert).map_err(|source| HubTlsError::BadCert {
                path: path.to_owned(),
                source,
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// An HTTP(S) client for the hub's HTTP API (pictures, enrollment) over the
/// same TLS configuration: each request within `timeout`, answers up to `max_body` bytes.
pub fn hub_http(
    tls: &Arc<ClientConfig>,
    timeout: std::time::Duration,
    max_body: usize,
) -> api_kit::https::HttpsClient {
    api_kit::https::HttpsClient::new(tls.clone(), timeout, max_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let e = client_config(Some(&missing)).unwrap_err().to_string();
        assert!(e.contains("nope.pem"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = client_config(Some(&empty)).unwrap_err().to_string();
        assert!(e.contains("holds no certificate"), "{e}");
    }

    #[test]
    fn a_ca_file_is_added_to_the_web_roots() {
        let dir = tempfile::tempdir().unwrap();
        let ca = rcgen::generate_simple_self_signed(vec!["hub.test".into()]).unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, ca.cert.pem()).unwrap();
        assert!(client_config(Some(&path)).is_ok());
        assert!(client_config(None).is_ok());
    }
}
