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

    /// A request that may have reached a backend is retried only when repeating it is safe:
    /// an idempotent method (RFC 9110 section 9.2.2), or a write carrying an `Idempotency-Key`
    /// (the backend answers a repeat with the first result). A body already streamed cannot
    /// be replayed.
    pub fn may_retry(self, method: &Method, idempotency_key: bool, body_replayable: bool) -> bool {
        body_replayable
            && match self {
                Self::Connect => true,
                Self::Timeout | Self::Broken => idempotency_key || is_idempotent(method),
            }
    }
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_is_retried_when_it_never_left_or_carries_a_key() {
        assert!(Failure::Connect.may_retry(&Method::POST, false, true));
        assert!(!Failure::Timeout.may_retry(&Method::POST, false, true));
        assert!(!Failure::Broken.may_retry(&Method::POST, false, true));
        assert!(Failure::Timeout.may_retry(&Method::POST, true, true));
        assert!(Failure::Broken.may_retry(&Method::POST, true, true));
        assert!(!Failure::Connect.may_retry(&Method::POST, true, false));
        assert!(Failure::Timeout.may_retry(&Method::GET, false, true));
        assert!(Failure::Broken.may_retry(&Method::PUT, false, true));
    }
}
