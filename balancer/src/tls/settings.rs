//! The `[tls]` settings: the HTTPS listener, its static certificate, and what the plain
//! listener does about HTTPS.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::configuration::convert::{Checked, keep, optional_address};
use crate::configuration::{invalid, section};

section! {
    /// `[tls]`: the HTTPS listener, its static certificate, and what the plain listener does
    /// about HTTPS.
    TlsLayer => TlsSettings, "tls." {
        /// HTTPS listener address (no HTTPS listener when unset).
        #[arg(id = "tls_listen", long = "tls-listen", env = "BALANCER_TLS_LISTEN", num_args = 1, value_name = "ADDR")]
        listen: Option<String> = None => listen: Option<SocketAddr> = optional_address,
        /// PEM certificate chain, leaf first (reloaded with the key on SIGHUP).
        #[arg(long = "tls-cert", env = "BALANCER_TLS_CERT", num_args = 1, value_name = "FILE")]
        cert: Option<PathBuf> = None => cert: Option<PathBuf> = keep,
        /// PEM private key of the certificate.
        #[arg(long = "tls-key", env = "BALANCER_TLS_KEY", num_args = 1, value_name = "FILE")]
        key: Option<PathBuf> = None => key: Option<PathBuf> = keep,
        /// Answer plain requests with a 308 redirect to HTTPS (except ACME HTTP-01 challenges).
        #[arg(long = "redirect-http", env = "BALANCER_REDIRECT_HTTP", num_args = 0..=1,
              default_missing_value = "true", value_name = "BOOL")]
        redirect_http: bool = false => redirect_http: bool = keep,
        /// Strict-Transport-Security max-age in seconds on HTTPS responses (off when unset).
        #[arg(long = "hsts", env = "BALANCER_HSTS", num_args = 1, value_name = "SECONDS")]
        hsts: Option<u64> = None => hsts: Option<u64> = keep,
    }
    check check_tls
}

/// The key goes with the certificate, and nothing HTTPS-only is set without the listener.
fn check_tls(t: &TlsSettings) -> Checked<()> {
    if t.cert.is_some() != t.key.is_some() {
        return Err(invalid("tls.cert", "tls.cert and tls.key go together"));
    }
    if t.listen.is_none() {
        let without_listener = [
            ("tls.cert", t.cert.is_some()),
            ("tls.redirect_http", t.redirect_http),
            ("tls.hsts", t.hsts.is_some()),
        ];
        if let Some((field, _)) = without_listener.iter().find(|(_, set)| *set) {
            return Err(invalid(*field, "needs tls.listen"));
        }
    }
    Ok(())
}
