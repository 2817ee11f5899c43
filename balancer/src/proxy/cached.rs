//! The cache-aware path for GET/HEAD: HIT from memory, coalesced MISS, EXPIRED refresh by one
//! request while others get STALE, STALE on upstream failure, BYPASS when the request opts out.

use std::sync::Arc;

use actix_web::http::header::HeaderValue;
use actix_web::{HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::forward::{self, Forwarded};
use super::headers::{PER_RESPONSE, end_to_end};
use super::{
    ProxyError, ProxyState, cache_status, content_length, forward_and_stream, stream_response,
};
use crate::cache::{
    CacheKey, CacheStats, CachedResponse, HttpCache, Leader, Lookup, NoOutcome, Outcome, Role,
    follow,
};
use crate::upstream::{OutgoingBody, UpstreamClient};

/// Re-lookups allowed when a leader vanished or a response turned out to vary.
const MAX_LOOKUPS: usize = 3;

pub async fn serve(
    req: &HttpRequest,
    cache: &Arc<HttpCache>,
    state: &ProxyState,
    client: &UpstreamClient,
    request_id: HeaderValue,
) -> Result<HttpResponse, ProxyError> {
    let stats = cache.stats();
    for _ in 0..MAX_LOOKUPS {
        match cache.lookup(req) {
            Lookup::Bypass => {
                CacheStats::count(&stats.bypass);
                return forward_and_stream(
                    req,
                    OutgoingBody::Empty,
                    state,
                    client,
                    request_id,
                    cache_status::BYPASS,
                )
                .await;
            }
            Lookup::Pass => break,
            Lookup::Fresh(entry) => {
                CacheStats::count(&stats.hits);
                return Ok(entry.respond(req, cache_status::HIT, request_id));
            }
            Lookup::Stale(key, entry) => {
                if entry.try_begin_revalidation() {
                    let fetch = Fetch {
                        req,
                        cache,
                        state,
                        client,
                        request_id,
                        key,
                        stale: Some(entry),
                    };
                    return fetch.run(None).await;
                }
                CacheStats::count(&stats.stale);
                return Ok(entry.respond(req, cache_status::STALE, request_id));
            }
            Lookup::Miss(key) => match cache.coalescer().join(&key) {
                Role::Leader(leader) => {
                    let fetch = Fetch {
                        req,
                        cache,
                        state,
                        client,
                        request_id,
                        key,
                        stale: None,
                    };
                    return fetch.run(Some(leader)).await;
                }
                Role::Follower(slot) => match follow(slot, cache.lock_timeout()).await {
                    Ok(Outcome::Stored(entry)) if entry.vary.is_empty() => {
                        CacheStats::count(&stats.hits);
                        return Ok(entry.respond(req, cache_status::HIT, request_id));
                    }
                    Ok(Outcome::Stale(entry)) => {
                        CacheStats::count(&stats.stale);
                        return Ok(entry.respond(req, cache_status::STALE, request_id));
                    }
                    // A varying response: look up this request's own variant.
                    Ok(Outcome::Stored(_)) | Err(NoOutcome::LeaderGone) => continue,
                    // Like nginx after proxy_cache_lock_timeout: go upstream, store nothing.
                    Ok(Outcome::NotShared) | Err(NoOutcome::TimedOut) => break,
                },
            },
        }
    }
    CacheStats::count(&stats.misses);
    forward_and_stream(
        req,
        OutgoingBody::Empty,
        state,
        client,
        request_id,
        cache_status::MISS,
    )
    .await
}

/// One upstream fetch made on behalf of the cache.
struct Fetch<'a> {
    req: &'a HttpRequest,
    cache: &'a HttpCache,
    state: &'a ProxyState,
    client: &'a UpstreamClient,
    request_id: HeaderValue,
    key: CacheKey,
    /// The expired entry being refreshed, served if the upstream fails.
    stale: Option<Arc<CachedResponse>>,
}

impl Fetch<'_> {
    async fn run(self, leader: Option<Leader>) -> Result<HttpResponse, ProxyError> {
        let finish = |outcome: Outcome| {
            if let Some(leader) = leader {
                leader.finish(outcome);
            }
        };
        let epoch = self.cache.epoch();
        let sent = forward::send(
            self.req,
            OutgoingBody::Empty,
            self.state,
            self.client,
            &self.request_id,
            true,
        )
        .await;
        let forwarded = match sent {
            Ok(forwarded) if !forwarded.response.status().is_server_error() => forwarded,
            failed => {
                if let Some(entry) = self.stale {
                    entry.end_revalidation();
                    finish(Outcome::Stale(entry.clone()));
                    CacheStats::count(&self.cache.stats().stale);
                    return Ok(entry.respond(self.req, cache_status::STALE, self.request_id));
                }
                finish(Outcome::NotShared);
                CacheStats::count(&self.cache.stats().misses);
                let forwarded = failed?;
                return Ok(stream_response(
                    self.req,
                    self.state,
                    forwarded,
                    cache_status::MISS,
                    self.request_id,
                    None,
                ));
            }
        };
        let label = if self.stale.is_some() {
            CacheStats::count(&self.cache.stats().expired);
            cache_status::EXPIRED
        } else {
            CacheStats::count(&self.cache.stats().misses);
            cache_status::MISS
        };
        let response = forwarded.response.headers();
        let ttl = self.cache.policy().ttl(
            self.req.method(),
            forwarded.response.status(),
            self.key.path(),
            response,
        );
        let Some(ttl) = ttl else {
            finish(Outcome::NotShared);
            self.cache.remember_uncacheable(self.key.clone());
            return Ok(stream_response(
                self.req,
                self.state,
                forwarded,
                label,
                self.request_id,
                None,
            ));
        };
        let vary = self.cache.policy().vary_names(response).unwrap_or_default();
        match buffer(forwarded, self.cache.max_entry_bytes()).await {
            Buffered::Complete { forwarded, body } => {
                let Forwarded {
                    response, backend, ..
                } = forwarded;
                let head_length = self
                    .key
                    .is_head()
                    .then(|| content_length(response.headers()).unwrap_or(0));
                let headers = end_to_end(response.headers(), &PER_RESPONSE)
                    .map(|(n, v)| (n.clone(), v.clone()))
                    .collect();
                let entry = Arc::new(CachedResponse::new(
                    response.status(),
                    headers,
                    self.state.upstream_label(&backend),
                    body,
                    head_length,
                    vary,
                    ttl,
                    self.cache.stale_window(),
                ));
                self.cache.store(&self.key, self.req, entry.clone(), epoch);
                finish(Outcome::Stored(entry.clone()));
                Ok(entry.respond(self.req, label, self.request_id))
            }
            Buffered::TooLarge { forwarded, read } => {
                finish(Outcome::NotShared);
                Ok(stream_response(
                    self.req,
                    self.state,
                    forwarded,
                    label,
                    self.request_id,
                    Some(read),
                ))
            }
            Buffered::Failed => {
                finish(Outcome::NotShared);
                if let Some(entry) = &self.stale {
                    entry.end_revalidation();
                }
                Err(ProxyError::BadGateway)
            }
        }
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
