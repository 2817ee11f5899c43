//! Phase 6, the response filter: the client's response around an upstream answer (its
//! end-to-end headers, its body streamed back) or a cached entry, labelled with `X-Upstream`,
//! `X-Request-Id` and, when the cache is on, `X-Cache` and `Cache-Status`.

use actix_web::HttpResponse;
use actix_web::body::BoxBody;
use actix_web::http::header::{HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use bytes::Bytes;
use futures_util::{StreamExt, stream};

use super::body::{self, Guarded, content_length};
use super::headers::keep_end_to_end;
use super::state::Session;
use super::upstream_request::Forwarded;
use crate::cache::{CACHE_STATUS, CacheOutcome, CachedResponse, head_body};
use crate::header_names::{X_CACHE, X_REQUEST_ID, X_UPSTREAM};

/// The client response around an upstream response whose body streams through, after `read`
/// (body bytes already taken from it), if any.
pub fn from_upstream(
    session: &Session<'_>,
    forwarded: Forwarded,
    outcome: CacheOutcome,
    read: Option<Bytes>,
) -> HttpResponse {
    let Forwarded {
        mut response,
        backend,
        in_flight,
    } = forwarded;
    let code = response.status();
    let length = content_length(response.headers());
    let mut client_response = HttpResponse::build(code).finish();
    let headers = client_response.headers_mut();
    *headers = response.take_headers();
    keep_end_to_end(headers);
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
    // With the cache off there is no cache to report on (RFC 9211 lists the caches a response
    // passed): nothing is stored, looked up or bypassed.
    let cache = session
        .state
        .cache
        .is_some()
        .then(|| (outcome, outcome.cache_status(Some(code), None)));
    label(client_response.headers_mut(), session, upstream, cache);
    client_response
}

/// The client response from a cached entry.
pub fn from_cache(
    session: &Session<'_>,
    entry: &CachedResponse,
    outcome: CacheOutcome,
) -> HttpResponse {
    let mut response = entry.respond(session.req);
    let went_upstream = !matches!(outcome, CacheOutcome::Hit | CacheOutcome::StaleHit);
    let cache_status = outcome.cache_status(
        went_upstream.then_some(entry.status),
        Some(entry.ttl_left()),
    );
    label(
        response.headers_mut(),
        session,
        entry.upstream.clone(),
        Some((outcome, cache_status)),
    );
    response
}

/// The proxy's own headers. An `X-Request-Id` the backend echoed is kept as it is; an origin's
/// own `Cache-Status` members (from caches behind us) are kept, ours last: RFC 9211 lists the
/// caches from the origin's side to the client's.
fn label(
    headers: &mut HeaderMap,
    session: &Session<'_>,
    upstream: Option<HeaderValue>,
    cache: Option<(CacheOutcome, HeaderValue)>,
) {
    if let Some(upstream) = upstream {
        headers.insert(X_UPSTREAM, upstream);
    }
    if let Some((outcome, cache_status)) = cache {
        headers.insert(X_CACHE, outcome.x_cache().header_value());
        headers.append(CACHE_STATUS, cache_status);
    }
    echo_request_id(headers, &session.request_id);
}

/// `X-Request-Id` as the backend echoed it, else ours, marked sensitive so that HTTP/2 sends it
/// as a never-indexed literal (RFC 7541 6.2.3). A value unique to each response would otherwise
/// enter the connection's HPACK table every time, evicting the fields that do repeat, and h2's
/// encoder compared each new id with every stored one: HPACK encoding fell from 9.2 % to 5.0 %
/// of the balancer's samples with `h2load -m 1` at 10,000 requests/s over TLS.
fn echo_request_id(headers: &mut HeaderMap, ours: &HeaderValue) {
    if let Some(echoed) = headers.get_mut(X_REQUEST_ID) {
        echoed.set_sensitive(true);
    } else {
        let mut id = ours.clone();
        id.set_sensitive(true);
        headers.insert(X_REQUEST_ID, id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_id_is_echoed_once_and_never_indexed() {
        let ours = HeaderValue::from_static("ours");
        let mut generated = HeaderMap::new();
        echo_request_id(&mut generated, &ours);
        let mut echoed = HeaderMap::new();
        echoed.insert(X_REQUEST_ID, HeaderValue::from_static("backend"));
        echo_request_id(&mut echoed, &ours);
        for (headers, expected) in [(generated, "ours"), (echoed, "backend")] {
            let ids: Vec<_> = headers.get_all(X_REQUEST_ID).collect();
            assert_eq!(ids, [expected]);
            assert!(ids[0].is_sensitive(), "{expected}");
        }
    }
}
