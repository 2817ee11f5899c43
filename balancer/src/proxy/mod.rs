//! The public listener's handler: every method and path is forwarded to a selected backend
//! (through the cache for GET/HEAD), with the response streamed back and labelled with
//! `X-Upstream` and `X-Cache`.

mod body;
mod cached;
mod error;
mod forward;
mod headers;
mod private_paths;
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
pub use headers::{ListenerScheme, RequestIds, TrustedProxies};
pub use private_paths::PrivatePaths;

use crate::backends::{Backend, BackendSet};
use crate::cache::{CacheStats, HttpCache};
use crate::configuration::{ProxySettings, Settings};
use crate::selection::HashKey;
use crate::upstream::{OutgoingBody, UpstreamClient, UpstreamResponse};
use body::RequestFraming;
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
    /// 5xx answers count as passive failures (off by default: an application error is not a
    /// dead backend).
    pub passive_5xx: bool,
    /// `Retry-After` when no backend is healthy: about one health check interval.
    pub retry_after: Duration,
    pub request_ids: RequestIds,
    pub trusted_proxies: TrustedProxies,
    pub private_paths: PrivatePaths,
    /// Responses say which backend answered (`X-Upstream`).
    pub expose_upstream: bool,
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
            passive_5xx: settings.health.passive_5xx,
            retry_after: settings.health.interval,
            request_ids: RequestIds::default(),
            trusted_proxies: settings.proxy.trusted_proxies.clone(),
            private_paths: settings.proxy.private_paths.clone(),
            expose_upstream: settings.proxy.expose_upstream.resolve(settings.listen),
        }
    }

    /// The `X-Upstream` value for `backend`, when responses carry one.
    pub fn upstream_label(&self, backend: &Backend) -> Option<HeaderValue> {
        self.expose_upstream
            .then(|| backend.upstream_header().clone())
    }
}

/// The upstream client for one worker thread.
pub fn upstream_client(settings: &ProxySettings) -> UpstreamClient {
    UpstreamClient::new(
        settings.connect_timeout,
        settings.upstream_timeout,
        settings.upstream_idle_per_backend,
        settings.upstream_idle_timeout,
    )
}

/// Requests the edge answers itself: tunnels, protocol switches and private paths never reach
/// a backend.
fn refuse(req: &HttpRequest, state: &ProxyState) -> Result<RequestFraming, ProxyError> {
    if *req.method() == Method::CONNECT {
        return Err(ProxyError::ConnectRefused);
    }
    // An h2c offer may be ignored (RFC 9113 section 3.1); any other switch would make
    // actix-http read the connection as a raw stream.
    if let Some(upgrade) = req.headers().get(header::UPGRADE)
        && !upgrade.as_bytes().trim_ascii().eq_ignore_ascii_case(b"h2c")
    {
        return Err(ProxyError::UpgradeRefused);
    }
    if state.private_paths.contains(req.path()) {
        return Err(ProxyError::PrivatePath);
    }
    Ok(RequestFraming::of(req))
}

/// The public handler for every request.
pub async fn handle(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<ProxyState>,
    client: web::Data<UpstreamClient>,
) -> Result<HttpResponse, ProxyError> {
    let framing = refuse(&req, &state)?;
    let request_id = state.request_ids.for_request(&req);
    match &state.cache {
        Some(cache)
            if framing == RequestFraming::None
                && matches!(*req.method(), Method::GET | Method::HEAD) =>
        {
            cached::serve(&req, cache, &state, &client, request_id).await
        }
        _ => pass(&req, framing, payload, &state, &client, request_id).await,
    }
}

/// Forwards without the cache (`X-Cache: BYPASS`).
async fn pass(
    req: &HttpRequest,
    framing: RequestFraming,
    payload: web::Payload,
    state: &ProxyState,
    client: &UpstreamClient,
    request_id: HeaderValue,
) -> Result<HttpResponse, ProxyError> {
    if let Some(cache) = &state.cache {
        CacheStats::count(&cache.stats().bypass);
    }
    let body = body::prepare(req, framing, payload, &state.settings).await?;
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
        state,
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
    state: &ProxyState,
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
    if let Some(label) = state.upstream_label(&backend) {
        headers.insert(X_UPSTREAM, label);
    }
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
