//! Phase 2, cache lookup: HIT from memory, a coalesced MISS led by one request, an EXPIRED
//! refresh by one request while the others get STALE (or a background refresh within
//! `stale-while-revalidate`), a revalidation by every request for entries that may never be
//! served stale, BYPASS when the request opts out.

use std::sync::Arc;

use super::state::Session;
use crate::cache::{
    CacheKey, CacheOutcome, CachedResponse, Forward, HttpCache, Leader, Lookup, NoOutcome, Outcome,
    Role, follow,
};

/// Re-lookups allowed when a leader vanished or a response turned out to vary.
const MAX_LOOKUPS: usize = 3;

/// What the cache lookup decided.
pub enum Plan {
    /// Answer from memory.
    Serve {
        entry: Arc<CachedResponse>,
        outcome: CacheOutcome,
    },
    /// Answer stale from memory (`stale-while-revalidate`); `refresh`, when this request
    /// started one, runs in the background.
    ServeStale {
        entry: Arc<CachedResponse>,
        refresh: Option<Fetch>,
    },
    /// Go upstream for this request alone; store nothing.
    Forward(CacheOutcome),
    /// Go upstream on the cache's behalf and store what may be stored.
    Fetch(Fetch),
}

/// An upstream fetch made for the cache.
pub struct Fetch {
    pub key: CacheKey,
    /// Set when other requests wait for this one's outcome.
    pub leader: Option<Leader>,
    /// The expired entry being revalidated (its validators are sent), served if the upstream
    /// fails and its directives allow.
    pub stale: Option<Arc<CachedResponse>>,
    /// The purge epoch the fetch started in: a purge since then forbids storing its result.
    pub epoch: u64,
}

pub async fn lookup(session: &Session<'_>, cache: &HttpCache) -> Plan {
    for _ in 0..MAX_LOOKUPS {
        match cache.lookup(session.req) {
            Lookup::Bypass => return Plan::Forward(CacheOutcome::forwarded(Forward::Request)),
            Lookup::Uncacheable => break,
            Lookup::Fresh(entry) => {
                return Plan::Serve {
                    entry,
                    outcome: CacheOutcome::Hit,
                };
            }
            Lookup::Stale(key, entry) => return stale(cache, key, entry),
            Lookup::Miss(key) => match cache.coalescer().join(&key) {
                Role::Leader(leader) => {
                    return Plan::Fetch(Fetch {
                        key,
                        leader: Some(leader),
                        stale: None,
                        epoch: cache.epoch(),
                    });
                }
                Role::Follower(slot) => match follow(slot, cache.lock_timeout()).await {
                    Ok(Outcome::Stored(entry)) if entry.vary.is_empty() => {
                        return Plan::Serve {
                            entry,
                            outcome: CacheOutcome::Collapsed,
                        };
                    }
                    Ok(Outcome::Stale(entry)) => {
                        return Plan::Serve {
                            entry,
                            outcome: CacheOutcome::StaleHit,
                        };
                    }
                    // A varying response: look up this request's own variant.
                    Ok(Outcome::Stored(_)) | Err(NoOutcome::LeaderGone) => continue,
                    // Like nginx after proxy_cache_lock_timeout: go upstream, store nothing.
                    Ok(Outcome::NotShared) | Err(NoOutcome::TimedOut) => break,
                },
            },
        }
    }
    Plan::Forward(CacheOutcome::forwarded(Forward::UriMiss))
}

/// A stored entry past its lifetime.
fn stale(cache: &HttpCache, key: CacheKey, entry: Arc<CachedResponse>) -> Plan {
    let age = entry.age();
    let expiry = entry.expiry();
    let revalidate = |key, entry| Fetch {
        key,
        leader: None,
        stale: Some(entry),
        epoch: cache.epoch(),
    };
    if expiry.serves_while_revalidating(age) {
        let refresh = entry
            .try_begin_revalidation()
            .then(|| revalidate(key, entry.clone()));
        return Plan::ServeStale { entry, refresh };
    }
    let served_stale_meanwhile = expiry.serves_stale_within(age, cache.stale_window());
    if !served_stale_meanwhile || entry.try_begin_revalidation() {
        return Plan::Fetch(revalidate(key, entry));
    }
    Plan::Serve {
        entry,
        outcome: CacheOutcome::StaleHit,
    }
}
