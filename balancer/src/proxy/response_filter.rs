//! Phase 6, the response filter: the client's response around an upstream answer (its
//! end-to-end headers, its body streamed back) or a cached entry, labelled with `X-Upstream`,
//! `X-Cache` and `X-Request-Id`.

use actix_web::HttpResponse;
use actix_web::body::BoxBody;
use actix_web::http::header::{HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use bytes::Bytes;
use futures_util::{StreamExt, stream};

use super::body::{self, Guarded, content_length};
use super::headers::end_to_end;
use super::state::Session;
use super::upstream_request::Forwarded;
use crate::cache::{CachedResponse, head_body};
use crate::header_names::{CacheStatus, X_CACHE, X_REQUEST_ID, X_UPSTREAM};

/// The client response around an upstream response whose body streams through, after `read`
/// (body bytes already taken from it), if any.
pub fn from_upstream(
    session: &Session<'_>,
    forwarded: Forwarded,
    status: CacheStatus,
    read: Option<Bytes>,
) -> HttpResponse {
    let Forwarded {
        response,
        backend,
        in_flight,
    } = forwarded;
    let code = response.status();
    let length = content_length(response.headers());
    let mut client_response = HttpResponse::build(code).finish();
    let headers = client_response.headers_mut();
    for (name, value) in end_to_end(response.headers(), &[]) {
        headers.append(name.clone(), value.clone());
    }
    let bodiless = *session.req.method() == Method::HEAD
        || code == StatusCode::NO_CONTENT
        || code == StatusCode::NOT_MODIFIED;
    let mut rest = Guarded {
        inner: response,
        _in_flight: in_flight,
    };
    let body = if bodiless {
        head_body(length.unwrap_or(0))
    } else if let Some(read) = read {
        body::streamed(stream::once(async { Ok(read) }).chain(rest), length)
    } else if let Some(complete) = rest.inner.take_complete_body() {
        // The common small response: written with the head, no stream to poll.
        BoxBody::new(complete)
    } else {
        body::streamed(rest, length)
    };
    let mut client_response = client_response.set_body(body);
    let upstream = session.state.upstream_label(&backend);
    label(client_response.headers_mut(), session, upstream, status);
    client_response
}

/// The client response from a cached entry.
pub fn from_cache(
    session: &Session<'_>,
    entry: &CachedResponse,
    status: CacheStatus,
) -> HttpResponse {
    let mut response = entry.respond(session.req);
    label(
        response.headers_mut(),
        session,
        entry.upstream.clone(),
        status,
    );
    response
}

/// The proxy's own headers. An `X-Request-Id` the backend echoed is kept as it is.
fn label(
    headers: &mut HeaderMap,
    session: &Session<'_>,
    upstream: Option<HeaderValue>,
    status: CacheStatus,
) {
    if let Some(upstream) = upstream {
        headers.insert(X_UPSTREAM, upstream);
    }
    headers.insert(X_CACHE, status.header_value());
    if !headers.contains_key(X_REQUEST_ID) {
        headers.insert(X_REQUEST_ID, session.request_id.clone());
    }
}
