//! TLS termination on the public listener: the certificate slot every handshake reads from
//! (filled from static files or by ACME), the rustls server configuration, the static files
//! and their reload on SIGHUP, and the plain listener's redirect to HTTPS.

mod error;
mod redirect;
mod server_config;
mod settings;
mod slot;
mod static_files;

pub use error::TlsError;
pub use redirect::{HttpsPort, to_https};
pub use server_config::server_config;
pub use settings::{TlsLayer, TlsSettings};
pub use slot::{CertificateInfo, CertificateSlot};
pub use static_files::{StaticCertificate, describe, reload_on_hangup};
