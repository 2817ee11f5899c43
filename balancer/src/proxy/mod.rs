//! The public listener's handler, as a one-way pipeline after Pingora's `ProxyHttp` phases.
//! Each phase is a function in its own module that reads the request's [`Session`] and returns
//! a decision; this file only runs them, in order:
//!
//! 1. [`request_filter`]: refuse what the edge answers itself; route through the cache or not.
//! 2. [`cache_lookup`]: serve from memory, or plan a fetch (coalesced MISS, EXPIRED refresh)
//!    or a plain forward (MISS, BYPASS).
//! 3. [`upstream_select`]: the backends to try, best first (panic mode included).
//! 4. [`upstream_request`]: the client's body ([`body`]), forwarding, one retry ([`retry`]);
//!    interim (1xx) responses passed to the client's connection as they come
//!    ([`crate::interim`]), the final one held until they are written.
//! 5. [`cache_store`]: store what may be stored, stale on failure; purge after a write.
//! 6. [`response_filter`]: end-to-end headers, the streamed body, `X-Upstream`, `X-Cache`,
//!    `X-Request-Id`.
//! 7. [`logging`]: the `X-Cache` outcome counted.

mod body;
mod cache_lookup;
mod cache_store;
mod error;
mod expose_upstream;
mod headers;
mod http2_request;
mod logging;
mod private_paths;
mod request_filter;
mod response_filter;
mod retry;
mod settings;
mod state;
mod upstream_request;
mod upstream_select;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};

pub use crate::origin::{ListenerScheme, request_host};
pub use body::BodyToStreamEnd;
pub use error::ProxyError;
pub use expose_upstream::ExposeUpstream;
pub use headers::{RequestIds, TrustedProxies, is_hop_by_hop};
pub use http2_request::OverStreamBudget;
pub use private_paths::PrivatePaths;
pub use settings::{ProxyLayer, ProxySettings};
pub use state::{ProxyState, upstream_client};

use crate::cache::{CacheOutcome, Forward, HttpCache};
use crate::upstream::{OutgoingBody, UpstreamClient};
use body::RequestFraming;
use cache_lookup::{Fetch, Plan};
use cache_store::Stored;
use request_filter::Route;
use state::Session;
use upstream_request::{Conditionals, Forwarded};

/// The public handler for every request.
pub async fn handle(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<ProxyState>,
    client: web::Data<UpstreamClient>,
) -> Result<HttpResponse, ProxyError> {
    let route = request_filter::route(&req, &state)?;
    let session = Session::new(&req, &state, &client);
    let (outcome, answer) = match route {
        Route::Bypass(framing) => {
            let reason = match *req.method() {
                // A GET or HEAD with a body, or with the cache off.
                Method::GET | Method::HEAD => Forward::Request,
                _ => Forward::Method,
            };
            let outcome = CacheOutcome::forwarded(reason);
            (outcome, forward(&session, framing, payload, outcome).await)
        }
        Route::Cache(cache) => match cache_lookup::lookup(&session, cache).await {
            Plan::Serve { entry, outcome } => (
                outcome,
                Ok(response_filter::from_cache(&session, &entry, outcome)),
            ),
            Plan::ServeStale { entry, refresh } => {
                if let Some(fetch) = refresh {
                    refresh_in_background(&req, &state, &client, fetch);
                }
                let outcome = CacheOutcome::StaleHit;
                (
                    outcome,
                    Ok(response_filter::from_cache(&session, &entry, outcome)),
                )
            }
            Plan::Forward(outcome) => (
                outcome,
                forward(&session, RequestFraming::None, payload, outcome).await,
            ),
            Plan::Fetch(fetch) => fetch_for_cache(&session, cache, fetch).await,
        },
    };
    logging::log(&session, outcome);
    session.interim_written().await;
    answer
}

/// Phases 3 and 4: select the backends, send to them.
async fn upstream(
    session: &Session<'_>,
    body: OutgoingBody,
    conditionals: Conditionals<'_>,
) -> Result<Forwarded, ProxyError> {
    let snapshot = session.state.backends.hold();
    let candidates = upstream_select::select(session, &snapshot)?;
    upstream_request::send(session, body, candidates, conditionals).await
}

/// `stale-while-revalidate` (RFC 5861 section 3): the refresh runs on this worker after the
/// stale answer went out; its result only updates the cache.
fn refresh_in_background(
    req: &HttpRequest,
    state: &web::Data<ProxyState>,
    client: &web::Data<UpstreamClient>,
    fetch: Fetch,
) {
    let (req, state, client) = (req.clone(), state.clone(), client.clone());
    actix_web::rt::spawn(async move {
        let Some(cache) = state.cache.as_deref() else {
            return;
        };
        let session = Session::in_background(&req, &state, &client);
        let _ = fetch_for_cache(&session, cache, fetch).await;
    });
}

/// A request the cache does not store: sent with its body, streamed back.
async fn forward(
    session: &Session<'_>,
    framing: RequestFraming,
    payload: web::Payload,
    outcome: CacheOutcome,
) -> Result<HttpResponse, ProxyError> {
    let settings = &session.state.settings;
    let body = body::prepare(session.req, framing, payload, settings).await?;
    let forwarded = upstream(session, body, Conditionals::Client).await?;
    cache_store::purge_after_write(session, &forwarded);
    Ok(response_filter::from_upstream(
        session, forwarded, outcome, None,
    ))
}

/// A fetch made for the cache: stored when it may be, answered stale when it fails.
async fn fetch_for_cache(
    session: &Session<'_>,
    cache: &HttpCache,
    fetch: Fetch,
) -> (CacheOutcome, Result<HttpResponse, ProxyError>) {
    let conditionals = match &fetch.stale {
        Some(entry) => Conditionals::Revalidate(entry),
        None => Conditionals::Strip,
    };
    let sent = upstream(session, OutgoingBody::Empty, conditionals).await;
    match cache_store::store(session, cache, fetch, sent).await {
        Stored::Entry { entry, outcome } => (
            outcome,
            Ok(response_filter::from_cache(session, &entry, outcome)),
        ),
        Stored::Stream {
            forwarded,
            read,
            outcome,
        } => (
            outcome,
            Ok(response_filter::from_upstream(
                session, forwarded, outcome, read,
            )),
        ),
        Stored::Failed { error, outcome } => (outcome, Err(error)),
    }
}
