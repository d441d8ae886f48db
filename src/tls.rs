//! TLS for every listener (rustls with the ring provider): the certificate and key of a listener
//! loaded once at configuration time, so a bad file is a configuration error with its file and
//! line, and the handshake of an accepted connection, bounded in time.
//!
//! Fluent Bit's keys: `tls on`, `tls.crt_file` (the chain, PEM), `tls.key_file` (PKCS#8, PKCS#1 or
//! SEC1, PEM, unencrypted), `tls.ca_file` (when set, clients must present a certificate signed
//! by one of these CAs), `tls.min_version` / `tls.max_version` (`TLSv1.2`, `TLSv1.3`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;

/// The files and versions of one listener's TLS, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `tls.crt_file`: the server's certificate chain.
    pub crt_file: PathBuf,
    /// `tls.key_file`: the server's private key.
    pub key_file: PathBuf,
    /// `tls.ca_file`: the CAs client certificates must chain to; none means no client
    /// certificates are asked for.
    pub ca_file: Option<PathBuf>,
    /// `tls.min_version`: the oldest protocol version offered.
    pub min_version: TlsVersion,
    /// `tls.max_version`: the newest protocol version offered.
    pub max_version: TlsVersion,
}

/// A TLS protocol version rustls speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2.
    V1_2,
    /// TLS 1.3.
    V1_3,
}

impl TlsVersion {
    /// Parses Fluent Bit's spelling (`TLSv1.2`, `TLSv1.3`; case does not matter). Older
    /// versions are refused: rustls does not speak them.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "tlsv1.2" | "tls1.2" | "1.2" => Ok(TlsVersion::V1_2),
            "tlsv1.3" | "tls1.3" | "1.3" => Ok(TlsVersion::V1_3),
            "tlsv1" | "tlsv1.0" | "tlsv1.1" => Err(format!(
                "{text} is not offered: only TLSv1.2 and TLSv1.3 are supported"
            )),
            _ => Err(format!("expected TLSv1.2 or TLSv1.3, found {text:?}")),
        }
    }

    fn rustls(self) -> &'static SupportedProtocolVersion {
        match self {
            TlsVersion::V1_2 => &rustls::version::TLS12,
            TlsVersion::V1_3 => &rustls::version::TLS13,
        }
    }
}

/// Which key a TLS loading error is about, so the configuration error can name its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsKey {
    /// `tls.crt_file`.
    Certificate,
    /// `tls.key_file`.
    PrivateKey,
    /// `tls.ca_file`.
    ClientCa,
    /// The versions, or the certificate and key together.
    Settings,
}

/// A TLS configuration that could not be loaded: which key, and why (never the key's bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TlsError {
    /// The key the error is about.
    pub key: TlsKey,
    /// What is wrong.
    pub message: String,
}

/// A listener's loaded TLS: the rustls configuration every connection of it shares.
#[derive(Clone)]
pub struct TlsServer {
    files: TlsFiles,
    config: Arc<ServerConfig>,
}

impl std::fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsServer")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl PartialEq for TlsServer {
    fn eq(&self, other: &Self) -> bool {
        self.files == other.files
    }
}

impl TlsServer {
    /// Reads and checks the files: the chain, the key and that they belong together, the CAs.
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let error = |key, message: String| TlsError { key, message };
        let chain =
            read_chain(&files.crt_file).map_err(|message| error(TlsKey::Certificate, message))?;
        let key = PrivateKeyDer::from_pem_file(&files.key_file).map_err(|e| {
            error(
                TlsKey::PrivateKey,
                format!(
                    "cannot read a private key from {}: {}",
                    files.key_file.display(),
                    pem_error(&e)
                ),
            )
        })?;
        if files.min_version > files.max_version {
            return Err(error(
                TlsKey::Settings,
                "tls.min_version is newer than tls.max_version".to_string(),
            ));
        }
        let versions: Vec<&'static SupportedProtocolVersion> = [TlsVersion::V1_2, TlsVersion::V1_3]
            .into_iter()
            .filter(|v| (files.min_version..=files.max_version).contains(v))
            .map(TlsVersion::rustls)
            .collect();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| error(TlsKey::Settings, e.to_string()))?;
        let builder = match &files.ca_file {
            None => builder.with_no_client_auth(),
            Some(ca_file) => {
                let mut roots = RootCertStore::empty();
                for cert in read_chain(ca_file).map_err(|m| error(TlsKey::ClientCa, m))? {
                    roots.add(cert).map_err(|e| {
                        error(
                            TlsKey::ClientCa,
                            format!("{}: not a usable CA certificate: {e}", ca_file.display()),
                        )
                    })?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|e| error(TlsKey::ClientCa, e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder.with_single_cert(chain, key).map_err(|e| {
            error(
                TlsKey::PrivateKey,
                format!(
                    "the key in {} does not fit the certificate in {}: {e}",
                    files.key_file.display(),
                    files.crt_file.display()
                ),
            )
        })?;
        Ok(TlsServer {
            files,
            config: Arc::new(config),
        })
    }

    /// The files it was loaded from.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// An acceptor offering `alpn` (most preferred first; empty: no ALPN).
    pub fn acceptor(&self, alpn: &[&[u8]]) -> tokio_rustls::TlsAcceptor {
        let mut config = (*self.config).clone();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }
}

/// Every certificate in a PEM file; at least one.
fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {}", path.display(), pem_error(&e)))?
        .collect();
    let certs = certs.map_err(|e| format!("{}: {}", path.display(), pem_error(&e)))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// A PEM error in words, without the file's contents.
fn pem_error(error: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match error {
        Error::Io(e) => e.to_string(),
        Error::NoItemsFound => {
            "no PEM item of the expected kind (an encrypted key is not supported: \
                               decrypt it with `openssl pkey`)"
                .to_string()
        }
        _ => "malformed PEM".to_string(),
    }
}

/// Why a handshake did not complete.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The client took longer than the listener allows.
    #[error("the TLS handshake did not complete within {0:?}")]
    TimedOut(Duration),
    /// The client sent something that is not TLS, or failed the handshake.
    #[error("TLS handshake failed: {0}")]
    Failed(std::io::Error),
}

impl HandshakeError {
    /// A short machine-friendly reason for counters.
    pub fn reason(&self) -> &'static str {
        match self {
            HandshakeError::TimedOut(_) => "tls_timeout",
            HandshakeError::Failed(_) => "tls_handshake",
        }
    }
}

/// Runs the server side of a handshake on `stream`, within `timeout`.
pub async fn handshake<S>(
    acceptor: &tokio_rustls::TlsAcceptor,
    stream: S,
    timeout: Duration,
) -> Result<TlsStream<S>, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(HandshakeError::Failed(e)),
        Err(_) => Err(HandshakeError::TimedOut(timeout)),
    }
}

/// Whether the client and server agreed on HTTP/2 by ALPN.
pub fn negotiated_h2<S>(stream: &TlsStream<S>) -> bool {
    stream.get_ref().1.alpn_protocol() == Some(b"h2")
}
