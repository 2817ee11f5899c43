//! Proxy errors, answered as JSON `{"error": code, "message": sentence}` like the backend's.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

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
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    #[error("request body could not be read: {0}")]
    RequestBody(String),
    #[error("request body was not received in time")]
    RequestBodyTimeout,
}

impl ProxyError {
    fn code(&self) -> &'static str {
        match self {
            Self::NoHealthyBackend { .. } => "no_healthy_backend",
            Self::UpstreamUnreachable => "upstream_unreachable",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::BadGateway => "bad_gateway",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::RequestBody(_) => "invalid_body",
            Self::RequestBodyTimeout => "request_timeout",
        }
    }
}

impl ResponseError for ProxyError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NoHealthyBackend { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamUnreachable | Self::BadGateway => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestBody(_) => StatusCode::BAD_REQUEST,
            Self::RequestBodyTimeout => StatusCode::REQUEST_TIMEOUT,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Self::NoHealthyBackend { retry_after } = self {
            let seconds = retry_after.as_secs().max(1);
            response.insert_header((header::RETRY_AFTER, HeaderValue::from(seconds)));
        }
        if matches!(
            self,
            Self::RequestBody(_) | Self::RequestBodyTimeout | Self::PayloadTooLarge { .. }
        ) {
            // The unread rest of the body makes the connection unusable.
            response.force_close();
        }
        response.json(serde_json::json!({
            "error": self.code(),
            "message": self.to_string(),
        }))
    }
}
