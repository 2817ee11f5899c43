//! Phase 3, upstream selection: the backends to try for a request, best first: the available
//! ones, or, when passive ejections leave none, every backend up by active checks (panic
//! mode). Whether a failed attempt moves on to the next is the [`super::retry`] policy.

use std::net::IpAddr;
use std::sync::Arc;

use super::ProxyError;
use super::headers::client_ip;
use super::state::Session;
use crate::backends::{Backend, Snapshot};
use crate::selection::{HashKey, hash_bytes};

/// The backends a request may go to.
pub struct Candidates<'a> {
    pub first: &'a Arc<Backend>,
    /// Where a retry goes, in order.
    pub fallbacks: Box<dyn Iterator<Item = &'a Arc<Backend>> + 'a>,
}

/// Picks from `snapshot`; no candidate at all is `503` with `Retry-After`.
pub fn select<'a>(
    session: &Session<'_>,
    snapshot: &'a Snapshot,
) -> Result<Candidates<'a>, ProxyError> {
    let mut candidates = candidates(snapshot, selection_key(session), session);
    match candidates.next() {
        Some(first) => Ok(Candidates {
            first,
            fallbacks: candidates,
        }),
        None => Err(ProxyError::NoHealthyBackend {
            retry_after: session.state.retry_after,
        }),
    }
}

fn selection_key(session: &Session<'_>) -> u64 {
    let state = session.state;
    if !state.uses_key {
        return 0;
    }
    let header = match &state.hash_key {
        HashKey::Header(name) => session.req.headers().get(name),
        HashKey::ClientIp => None,
    };
    match header {
        Some(value) => hash_bytes(value.as_bytes()),
        None => match client_ip(session.req, &state.trusted_proxies) {
            Some(IpAddr::V4(ip)) => hash_bytes(&ip.octets()),
            Some(IpAddr::V6(ip)) => hash_bytes(&ip.octets()),
            None => 0,
        },
    }
}

fn candidates<'a>(
    snapshot: &'a Snapshot,
    key: u64,
    session: &Session<'_>,
) -> Box<dyn Iterator<Item = &'a Arc<Backend>> + 'a> {
    let mut available = snapshot
        .selector
        .iter(key)
        .filter(|b| b.is_available())
        .peekable();
    let panic = available.peek().is_none();
    session.state.backends.note_panic(panic);
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
