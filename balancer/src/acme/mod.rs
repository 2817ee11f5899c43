//! Automatic certificates (RFC 8555, ACME) with instant-acme: the state directory that keeps
//! the account and certificate across restarts, the HTTP-01 tokens the plain listener
//! answers, one order, and the schedule that renews before expiry and retries with back-off.

mod account;
mod challenges;
mod manager;
mod order;
mod renewal;
mod settings;
mod state_dir;

use std::path::PathBuf;

pub use challenges::{CHALLENGE_PATH, ChallengeTokens};
pub use manager::Manager;
pub(crate) use settings::check_certificate_source;
pub use settings::{AcmeLayer, AcmeSettings};
pub use state_dir::{StateDir, StateError};

/// Why ACME could not start, or why one attempt failed (the certificate in use stays).
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error(transparent)]
    State(#[from] StateError),
    /// The issued certificate or its key was refused by the TLS listener's slot.
    #[error("ACME certificate: {0}")]
    Certificate(#[from] crate::tls::TlsError),
    #[error("acme.ca_root: {path}: {reason}")]
    CaRoot { path: PathBuf, reason: String },
    #[error("cannot set up certificate verification for the ACME server: {0}")]
    Trust(rustls::Error),
    /// The ACME server's problem document, or a transport failure, as instant-acme reports it.
    #[error("ACME: {0}")]
    Protocol(#[from] instant_acme::Error),
    /// The order failed; the server's problem document says why.
    #[error("ACME order refused: {0}")]
    Refused(instant_acme::Problem),
    #[error("ACME order became invalid and the server gave no reason")]
    InvalidOrder,
    #[error("ACME authorization is {0}, not pending")]
    Authorization(String),
    #[error("the ACME server offers no HTTP-01 challenge")]
    NoHttp01,
}
