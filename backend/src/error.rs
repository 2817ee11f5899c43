//! Errors the API answers with: each has a status, a stable snake_case code and a sentence for
//! people, sent as the contract's JSON error body (`contract::ErrorBody`).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use crate::contract::ErrorBody;
use crate::idempotency::InvalidIdempotencyKey;
use crate::store::{StoreError, report_unavailable};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("The request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("Send the request body as JSON with the header Content-Type: application/json.")]
    UnsupportedMediaType,
    #[error("The request body is larger than the limit of {limit} bytes.")]
    PayloadTooLarge { limit: usize },
    #[error("The request body was cut off: {0}")]
    IncompleteBody(String),
    #[error("The JSON body needs a \"text\" field, e.g. {{\"text\": \"I love it\"}}.")]
    MissingText,
    #[error("The \"text\" field must be a string.")]
    InvalidText,
    #[error("The text is empty: write something to analyse.")]
    EmptyText,
    #[error("The text is {chars} characters long; the limit is {limit}.")]
    TextTooLong { chars: usize, limit: usize },
    #[error("limit must be a whole number from 1 to {max}.")]
    InvalidLimit { max: usize },
    #[error("before must be the id of an analysis from a previous history page ({0}).")]
    InvalidCursor(String),
    #[error("The query string is malformed: {0}")]
    InvalidQuery(String),
    #[error("The Idempotency-Key header is invalid: {0}.")]
    InvalidIdempotencyKey(#[from] InvalidIdempotencyKey),
    #[error(
        "This Idempotency-Key was already used for another text: send a new key for a new text."
    )]
    IdempotencyKeyReused,
    #[error(
        "A request with this Idempotency-Key is still being stored: retry in a moment to get its \
         answer."
    )]
    IdempotencyKeyInFlight,
    /// The store failed; why is logged, never shown (it can name hosts and the topology).
    #[error("The store is unavailable: please retry in a moment.")]
    StoreUnavailable,
    /// Any other status, raised by the framework rather than by our handlers (unknown path,
    /// wrong method, header too large, ...).
    #[error("{message}")]
    Other { status: StatusCode, message: String },
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::IncompleteBody(_) => "incomplete_body",
            ApiError::MissingText => "missing_text",
            ApiError::InvalidText => "invalid_text",
            ApiError::EmptyText => "empty_text",
            ApiError::TextTooLong { .. } => "text_too_long",
            ApiError::InvalidLimit { .. } => "invalid_limit",
            ApiError::InvalidCursor(_) => "invalid_cursor",
            ApiError::InvalidQuery(_) => "invalid_query",
            ApiError::InvalidIdempotencyKey(_) => "invalid_idempotency_key",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::IdempotencyKeyInFlight => "idempotency_key_in_flight",
            ApiError::StoreUnavailable => "store_unavailable",
            ApiError::Other { status, .. } => code_for_status(*status),
        }
    }
}

/// The code for statuses the framework produces on its own.
fn code_for_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::NOT_ACCEPTABLE => "not_acceptable",
        StatusCode::RANGE_NOT_SATISFIABLE => "range_not_satisfiable",
        StatusCode::PRECONDITION_FAILED => "precondition_failed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::SERVICE_UNAVAILABLE => "service_unavailable",
        status if status.is_client_error() => "bad_request",
        _ => "internal_error",
    }
}

impl From<StoreError> for ApiError {
    /// Every store failure a client sees passes here, so this is where its detail is logged.
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::InvalidCursor(cursor) => ApiError::InvalidCursor(cursor),
            StoreError::IdempotencyKeyReused => ApiError::IdempotencyKeyReused,
            StoreError::IdempotencyKeyInFlight => ApiError::IdempotencyKeyInFlight,
            other => {
                report_unavailable(&other);
                ApiError::StoreUnavailable
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidJson(_)
            | ApiError::IncompleteBody(_)
            | ApiError::InvalidLimit { .. }
            | ApiError::InvalidCursor(_)
            | ApiError::InvalidQuery(_)
            | ApiError::InvalidIdempotencyKey(_) => StatusCode::BAD_REQUEST,
            ApiError::IdempotencyKeyInFlight => StatusCode::CONFLICT,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MissingText
            | ApiError::InvalidText
            | ApiError::EmptyText
            | ApiError::TextTooLong { .. }
            | ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Other { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if matches!(
            self,
            ApiError::StoreUnavailable | ApiError::IdempotencyKeyInFlight
        ) {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
        }
        ErrorBody::new(self.code(), self.to_string()).respond(&mut response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_is_json_with_code_and_message() {
        let response = ApiError::TextTooLong {
            chars: 12,
            limit: 10,
        }
        .error_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
    }

    #[test]
    fn cursor_errors_from_the_store_are_client_errors() {
        let error = ApiError::from(StoreError::InvalidCursor("x".into()));
        assert_eq!(error.status_code(), StatusCode::BAD_REQUEST);
        let error = ApiError::from(StoreError::ShuttingDown);
        assert_eq!(error.status_code(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn idempotency_errors_follow_the_draft() {
        let reused = ApiError::from(StoreError::IdempotencyKeyReused);
        assert_eq!(reused.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
        let in_flight = ApiError::from(StoreError::IdempotencyKeyInFlight);
        assert_eq!(in_flight.status_code(), StatusCode::CONFLICT);
        assert_eq!(
            in_flight
                .error_response()
                .headers()
                .get(header::RETRY_AFTER)
                .unwrap(),
            "1"
        );
        let invalid = ApiError::from(InvalidIdempotencyKey::OutOfRange);
        assert_eq!(invalid.code(), "invalid_idempotency_key");
        assert_eq!(invalid.status_code(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn store_failures_say_nothing_of_the_driver() {
        let error = ApiError::from(StoreError::TimedOut(std::time::Duration::from_secs(2)));
        assert_eq!(error.code(), "store_unavailable");
        assert_eq!(
            error.to_string(),
            "The store is unavailable: please retry in a moment."
        );
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "1");
    }
}
