//! The public listener's handler: every method and path is forwarded to a selected backend
//! (through the cache for GET/HEAD), with the response streamed back and labelled with
//! `X-Upstream` and `X-Cache`.

mod body;
mod cached;
mod error;
mod forward;
mod headers;
mod retry;

use std::sync::Arc;
use std::time::Duration;

use actix_web::body::BoxBody;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures_util::{StreamExt, stream};

pub use body::head_body;
pub use error::ProxyError;
pub use headers::RequestIds;

use crate::backends::BackendSet;
use crate::cache::{CacheStats, HttpCache};
use crate::configuration::{ProxySettings, Settings};
use crate::selection::HashKey;
use crate::upstream::{OutgoingBody, UpstreamClient, UpstreamResponse};
use forward::Forwarded;

pub const X_UPSTREAM: HeaderName = HeaderName::from_static("x-upstream");
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// `X-Cache` values.
pub mod cache_status {
    use actix_web::http::header::HeaderValue;

    pub const HIT: HeaderValue = HeaderValue::from_static("HIT");
    pub const MISS: HeaderValue = HeaderValue::from_static("MISS");
    pub const STALE: HeaderValue = HeaderValue::from_static("STALE");
    pub const BYPASS: HeaderValue = HeaderValue::from_static("BYPASS");
    pub const EXPIRED: HeaderValue = HeaderValue::from_static("EXPIRED");
}

/// Everything the handler shares across worker threads.
pub struct ProxyState {
    pub backends: Arc<BackendSet>,
    pub cache: Option<Arc<HttpCache>>,
    pub settings: ProxySettings,
    pub hash_key: HashKey,
    pub uses_key: bool,
    pub passive_failures: u32,
    /// `Retry-After` when no backend is healthy: about one health check interval.
    pub retry_after: Duration,
    pub request_ids: RequestIds,
}

impl ProxyState {
    pub fn new(
        settings: &Settings,
        backends: Arc<BackendSet>,
        cache: Option<Arc<HttpCache>>,
    ) -> Self {
        Self {
            backends,
            cache,
            settings: settings.proxy.clone(),
            hash_key: settings.hash_key.clone(),
            uses_key: settings.algorithm.uses_key(),
            passive_failures: settings.health.passive_failures,
            retry_after: settings.health.interval,
            request_ids: RequestIds::default(),
        }
    }
}

/// The upstream client for one worker thread.
pub fn upstream_client(settings: &ProxySettings) -> UpstreamClient {
    UpstreamClient::new(
        settings.connect_timeout,
        settings.upstream_timeout,
        settings.upstream_connection_limit,
    )
}

/// The public handler for every request.
pub async fn handle(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<ProxyState>,
    client: web::Data<UpstreamClient>,
) -> Result<HttpResponse, ProxyError> {
    let request_id = state.request_ids.for_request(&req);
    let has_body = req.headers().contains_key(header::CONTENT_LENGTH)
        && req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v != "0")
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    match &state.cache {
        Some(cache) if !has_body && matches!(*req.method(), Method::GET | Method::HEAD) => {
            cached::serve(&req, cache, &state, &client, request_id).await
        }
        _ => pass(&req, payload, &state, &client, request_id).await,
    }
}

/// Forwards without the cache (`X-Cache: BYPASS`).
async fn pass(
    req: &HttpRequest,
    payload: web::Payload,
    state: &ProxyState,
    client: &UpstreamClient,
    request_id: HeaderValue,
) -> Result<HttpResponse, ProxyError> {
    if let Some(cache) = &state.cache {
        CacheStats::count(&cache.stats().bypass);
    }
    let body = body::prepare(req, payload, &state.settings).await?;
    forward_and_stream(req, body, state, client, request_id, cache_status::BYPASS).await
}

/// Sends upstream and streams the answer back; a successful write purges what it made stale.
async fn forward_and_stream(
    req: &HttpRequest,
    body: OutgoingBody,
    state: &ProxyState,
    client: &UpstreamClient,
    request_id: HeaderValue,
    cache_status: HeaderValue,
) -> Result<HttpResponse, ProxyError> {
    let forwarded = forward::send(req, body, state, client, &request_id, false).await?;
    if let Some(cache) = &state.cache
        && !req.method().is_safe()
        && forwarded.response.status().is_success()
    {
        cache.purge_after_write(req.method(), req.path());
    }
    Ok(stream_response(
        req,
        forwarded,
        cache_status,
        request_id,
        None,
    ))
}

/// Builds the client response around an upstream response whose body streams through, after
/// `read` (body bytes already taken from it), if any.
fn stream_response(
    req: &HttpRequest,
    forwarded: Forwarded,
    cache_status: HeaderValue,
    request_id: HeaderValue,
    read: Option<Bytes>,
) -> HttpResponse {
    let Forwarded {
        response,
        backend,
        in_flight,
    } = forwarded;
    let status = response.status();
    let length = content_length(response.headers());
    let mut client_response = HttpResponse::build(status).finish();
    copy_headers(&response, client_response.headers_mut());
    let bodiless = *req.method() == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let mut rest = body::Guarded {
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
    let headers = client_response.headers_mut();
    headers.insert(X_UPSTREAM, backend.upstream_header().clone());
    headers.insert(X_CACHE, cache_status);
    if !headers.contains_key(X_REQUEST_ID) {
        headers.insert(X_REQUEST_ID, request_id);
    }
    client_response
}

fn copy_headers(response: &UpstreamResponse, into: &mut actix_web::http::header::HeaderMap) {
    for (name, value) in headers::end_to_end(response.headers(), &[]) {
        into.append(name.clone(), value.clone());
    }
}

fn content_length(headers: &actix_web::http::header::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
}
