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
    // One ticket per handshake, as OpenSSL (nginx) sends after a resumed one: each ticket is
    // used once and every connection brings the next, so a second is only work for both ends.
    // With rustls' two, a client making connection after connection spent 10 % more CPU per
    // handshake against us than against nginx (h2load, `loadtest/bench-tls`'s new-connection row).
    config.send_tls13_tickets = 1;
    Ok(Arc::new(config))
}
