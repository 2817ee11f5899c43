//! Phase 7, logging: the request's `X-Cache` outcome counted for the metrics, also when the
//! answer was an error (the decision was made before the upstream failed).

use super::state::Session;
use crate::cache::CacheOutcome;

pub fn log(session: &Session<'_>, outcome: CacheOutcome) {
    if let Some(cache) = &session.state.cache {
        cache.stats().record(outcome.x_cache());
    }
}
