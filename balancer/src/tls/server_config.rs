//! The rustls server configuration of the TLS listener: the ring provider, TLS 1.3 and 1.2
//! only, ALPN `h2` before `http/1.1`, certificates from the slot.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::crypto::ring;

use super::{CertificateSlot, TlsError};

pub fn server_config(slot: CertificateSlot) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(slot));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // Session tickets let returning clients skip the full handshake, as nginx's default does.
    config.ticketer = ring::Ticketer::new().map_err(TlsError::Config)?;
    Ok(Arc::new(config))
}
