//! Why a certificate, its key or the TLS configuration was refused.

use std::path::PathBuf;

use rustls::pki_types::pem;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A problem with the content of a named file.
    #[error("{}: {source}", path.display())]
    InFile {
        path: PathBuf,
        source: Box<TlsError>,
    },
    #[error("the certificate chain is not valid PEM: {0}")]
    ChainPem(pem::Error),
    #[error("no CERTIFICATE block found")]
    NoCertificate,
    #[error("the certificate is not valid X.509: {0}")]
    Certificate(#[from] x509_parser::error::X509Error),
    #[error("no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {0}")]
    KeyPem(pem::Error),
    #[error("the private key is not usable: {0}")]
    UnusableKey(rustls::Error),
    #[error("the private key does not match the certificate: {0}")]
    KeyMismatch(rustls::Error),
    #[error("the TLS configuration was refused: {0}")]
    Config(rustls::Error),
}

impl TlsError {
    /// This error as found in the file at `path`.
    pub(super) fn in_file(self, path: &std::path::Path) -> Self {
        Self::InFile {
            path: path.to_owned(),
            source: Box::new(self),
        }
    }
}
