//! HTTPS served by the hub itself (`--tls-cert`, `--tls-key`): a rustls server
//! configuration (ring provider, TLS 1.2 and 1.3, HTTP/1.1, which the sync and
//! tracking WebSockets need) from PEM files, reloaded on SIGHUP so a renewed
//! certificate takes effect without dropping store nodes. Behind a proxy that
//! terminates TLS, leave both unset.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The certificate chain and private key (PEM files) the hub serves HTTPS with.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading the TLS certificate chain {path}: {source}")]
    Cert {
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error("the TLS certificate file {0} holds no certificate")]
    NoCert(PathBuf),
    #[error("reading the TLS private key {path}: {source}")]
    Key {
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error("the TLS certificate and key do not make a server configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

impl TlsFiles {
    /// Reads both files into a server configuration; a wrong pair is an error here, not at the first client.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let certs = read_certs(&self.cert)?;
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|source| TlsError::Key {
            path: self.key.clone(),
            source,
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Cert {
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCert(path.to_owned()));
    }
    Ok(certs)
}

/// Reloads the certificate on every SIGHUP (`systemctl reload`); a bad new pair is
/// logged and the old one kept. Without TLS, SIGHUP is logged and otherwise ignored
/// (its default action would end the process).
pub fn reload_on_sighup(tls: Option<(TlsFiles, axum_server::tls_rustls::RustlsConfig)>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("SIGHUP cannot be watched: the TLS certificate is not reloaded");
            return;
        };
        while hup.recv().await.is_some() {
            let Some((files, live)) = &tls else {
                tracing::info!("SIGHUP: no TLS certificate to reload");
                continue;
            };
            match files.server_config() {
                Ok(c) => {
                    live.reload_from_config(c);
                    tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
                }
                Err(e) => {
                    tracing::error!(error = %e, "TLS certificate not reloaded; the previous one stays")
                }
            }
        }
    });
}
