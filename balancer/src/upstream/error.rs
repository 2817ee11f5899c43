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
    /// The client's body failed: the client's doing, never held against the backend.
    #[error(transparent)]
    RequestBody(#[from] BodyError),
}

/// Why a request body could not be relayed; every case is the client's doing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the request body was cut off: {0}")]
    Incomplete(String),
    #[error("the chunked request body is malformed (RFC 9112 section 7.1): {0}")]
    MalformedChunks(&'static str),
    #[error("the request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the request body does not have the {declared} bytes its Content-Length declares")]
    LengthMismatch { declared: u64 },
    #[error("the request body was not received in time")]
    Timeout,
}

impl UpstreamError {
    /// True when the request cannot have reached the backend.
    pub fn before_sending(&self) -> bool {
        matches!(self, Self::Connect(_) | Self::ConnectTimeout)
    }

    /// True when the backend is to blame: what passive health counts.
    pub fn blames_backend(&self) -> bool {
        !matches!(self, Self::RequestBody(_))
    }
}
