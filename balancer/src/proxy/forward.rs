//! Sending a request upstream: selection (first choice, then fallbacks; every backend up by
//! active checks when passive signals alone would leave none), in-flight accounting, passive
//! health that blames only backends, and at most one retry on another backend.

use std::sync::Arc;
use std::time::Instant;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderValue;

use super::headers::{client_ip, forward_request_headers};
use super::retry::Failure;
use super::{ProxyError, ProxyState};
use crate::backends::{Backend, InFlight, Snapshot};
use crate::selection::{HashKey, hash_bytes};
use crate::upstream::{OutgoingBody, RequestHead, UpstreamClient, UpstreamError, UpstreamResponse};

/// A response head from a backend, with the backend still counted as busy.
pub struct Forwarded {
    pub response: UpstreamResponse,
    pub backend: Arc<Backend>,
    pub in_flight: InFlight,
}

const IDEMPOTENCY_KEY: &str = "idempotency-key";

fn selection_key(req: &HttpRequest, state: &ProxyState) -> u64 {
    if !state.uses_key {
        return 0;
    }
    let header = match &state.hash_key {
        HashKey::Header(name) => req.headers().get(name),
        HashKey::ClientIp => None,
    };
    match header {
        Some(value) => hash_bytes(value.as_bytes()),
        None => match client_ip(req, &state.trusted_proxies) {
            Some(std::net::IpAddr::V4(ip)) => hash_bytes(&ip.octets()),
            Some(std::net::IpAddr::V6(ip)) => hash_bytes(&ip.octets()),
            None => 0,
        },
    }
}

/// Backends to try for `key`, best first: the available ones, or, when passive ejections
/// leave none, every backend up by active checks (panic mode).
fn candidates<'a>(
    snapshot: &'a Snapshot,
    key: u64,
    state: &ProxyState,
) -> Box<dyn Iterator<Item = &'a Arc<Backend>> + 'a> {
    let mut available = snapshot
        .selector
        .iter(key)
        .filter(|b| b.is_available())
        .peekable();
    let panic = available.peek().is_none();
    state.backends.note_panic(panic);
    if panic {
        Box::new(
            snapshot
                .selector
                .iter(key)
                .filter(|b| b.is_available_in_panic()),
        )
    } else {
        Box::new(available)
    }
}

/// Sends `req` with `body` to the selected backend, retrying once where the policy allows.
pub async fn send(
    req: &HttpRequest,
    mut body: OutgoingBody,
    state: &ProxyState,
    client: &UpstreamClient,
    request_id: &HeaderValue,
    strip_conditionals: bool,
) -> Result<Forwarded, ProxyError> {
    let snapshot = state.backends.snapshot_full();
    let mut candidates = candidates(&snapshot, selection_key(req, state), state);
    let mut backend = candidates.next().ok_or(ProxyError::NoHealthyBackend {
        retry_after: state.retry_after,
    })?;
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut head = RequestHead::new(req.method(), target);
    forward_request_headers(
        req,
        &state.trusted_proxies,
        &mut head,
        request_id,
        strip_conditionals,
    );
    let idempotency_key = req.headers().contains_key(IDEMPOTENCY_KEY);
    let mut retried = false;
    loop {
        let in_flight = backend.begin_request();
        let replayable = body.replayable();
        let started = Instant::now();
        let result = client
            .send(backend.address().as_str(), &head, &mut body)
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
