//! Phase 5, cache store and purge: what a fetch made for the cache leaves in it (the entry, a
//! stale answer when the upstream failed, or a note that the key is uncacheable), and what a
//! successful write purges.

use std::sync::Arc;

use actix_web::http::header;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::ProxyError;
use super::body::content_length;
use super::cache_lookup::Fetch;
use super::headers::{PER_RESPONSE, end_to_end};
use super::state::Session;
use super::upstream_request::Forwarded;
use crate::cache::{
    CacheKey, CacheOutcome, CachedResponse, Forward, HttpCache, Outcome, invalidated_paths,
};

/// What became of a fetch made for the cache.
pub enum Stored {
    /// Stored (or, the upstream having failed, the stale entry kept): answer from it.
    Entry {
        entry: Arc<CachedResponse>,
        outcome: CacheOutcome,
    },
    /// Not stored: stream the upstream's answer, after `read` (bytes taken while buffering).
    Stream {
        forwarded: Forwarded,
        read: Option<Bytes>,
        outcome: CacheOutcome,
    },
    Failed {
        error: ProxyError,
        outcome: CacheOutcome,
    },
}

/// Stores the upstream's answer to `fetch` when the policy allows, and tells the requests
/// waiting on it.
pub async fn store(
    session: &Session<'_>,
    cache: &HttpCache,
    fetch: Fetch,
    sent: Result<Forwarded, ProxyError>,
) -> Stored {
    let Fetch {
        key,
        leader,
        stale,
        epoch,
    } = fetch;
    let finish = |outcome: Outcome| {
        if let Some(leader) = leader {
            leader.finish(outcome);
        }
    };
    let forwarded = match sent {
        Ok(forwarded) if !forwarded.response.status().is_server_error() => forwarded,
        failed => {
            if let Some(entry) = stale {
                entry.end_revalidation();
                finish(Outcome::Stale(entry.clone()));
                return Stored::Entry {
                    entry,
                    outcome: CacheOutcome::StaleHit,
                };
            }
            finish(Outcome::NotShared);
            let outcome = CacheOutcome::forwarded(miss_reason(&key));
            return match failed {
                Ok(forwarded) => Stored::Stream {
                    forwarded,
                    read: None,
                    outcome,
                },
                Err(error) => Stored::Failed { error, outcome },
            };
        }
    };
    let reason = if stale.is_some() {
        Forward::Stale
    } else {
        miss_reason(&key)
    };
    let unstored = CacheOutcome::forwarded(reason);
    let req = session.req;
    let response = forwarded.response.headers();
    let policy = cache.policy();
    let ttl = policy.ttl(
        req.method(),
        forwarded.response.status(),
        key.path(),
        response,
    );
    let Some(ttl) = ttl else {
        finish(Outcome::NotShared);
        cache.remember_uncacheable(key);
        return Stored::Stream {
            forwarded,
            read: None,
            outcome: unstored,
        };
    };
    let vary = policy.vary_names(response).unwrap_or_default();
    match buffer(forwarded, cache.max_entry_bytes()).await {
        Buffered::Complete { forwarded, body } => {
            let Forwarded {
                response, backend, ..
            } = forwarded;
            let head_length = key
                .is_head()
                .then(|| content_length(response.headers()).unwrap_or(0));
            let headers = end_to_end(response.headers(), &PER_RESPONSE)
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect();
            let entry = Arc::new(CachedResponse::new(
                response.status(),
                headers,
                session.state.upstream_label(&backend),
                body,
                head_length,
                vary,
                ttl,
                cache.stale_window(),
            ));
            let stored = cache.store(&key, req, entry.clone(), epoch);
            finish(Outcome::Stored(entry.clone()));
            Stored::Entry {
                entry,
                outcome: CacheOutcome::Forwarded { reason, stored },
            }
        }
        Buffered::TooLarge { forwarded, read } => {
            finish(Outcome::NotShared);
            Stored::Stream {
                forwarded,
                read: Some(read),
                outcome: unstored,
            }
        }
        Buffered::Failed => {
            finish(Outcome::NotShared);
            if let Some(entry) = &stale {
                entry.end_revalidation();
            }
            Stored::Failed {
                error: ProxyError::BadGateway,
                outcome: unstored,
            }
        }
    }
}

/// Why a fetch for `key` without a stale entry went upstream.
fn miss_reason(key: &CacheKey) -> Forward {
    if key.is_varied() {
        Forward::VaryMiss
    } else {
        Forward::UriMiss
    }
}

/// A non-error answer to an unsafe request (any method but GET, HEAD, OPTIONS, TRACE) purges
/// what it made stale: the target and its same-origin `Location` / `Content-Location`
/// (RFC 9111 section 4.4), and the configured purge rules' prefixes.
pub fn purge_after_write(session: &Session<'_>, forwarded: &Forwarded) {
    let req = session.req;
    let status = forwarded.response.status();
    if let Some(cache) = &session.state.cache
        && !req.method().is_safe()
        && (status.is_success() || status.is_redirection())
    {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let paths = invalidated_paths(host, target, forwarded.response.headers());
        cache.invalidate_uris(host, &paths);
        cache.purge_after_write(req.method(), req.path());
    }
}

enum Buffered {
    Complete {
        forwarded: Forwarded,
        body: Bytes,
    },
    /// Over the entry limit: what was read so far; the rest still streams.
    TooLarge {
        forwarded: Forwarded,
        read: Bytes,
    },
    Failed,
}

/// Reads the upstream body into memory up to `limit` bytes.
async fn buffer(mut forwarded: Forwarded, limit: usize) -> Buffered {
    let expected = content_length(forwarded.response.headers()).unwrap_or(0);
    let mut body = BytesMut::with_capacity(expected.min(limit as u64) as usize);
    while let Some(chunk) = forwarded.response.next().await {
        let Ok(chunk) = chunk else {
            return Buffered::Failed;
        };
        body.extend_from_slice(&chunk);
        if body.len() > limit {
            return Buffered::TooLarge {
                forwarded,
                read: body.freeze(),
            };
        }
    }
    Buffered::Complete {
        forwarded,
        body: body.freeze(),
    }
}
