//! Gives every response an `X-Request-Id`: the client's own when it sent one the contract's
//! rule accepts (so a request can be followed through the balancer and the logs), a fresh UUID
//! otherwise.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderValue;
use actix_web::middleware::Next;

use crate::contract::headers::REQUEST_ID;
use crate::contract::request_id;

pub async fn request_id(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = match request.headers().get(&REQUEST_ID) {
        Some(given) if request_id::accepts(given.as_bytes()) => given.clone(),
        _ => HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string())
            .expect("a UUID is a valid header value"),
    };
    let mut response = next.call(request).await?;
    response.headers_mut().insert(REQUEST_ID, id);
    Ok(response)
}
