//! Admin API errors, answered with the contract's JSON error body.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use backend::contract::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("a valid `Authorization: Bearer <token>` header is required")]
    Unauthorized,
    #[error("no such admin resource")]
    NotFound,
    #[error("{0}")]
    UnknownBackend(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("workers are not managed by this balancer (static backends)")]
    NotManaged,
    #[error("the balancer is stopping")]
    Stopping,
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound | Self::UnknownBackend(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) | Self::NotManaged => StatusCode::CONFLICT,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Stopping => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let code = match self {
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not_found",
            Self::UnknownBackend(_) => "unknown_backend",
            Self::Conflict(_) => "conflict",
            Self::BadRequest(_) => "bad_request",
            Self::NotManaged => "not_managed",
            Self::Stopping => "stopping",
        };
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unauthorized) {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        ErrorBody::new(code, self.to_string()).respond(&mut response)
    }
}
