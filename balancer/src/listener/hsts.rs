//! What only requests over TLS get: `Strict-Transport-Security` when configured (`--hsts`),
//! unless the backend sent its own; never over plain HTTP, where a browser ignores it
//! (RFC 6797 7.2). A middleware only where HSTS is on, so other requests pass one disabled
//! layer.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, STRICT_TRANSPORT_SECURITY};
use actix_web::middleware::Next;

pub(super) async fn apply(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
    hsts: Option<HeaderValue>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut response = next.call(req).await?;
    if let Some(hsts) = hsts {
        let headers = response.headers_mut();
        if !headers.contains_key(STRICT_TRANSPORT_SECURITY) {
            headers.insert(STRICT_TRANSPORT_SECURITY, hsts);
        }
    }
    Ok(response)
}
