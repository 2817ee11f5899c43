//! Proxy errors, answered with the contract's JSON error body like the backend's.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use backend::contract::ErrorBody;

use crate::upstream::BodyError;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("no healthy backend is available; retry shortly")]
    NoHealthyBackend { retry_after: Duration },
    #[error("the upstream could not be reached")]
    UpstreamUnreachable,
    #[error("the upstream did not answer in time")]
    UpstreamTimeout,
    #[error("the upstream connection failed before a response")]
    BadGateway,
    #[error("the stored response must be revalidated and the upstream did not answer")]
    RevalidationFailed,
    #[error(transparent)]
    ClientBody(#[from] BodyError),
    #[error("protocol upgrades (such as WebSocket) are not supported here")]
    UpgradeRefused,
    #[error("CONNECT tunnels are not supported here")]
    ConnectRefused,
    #[error("TRACE is not answered here: its echo would expose the request's cookies and headers")]
    TraceRefused,
    #[error("nothing is served at this path")]
    PrivatePath,
    #[error("the request headers are too large")]
    HeadersTooLarge,
    #[error("the Host header names another authority than :authority, or is repeated")]
    ConflictingHost,
    #[error("too many HTTP/2 requests in flight from your address; wait for some to finish")]
    TooManyStreams,
    /// A request head outside the protocol's grammar that its parser let through.
    #[error("{0}")]
    Malformed(&'static str),
}

impl ProxyError {
    fn code(&self) -> &'static str {
        match self {
            Self::NoHealthyBackend { .. } => "no_healthy_backend",
            Self::UpstreamUnreachable => "upstream_unreachable",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::BadGateway => "bad_gateway",
            Self::RevalidationFailed => "revalidation_failed",
            Self::ClientBody(BodyError::Incomplete(_)) => "incomplete_body",
            Self::ClientBody(BodyError::MalformedChunks(_)) => "malformed_chunked_body",
            Self::ClientBody(BodyError::TooLarge { .. }) => "payload_too_large",
            Self::ClientBody(BodyError::LengthMismatch { .. }) => "body_length_mismatch",
            Self::ClientBody(BodyError::Timeout) => "request_timeout",
            Self::UpgradeRefused => "upgrade_not_supported",
            Self::ConnectRefused | Self::TraceRefused => "method_not_allowed",
            Self::PrivatePath => "not_found",
            Self::HeadersTooLarge => "headers_too_large",
            Self::ConflictingHost => "conflicting_host",
            Self::TooManyStreams => "too_many_requests",
            Self::Malformed(_) => "malformed_request",
        }
    }

    /// The rest of the connection cannot be trusted to hold the next request: an unread or
    /// misframed body, or bytes meant for a tunnel.
    fn closes_connection(&self) -> bool {
        matches!(
            self,
            Self::ClientBody(_) | Self::UpgradeRefused | Self::ConnectRefused
        )
    }
}

impl ResponseError for ProxyError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NoHealthyBackend { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamUnreachable | Self::BadGateway => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout | Self::RevalidationFailed => StatusCode::GATEWAY_TIMEOUT,
            Self::ClientBody(BodyError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ClientBody(BodyError::Timeout) => StatusCode::REQUEST_TIMEOUT,
            Self::ClientBody(_)
            | Self::UpgradeRefused
            | Self::ConflictingHost
            | Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::ConnectRefused | Self::TraceRefused => StatusCode::METHOD_NOT_ALLOWED,
            Self::PrivatePath => StatusCode::NOT_FOUND,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::TooManyStreams => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        match self {
            Self::NoHealthyBackend { retry_after } => {
                let seconds = retry_after.as_secs().max(1);
                response.insert_header((header::RETRY_AFTER, HeaderValue::from(seconds)));
            }
            Self::TooManyStreams => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
            }
            _ => {}
        }
        if let Self::ConnectRefused | Self::TraceRefused = self {
            response.insert_header((
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
            ));
        }
        if self.closes_connection() {
            response.force_close();
        }
        ErrorBody::new(self.code(), self.to_string()).respond(&mut response)
    }
}
