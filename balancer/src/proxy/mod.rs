//! The public listener's handler, as a one-way pipeline after Pingora's `ProxyHttp` phases.
//! Each phase is a function in its own module that reads the request's [`Session`] and returns
//! a decision; this file only runs them, in order:
//!
//! 1. [`request_filter`]: refuse what the edge answers itself; route through the cache or not.
//! 2. [`cache_lookup`]: serve from memory, or plan a fetch (coalesced MISS, EXPIRED refresh)
//!    or a plain forward (MISS, BYPASS).
//! 3. [`upstream_select`]: the backends to try, best first (panic mode included).
//! 4. [`upstream_request`]: the client's body ([`body`]), forwarding, one retry ([`retry`]).
//! 5. [`cache_store`]: store what may be stored, stale on failure; purge after a write.
//! 6. [`response_filter`]: end-to-end headers, the streamed body, `X-Upstream`, `X-Cache`,
//!    `X-Request-Id`.
//! 7. [`logging`]: the `X-Cache` outcome counted.

mod body;
mod cache_lookup;
mod cache_store;
mod error;
mod headers;
mod logging;
mod private_paths;
mod request_filter;
mod response_filter;
mod retry;
mod state;
mod upstream_request;
mod upstream_select;

use actix_web::{HttpRequest, HttpResponse, web};

pub use error::ProxyError;
pub use headers::{ListenerScheme, RequestIds, TrustedProxies, request_host};
pub use private_paths::PrivatePaths;
pub use state::{ProxyState, upstream_client};

use crate::cache::HttpCache;
use crate::header_names::CacheStatus;
use crate::upstream::{OutgoingBody, UpstreamClient};
use body::RequestFraming;
use cache_lookup::{Fetch, Plan};
use cache_store::Stored;
use request_filter::Route;
use state::Session;
use upstream_request::Forwarded;

/// The public handler for every request.
pub async fn handle(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<ProxyState>,
    client: web::Data<UpstreamClient>,
) -> Result<HttpResponse, ProxyError> {
    let route = request_filter::route(&req, &state)?;
    let session = Session::new(&req, &state, &client);
    let (status, answer) = match route {
        Route::Bypass(framing) => {
            let status = CacheStatus::Bypass;
            (status, forward(&session, framing, payload, status).await)
        }
        Route::Cache(cache) => match cache_lookup::lookup(&session, cache).await {
            Plan::Serve { entry, status } => (
                status,
                Ok(response_filter::from_cache(&session, &entry, status)),
            ),
            Plan::Forward(status) => (
                status,
                forward(&session, RequestFraming::None, payload, status).await,
            ),
            Plan::Fetch(fetch) => fetch_for_cache(&session, cache, fetch).await,
        },
    };
    logging::log(&session, status);
    answer
}

/// Phases 3 and 4: select the backends, send to them.
async fn upstream(
    session: &Session<'_>,
    body: OutgoingBody,
    strip_conditionals: bool,
) -> Result<Forwarded, ProxyError> {
    let snapshot = session.state.backends.hold();
    let candidates = upstream_select::select(session, &snapshot)?;
    upstream_request::send(session, body, candidates, strip_conditionals).await
}

/// A request the cache does not store: sent with its body, streamed back.
async fn forward(
    session: &Session<'_>,
    framing: RequestFraming,
    payload: web::Payload,
    status: CacheStatus,
) -> Result<HttpResponse, ProxyError> {
    let settings = &session.state.settings;
    let body = body::prepare(session.req, framing, payload, settings).await?;
    let forwarded = upstream(session, body, false).await?;
    cache_store::purge_after_write(session, &forwarded);
    Ok(response_filter::from_upstream(
        session, forwarded, status, None,
    ))
}

/// A fetch made for the cache: stored when it may be, answered stale when it fails.
async fn fetch_for_cache(
    session: &Session<'_>,
    cache: &HttpCache,
    fetch: Fetch,
) -> (CacheStatus, Result<HttpResponse, ProxyError>) {
    let sent = upstream(session, OutgoingBody::Empty, true).await;
    match cache_store::store(session, cache, fetch, sent).await {
        Stored::Entry { entry, status } => (
            status,
            Ok(response_filter::from_cache(session, &entry, status)),
        ),
        Stored::Stream {
            forwarded,
            read,
            status,
        } => (
            status,
            Ok(response_filter::from_upstream(
                session, forwarded, status, read,
            )),
        ),
        Stored::Failed { error, status } => (status, Err(error)),
    }
}
