//! Sending a request upstream: selection (first choice, then fallbacks), in-flight accounting,
//! passive health, and at most one retry on another healthy backend.

use std::sync::Arc;
use std::time::Instant;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderValue;

use super::headers::forward_request_headers;
use super::retry::Failure;
use super::{ProxyError, ProxyState};
use crate::backends::{Backend, InFlight};
use crate::selection::{HashKey, hash_bytes};
use crate::upstream::{OutgoingBody, RequestHead, UpstreamClient, UpstreamResponse};

/// A response head from a backend, with the backend still counted as busy.
pub struct Forwarded {
    pub response: UpstreamResponse,
    pub backend: Arc<Backend>,
    pub in_flight: InFlight,
}

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
        None => match req.peer_addr().map(|a| a.ip()) {
            Some(std::net::IpAddr::V4(ip)) => hash_bytes(&ip.octets()),
            Some(std::net::IpAddr::V6(ip)) => hash_bytes(&ip.octets()),
            None => 0,
        },
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
    let mut candidates = snapshot
        .selector
        .iter(selection_key(req, state))
        .filter(|b| b.is_available());
    let mut backend = candidates.next().ok_or(ProxyError::NoHealthyBackend {
        retry_after: state.retry_after,
    })?;
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut head = RequestHead::new(req.method(), target);
    forward_request_headers(req, &mut head, request_id, strip_conditionals);
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
                if response.status().is_server_error() {
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
            Err(error) => {
                let failure = Failure::classify(&error);
                log::debug!("upstream {} failed: {error}", backend.address());
                state
                    .backends
                    .report(backend, backend.record_failure(state.passive_failures));
                let retry = !retried && failure.may_retry(req.method(), replayable);
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
