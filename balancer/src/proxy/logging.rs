//! Phase 7, logging: the request's `X-Cache` outcome counted for the metrics, also when the
//! answer was an error (the decision was made before the upstream failed).

use super::state::Session;
use crate::header_names::CacheStatus;

pub fn log(session: &Session<'_>, status: CacheStatus) {
    if let Some(cache) = &session.state.cache {
        cache.stats().record(status);
    }
}
