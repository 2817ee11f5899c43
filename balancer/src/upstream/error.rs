//! How an exchange with a backend can fail, in terms the retry policy needs: before the
//! request could reach the backend, or after.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("could not connect: {0}")]
    Connect(io::Error),
    #[error("no connection within the connect timeout")]
    ConnectTimeout,
    #[error("no response head within the upstream timeout")]
    Timeout,
    #[error("connection failed: {0}")]
    Io(#[from] io::Error),
    #[error("connection closed before a complete response head")]
    Closed,
    #[error("malformed response: {0}")]
    Malformed(&'static str),
    #[error("request body could not be read: {0}")]
    RequestBody(String),
}

impl UpstreamError {
    /// True when the request cannot have reached the backend.
    pub fn before_sending(&self) -> bool {
        matches!(self, Self::Connect(_) | Self::ConnectTimeout)
    }
}
