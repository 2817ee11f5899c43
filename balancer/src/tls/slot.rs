//! The certificate slot: the one place the TLS listener's handshakes take their certificate
//! from. Installing a new certificate swaps a pointer; handshakes already done and open
//! connections keep the certificate they started with.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use x509_parser::extensions::GeneralName;

use super::TlsError;

/// The certificate the TLS listener serves; cheap to clone (all clones share one slot). While
/// it is empty, handshakes fail and the plain listener serves on.
#[derive(Debug, Clone, Default)]
pub struct CertificateSlot {
    current: Arc<ArcSwapOption<CertifiedKey>>,
}

/// What an installed certificate says about itself, for logs and renewal scheduling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// The DNS names of its subjectAltName extension.
    pub dns_names: Vec<String>,
}

impl CertificateSlot {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a PEM chain (leaf first) and its PEM private key, checks that they belong
    /// together, and serves them from the next handshake on. On error the slot is unchanged.
    pub fn install_pem(
        &self,
        chain_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<CertificateInfo, TlsError> {
        let (certified, info) = certified_key(parse_chain(chain_pem)?, parse_key(key_pem)?)?;
        self.install(certified);
        Ok(info)
    }

    pub(super) fn install(&self, certified: CertifiedKey) {
        self.current.store(Some(Arc::new(certified)));
    }

    /// True once a certificate is installed.
    pub fn is_filled(&self) -> bool {
        self.current.load().is_some()
    }
}

impl ResolvesServerCert for CertificateSlot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.load_full()
    }
}

pub(super) fn parse_chain(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(TlsError::ChainPem)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    Ok(chain)
}

pub(super) fn parse_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(TlsError::KeyPem)
}

/// The chain with its signing key, once the key is usable and matches the leaf.
pub(super) fn certified_key(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<(CertifiedKey, CertificateInfo), TlsError> {
    let info = CertificateInfo::of(&chain[0])?;
    let provider = rustls::crypto::ring::default_provider();
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(TlsError::UnusableKey)?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match().map_err(TlsError::KeyMismatch)?;
    Ok((certified, info))
}

impl CertificateInfo {
    fn of(leaf: &CertificateDer<'_>) -> Result<Self, TlsError> {
        let (_, certificate) =
            x509_parser::parse_x509_certificate(leaf).map_err(|error| match error {
                x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => e,
                x509_parser::nom::Err::Incomplete(_) => {
                    x509_parser::error::X509Error::InvalidCertificate
                }
            })?;
        let validity = certificate.validity();
        let dns_names = match certificate.subject_alternative_name() {
            Ok(Some(names)) => names
                .value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Self {
            not_before: system_time(validity.not_before.timestamp()),
            not_after: system_time(validity.not_after.timestamp()),
            dns_names,
        })
    }

    /// True while `now` lies inside the validity period.
    pub fn is_current(&self, now: SystemTime) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

/// Seconds since the Unix epoch as a `SystemTime` (dates before 1970 become the epoch).
fn system_time(seconds: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}
