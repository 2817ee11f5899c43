//! Phase 5, cache store and purge: what a fetch made for the cache leaves in it (the entry, a
//! stale answer when the upstream failed, or a note that the key is uncacheable), and what a
//! successful write purges.

use std::sync::Arc;

use actix_web::http::StatusCode;
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
use crate::origin::request_host;

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
    let reason = if stale.is_some() {
        Forward::Stale
    } else {
        miss_reason(&key)
    };
    let unstored = CacheOutcome::forwarded(reason);
    let upstream_failed = !matches!(&sent, Ok(f) if !f.response.status().is_server_error());
    if let Some(entry) = stale.as_ref().filter(|_| upstream_failed) {
        entry.end_revalidation();
        if entry
            .expiry()
            .serves_on_error(entry.age(), cache.stale_window())
        {
            finish(Outcome::Stale(entry.clone()));
            return Stored::Entry {
                entry: entry.clone(),
                outcome: CacheOutcome::StaleHit,
            };
        }
        if entry.expiry().forbids_stale && sent.is_err() {
            finish(Outcome::NotShared);
            return Stored::Failed {
                error: ProxyError::RevalidationFailed,
                outcome: unstored,
            };
        }
    }
    let forwarded = match sent {
        Ok(forwarded) => forwarded,
        Err(error) => {
            finish(Outcome::NotShared);
            return Stored::Failed {
                error,
                outcome: unstored,
            };
        }
    };
    let req = session.req;
    let code = forwarded.response.status();
    if let Some(entry) = stale.as_ref().filter(|_| code == StatusCode::NOT_MODIFIED) {
        let (entry, stored) = refresh(session, cache, &key, entry, &forwarded, epoch);
        finish(Outcome::Stored(entry.clone()));
        return Stored::Entry {
            entry,
            outcome: CacheOutcome::Forwarded { reason, stored },
        };
    }
    let response = forwarded.response.headers();
    let policy = cache.policy();
    let Some(expiry) = policy.expiry(req.method(), code, key.path(), response) else {
        finish(Outcome::NotShared);
        // An error answer says nothing lasting about the resource.
        if !code.is_server_error() {
            cache.remember_uncacheable(key);
        }
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
                expiry,
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

/// The stored entry refreshed by a 304 (RFC 9111 section 4.3.4): its headers merged with the
/// 304's, its freshness computed again from them; with whether it is stored again.
fn refresh(
    session: &Session<'_>,
    cache: &HttpCache,
    key: &CacheKey,
    entry: &CachedResponse,
    forwarded: &Forwarded,
    epoch: u64,
) -> (Arc<CachedResponse>, bool) {
    let mut headers = entry.merged_headers(end_to_end(forwarded.response.headers(), &PER_RESPONSE));
    // The 304's own Age and Date say how old the refreshed response is.
    let own = forwarded.response.headers();
    for name in [header::AGE, header::DATE] {
        if let Some(value) = own.get(&name) {
            headers.insert(name, value.clone());
        }
    }
    let req = session.req;
    let expiry = cache
        .policy()
        .expiry(req.method(), entry.status, key.path(), &headers);
    headers.remove(header::AGE);
    match expiry {
        Some(expiry) => {
            let refreshed = Arc::new(entry.refreshed(&headers, expiry, cache.stale_window()));
            let stored = cache.store(key, req, refreshed.clone(), epoch);
            (refreshed, stored)
        }
        // No longer storable: answer this request from it, keep nothing.
        None => {
            cache.remember_uncacheable(key.clone());
            let expiry = *entry.expiry();
            (
                Arc::new(entry.refreshed(&headers, expiry, cache.stale_window())),
                false,
            )
        }
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
        let host = request_host(req)
            .and_then(|h| std::str::from_utf8(h).ok())
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
