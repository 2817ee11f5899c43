//! Gives every response an `X-Request-Id`: the client's own when it sent a sensible one (so a
//! request can be followed through the balancer and the logs), a fresh UUID otherwise.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const MAX_REQUEST_ID_LEN: usize = 128;

fn is_sensible(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes.iter().all(|byte| byte.is_ascii_graphic())
}

pub async fn request_id(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = match request.headers().get(&REQUEST_ID) {
        Some(given) if is_sensible(given) => given.clone(),
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
    fn only_short_printable_ids_are_echoed() {
        assert!(is_sensible(&HeaderValue::from_static("abc-123")));
        assert!(!is_sensible(&HeaderValue::from_static("")));
        assert!(!is_sensible(&HeaderValue::from_static("has space")));
        assert!(!is_sensible(
            &HeaderValue::from_str(&"x".repeat(129)).unwrap()
        ));
    }
}
