//! A certificate chain and key from two PEM files (`--tls-cert`, `--tls-key`): loaded at
//! start-up, where any problem names the file and stops the balancer, and again on each
//! SIGHUP, where a problem is logged and the certificate already served stays.

use std::path::{Path, PathBuf};

use tokio::signal::unix::{Signal, SignalKind, signal};

use super::slot::{certified_key, parse_chain, parse_key};
use super::{CertificateInfo, CertificateSlot, TlsError};

#[derive(Debug, Clone)]
pub struct StaticCertificate {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl StaticCertificate {
    /// Reads and checks both files, then installs them in `slot`.
    pub fn load_into(&self, slot: &CertificateSlot) -> Result<CertificateInfo, TlsError> {
        let chain = parse_chain(&read(&self.cert)?).map_err(|e| e.in_file(&self.cert))?;
        let key = parse_key(&read(&self.key)?).map_err(|e| e.in_file(&self.key))?;
        let (certified, info) = certified_key(chain, key).map_err(|error| match error {
            TlsError::UnusableKey(_) | TlsError::KeyMismatch(_) => error.in_file(&self.key),
            other => other.in_file(&self.cert),
        })?;
        slot.install(certified);
        Ok(info)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Installs the SIGHUP handler now (so no hangup after start-up is missed) and returns the
/// task that reloads `files` into `slot` on each one. Without static files a hangup is only
/// logged: `systemctl reload` or a stray `kill -HUP` must never stop the balancer, which the
/// signal's default action would.
pub fn reload_on_hangup(
    files: Option<StaticCertificate>,
    slot: CertificateSlot,
) -> std::io::Result<impl Future<Output = ()>> {
    let mut hangups: Signal = signal(SignalKind::hangup())?;
    Ok(async move {
        while hangups.recv().await.is_some() {
            let Some(files) = &files else {
                log::info!("SIGHUP: no static TLS certificate to reload; nothing else reloads");
                continue;
            };
            match files.load_into(&slot) {
                Ok(info) => log::info!("reloaded the TLS certificate: {}", describe(&info)),
                Err(error) => {
                    log::error!("TLS certificate reload failed, still serving the old one: {error}")
                }
            }
        }
    })
}

/// The names and expiry of a certificate, for the log.
pub fn describe(info: &CertificateInfo) -> String {
    format!(
        "names [{}], valid until {}",
        info.dns_names.join(", "),
        httpdate::fmt_http_date(info.not_after)
    )
}
