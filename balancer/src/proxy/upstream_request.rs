//! Phase 4, the upstream request: the request head, in-flight accounting, passive health
//! that blames only backends, and at most one retry on another candidate.

use std::sync::Arc;
use std::time::Instant;

use super::ProxyError;
use super::headers::forward_request_headers;
use super::retry::Failure;
use super::state::Session;
use super::upstream_select::Candidates;
use crate::backends::{Backend, InFlight};
use crate::cache::CachedResponse;
use crate::upstream::{OutgoingBody, RequestHead, UpstreamError, UpstreamResponse};

/// A response head from a backend, with the backend still counted as busy.
pub struct Forwarded {
    pub response: UpstreamResponse,
    pub backend: Arc<Backend>,
    pub in_flight: InFlight,
}

const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Which conditionals the upstream request carries.
#[derive(Clone, Copy)]
pub enum Conditionals<'a> {
    /// The client's own: the answer is the client's alone.
    Client,
    /// None: a fetch for the cache wants a full copy.
    Strip,
    /// The stored entry's validators instead of the client's (RFC 9111 section 4.3.1).
    Revalidate(&'a CachedResponse),
}

/// Sends the request with `body` to the first candidate, retrying once where the policy
/// allows.
pub async fn send(
    session: &Session<'_>,
    mut body: OutgoingBody,
    candidates: Candidates<'_>,
    conditionals: Conditionals<'_>,
) -> Result<Forwarded, ProxyError> {
    let Session {
        req,
        state,
        client,
        request_id,
        ..
    } = session;
    let Candidates {
        first: mut backend,
        fallbacks: mut candidates,
    } = candidates;
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut head = RequestHead::new(req.method(), target);
    forward_request_headers(
        req,
        &state.trusted_proxies,
        &mut head,
        request_id,
        !matches!(conditionals, Conditionals::Client),
    );
    if let Conditionals::Revalidate(entry) = conditionals {
        for (name, value) in entry.validators() {
            head.header(&name, &[value.as_bytes()]);
        }
    }
    let idempotency_key = req.headers().contains_key(IDEMPOTENCY_KEY);
    let mut retried = false;
    loop {
        let in_flight = backend.begin_request();
        let replayable = body.replayable();
        let started = Instant::now();
        let mut interim = |status, headers: &_| session.forward_interim(status, headers);
        let result = client
            .send(backend.address().as_str(), &head, &mut body, &mut interim)
            .await;
        match result {
            Ok(response) => {
                if state.passive_5xx && response.status().is_server_error() {
                    state
                        .backends
                        .report(backend, backend.record_failure(state.passive_failures));
                    backend.latency().observe(started.elapsed());
                } else {
                    backend.record_success(started.elapsed());
                }
                return Ok(Forwarded {
                    response,
                    backend: backend.clone(),
                    in_flight,
                });
            }
            Err(UpstreamError::RequestBody(error)) => {
                // The client's upload failed: nothing to hold against the backend.
                log::debug!("request body from the client failed: {error}");
                return Err(error.into());
            }
            Err(error) => {
                let failure = Failure::classify(&error);
                log::debug!("upstream {} failed: {error}", backend.address());
                state
                    .backends
                    .report(backend, backend.record_failure(state.passive_failures));
                let retry =
                    !retried && failure.may_retry(req.method(), idempotency_key, replayable);
                match candidates.next() {
                    Some(next) if retry => {
                        backend = next;
                        retried = true;
                    }
                    _ => {
                        return Err(match failure {
                            Failure::Connect => ProxyError::UpstreamUnreachable,
                            Failure::Timeout => ProxyError::UpstreamTimeout,
                            Failure::Broken => ProxyError::BadGateway,
                        });
                    }
                }
            }
        }
    }
}
