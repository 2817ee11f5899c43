//! Retry policy: which upstream failures may be retried once on another backend.

use actix_web::http::Method;

use crate::upstream::UpstreamError;

/// How far a failed upstream request got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection was made: the request never reached the backend.
    Connect,
    /// Sent, but no response head came back in time.
    Timeout,
    /// Sent (maybe partly), then the connection broke before a response head.
    Broken,
}

impl Failure {
    pub fn classify(error: &UpstreamError) -> Self {
        match error {
            _ if error.before_sending() => Self::Connect,
            UpstreamError::Timeout => Self::Timeout,
            _ => Self::Broken,
        }
    }

    /// A request that may have reached a backend is retried only when it is idempotent
    /// (GET/HEAD) and no response byte came back; a body already streamed cannot be replayed.
    pub fn may_retry(self, method: &Method, body_replayable: bool) -> bool {
        body_replayable
            && match self {
                Self::Connect => true,
                Self::Timeout | Self::Broken => matches!(*method, Method::GET | Method::HEAD),
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_is_retried_only_when_it_never_left() {
        assert!(Failure::Connect.may_retry(&Method::POST, true));
        assert!(!Failure::Timeout.may_retry(&Method::POST, true));
        assert!(!Failure::Broken.may_retry(&Method::POST, true));
        assert!(!Failure::Connect.may_retry(&Method::POST, false));
        assert!(Failure::Timeout.may_retry(&Method::GET, true));
        assert!(Failure::Broken.may_retry(&Method::HEAD, true));
    }
}
