//! Sending a request upstream: selection (first choice, then fallbacks), in-flight accounting,
//! passive health, and at most one retry on another healthy backend.

use std::sync::Arc;
use std::time::Instant;

use actix_web::HttpRequest;
use actix_web::body::{MessageBody, SizedStream};
use actix_web::dev::{Decompress, Payload};
use actix_web::http::header::HeaderValue;
use awc::error::SendRequestError;

use super::body::RequestBody;
use super::headers::forward_request_headers;
use super::retry::Failure;
use super::{ProxyError, ProxyState};
use crate::backends::{Backend, InFlight};
use crate::selection::{HashKey, hash_bytes};

/// What `awc` hands back for a proxied request.
pub type UpstreamResponse = awc::ClientResponse<Decompress<Payload>>;

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
    body: RequestBody,
    state: &ProxyState,
    client: &awc::Client,
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
    let mut body = Some(body);
    let mut retried = false;
    loop {
        let in_flight = backend.begin_request();
        let replayable = body.as_ref().is_some_and(RequestBody::replayable);
        let started = Instant::now();
        let result = attempt(
            req,
            backend,
            &mut body,
            client,
            request_id,
            strip_conditionals,
        )
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

async fn attempt(
    req: &HttpRequest,
    backend: &Backend,
    body: &mut Option<RequestBody>,
    client: &awc::Client,
    request_id: &HeaderValue,
    strip_conditionals: bool,
) -> Result<UpstreamResponse, SendRequestError> {
    let uri = backend.address().uri_for(req.uri().path_and_query());
    let mut request = client.request(req.method().clone(), uri).no_decompress();
    forward_request_headers(req, request.headers_mut(), request_id, strip_conditionals);
    match body.take() {
        None | Some(RequestBody::Empty) => {
            *body = Some(RequestBody::Empty);
            // `None` rather than `()`: no `content-length: 0` for the upstream to parse.
            request.send_body(actix_web::body::None::new()).await
        }
        Some(RequestBody::Buffered(bytes)) => {
            *body = Some(RequestBody::Buffered(bytes.clone()));
            request.send_body(bytes).await
        }
        Some(RequestBody::Streaming { body, length }) => match length {
            Some(length) => {
                request
                    .send_body(SizedStream::new(length, body).boxed())
                    .await
            }
            None => request.send_stream(body).await,
        },
    }
}
