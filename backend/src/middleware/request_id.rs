//! Gives every response an `X-Request-Id`: the client's own when it sent one the shared rule
//! accepts (so a request can be followed through the balancer and the logs), a fresh UUID
//! otherwise.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const MAX_REQUEST_ID_LEN: usize = 128;

/// The one rule for a client's `X-Request-Id`, shared by the backend and the balancer so both
/// keep or replace the same ids: 1 to 128 visible ASCII characters (no spaces, no controls).
pub fn accepts_request_id(value: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&value.len())
        && value.iter().all(|byte| byte.is_ascii_graphic())
}

pub async fn request_id(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = match request.headers().get(&REQUEST_ID) {
        Some(given) if accepts_request_id(given.as_bytes()) => given.clone(),
        _ => HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string())
            .expect("a UUID is a valid header value"),
    };
    let mut response = next.call(request).await?;
    response.headers_mut().insert(REQUEST_ID, id);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_visible_ascii_ids_are_accepted() {
        assert!(accepts_request_id(b"abc-123"));
        assert!(accepts_request_id("x".repeat(128).as_bytes()));
        assert!(!accepts_request_id(b""));
        assert!(!accepts_request_id(b"has space"));
        assert!(!accepts_request_id(b"tab\there"));
        assert!(!accepts_request_id(b"del\x7f"));
        assert!(!accepts_request_id("caf\u{e9}".as_bytes()));
        assert!(!accepts_request_id("x".repeat(129).as_bytes()));
    }
}
