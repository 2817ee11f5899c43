//! Middleware that every response passes through: the access log, request ids, JSON error
//! bodies, and the security headers of the page.

mod access_log;
mod json_errors;
mod request_id;

use actix_web::http::header::{self, HeaderName};
use actix_web::middleware::DefaultHeaders;

pub use access_log::{ACCESS_LOG_TARGET, access_log};
pub use json_errors::json_errors;
pub use request_id::request_id;

// Kept at their old paths for callers written before the contract module.
pub use crate::contract::headers::REQUEST_ID;
pub use crate::contract::request_id::accepts as accepts_request_id;

/// Only our own origin may provide scripts, styles, images and connections: user text can never
/// become active content even if it reached the DOM as HTML.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
     script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
}
