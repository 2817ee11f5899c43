//! Turns every error response into the API's JSON error body, including those the framework
//! produces by itself (unknown path, wrong method, an extractor's refusal), so no client ever
//! gets a plain-text default.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};

use crate::error::ApiError;

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

fn canonical_message(status: StatusCode) -> String {
    status
        .canonical_reason()
        .unwrap_or("The request failed")
        .to_owned()
}

fn describe(status: StatusCode, method: &Method, path: &str) -> String {
    match status {
        StatusCode::NOT_FOUND => format!("Nothing is served at {path}."),
        StatusCode::METHOD_NOT_ALLOWED => format!("{method} is not allowed on {path}."),
        _ => canonical_message(status),
    }
}

pub async fn json_errors(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let response = match next.call(request).await {
        Ok(response) => response.map_into_boxed_body(),
        Err(error) if error.as_error::<ApiError>().is_some() => return Err(error),
        Err(error) => {
            let status = error.as_response_error().status_code();
            let message = canonical_message(status);
            return Err(ApiError::Other { status, message }.into());
        }
    };
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return Ok(response);
    }
    let (request, original) = response.into_parts();
    let mut replacement = ApiError::Other {
        status,
        message: describe(status, request.method(), request.path()),
    }
    .error_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = original.headers().get(&name) {
            replacement.headers_mut().insert(name, value.clone());
        }
    }
    Ok(ServiceResponse::new(request, replacement))
}
