//! Header names both binaries read or write: the balancer forwards and generates them, the
//! backend answers with them.

use actix_web::http::header::HeaderName;

/// Follows one request through the balancer, the backend and both logs (see `request_id`).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Makes a retried `POST /analyze` return the analysis stored the first time.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
