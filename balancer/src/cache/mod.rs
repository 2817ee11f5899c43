//! The HTTP cache: a moka store bounded in bytes, keyed by [`CacheKey`], with `Cache-Control`
//! policy, coalesced misses, stale serving and purge-on-write.

mod coalesce;
mod date;
mod directives;
mod entry;
mod freshness;
mod invalidation_log;
mod key;
mod policy;
mod purge;
mod range;
mod rules;
mod settings;
mod status;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use actix_web::http::Method;
use actix_web::http::header::HeaderName;

pub use coalesce::{Coalescer, Leader, NoOutcome, Outcome, Role, follow};
pub use entry::{CachedResponse, Freshness, head_body};
pub use freshness::Expiry;
use invalidation_log::InvalidationLog;
pub use key::CacheKey;
pub use policy::CachePolicy;
use purge::PurgeRules;
pub use purge::invalidated_paths;
pub use rules::{PurgeRule, PurgeRuleFile, TtlRuleFile, purge_rules, ttl_rules};
pub use settings::{CacheLayer, CacheSettings};
pub use status::{CACHE_STATUS, CacheOutcome, Forward};

use crate::header_names::CacheStatus;
use crate::origin::ListenerScheme;

/// What the cache knows about a request.
pub enum Lookup {
    /// The request must go to the upstream and its response must not be stored.
    Bypass,
    Fresh(Arc<CachedResponse>),
    /// Past its TTL but still retained for stale serving.
    Stale(CacheKey, Arc<CachedResponse>),
    Miss(CacheKey),
    /// Recently answered with an uncacheable response: forward as a miss without coalescing
    /// (Varnish's hit-for-pass), so uncacheable URLs never queue behind one another.
    Uncacheable,
}

/// How long an uncacheable answer lets requests for the same key skip coalescing.
const UNCACHEABLE_TTL: Duration = Duration::from_secs(5);
/// Bound on remembered uncacheable keys.
const UNCACHEABLE_CAPACITY: u64 = 100_000;
/// Bound on URIs whose `Vary` names are remembered: clients choose URIs, so an unbounded index
/// would let them grow the balancer's memory at will. An evicted name list is learnt again
/// from the next response (its variants miss once meanwhile).
const VARY_INDEX_CAPACITY: u64 = 100_000;

/// `X-Cache` outcomes, counted for metrics.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub stale: AtomicU64,
    pub expired: AtomicU64,
    pub bypass: AtomicU64,
}

impl CacheStats {
    /// Counts one answer labelled `status`.
    pub fn record(&self, status: CacheStatus) {
        let counter = match status {
            CacheStatus::Hit => &self.hits,
            CacheStatus::Miss => &self.misses,
            CacheStatus::Stale => &self.stale,
            CacheStatus::Expired => &self.expired,
            CacheStatus::Bypass => &self.bypass,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A stored response and the epoch its fetch started in, which later purges compare against.
#[derive(Clone)]
struct Stored {
    response: Arc<CachedResponse>,
    fetched_at: u64,
}

struct RetentionExpiry;

impl moka::Expiry<CacheKey, Stored> for RetentionExpiry {
    fn expire_after_create(&self, _: &CacheKey, value: &Stored, _: Instant) -> Option<Duration> {
        Some(value.response.retention())
    }

    fn expire_after_update(
        &self,
        _: &CacheKey,
        value: &Stored,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.response.retention())
    }
}

pub struct HttpCache {
    store: moka::sync::Cache<CacheKey, Stored>,
    /// Keys recently answered with an uncacheable response.
    uncacheable: moka::sync::Cache<CacheKey, ()>,
    /// `Vary` header names learnt per primary key; only consulted once any response varied.
    vary_index: moka::sync::Cache<CacheKey, Arc<[HeaderName]>>,
    any_vary: AtomicBool,
    coalescer: Arc<Coalescer>,
    policy: CachePolicy,
    purge_rules: PurgeRules,
    /// Bumped by every purge and invalidation: a fetch remembers it when it starts.
    epoch: AtomicU64,
    /// The epoch of the last admin purge: no fetch started before it may store.
    purged_at: AtomicU64,
    /// When each URI (host, path and query) was last invalidated by an unsafe request: no
    /// fetch of it started before then may store.
    invalidated: InvalidationLog,
    stale: Duration,
    lock_timeout: Duration,
    max_entry_bytes: usize,
    stats: CacheStats,
}

impl HttpCache {
    /// `None` when the configured size is 0 (cache disabled).
    pub fn new(settings: &CacheSettings) -> Option<Self> {
        if settings.max_bytes == 0 {
            return None;
        }
        let store = moka::sync::Cache::builder()
            .max_capacity(settings.max_bytes)
            .weigher(|key: &CacheKey, value: &Stored| {
                u32::try_from(key.weight() + value.response.weight()).unwrap_or(u32::MAX)
            })
            .expire_after(RetentionExpiry)
            .support_invalidation_closures()
            .build();
        let uncacheable = moka::sync::Cache::builder()
            .max_capacity(UNCACHEABLE_CAPACITY)
            .time_to_live(UNCACHEABLE_TTL)
            .build();
        Some(Self {
            store,
            uncacheable,
            vary_index: moka::sync::Cache::builder()
                .max_capacity(VARY_INDEX_CAPACITY)
                .support_invalidation_closures()
                .build(),
            any_vary: AtomicBool::new(false),
            coalescer: Arc::default(),
            policy: CachePolicy::new(settings),
            purge_rules: PurgeRules::new(settings.purge.clone()),
            epoch: AtomicU64::new(0),
            purged_at: AtomicU64::new(0),
            invalidated: InvalidationLog::default(),
            stale: settings.stale,
            lock_timeout: settings.lock_timeout,
            max_entry_bytes: settings.max_entry_bytes as usize,
            stats: CacheStats::default(),
        })
    }

    pub fn policy(&self) -> &CachePolicy {
        &self.policy
    }

    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    pub fn coalescer(&self) -> &Arc<Coalescer> {
        &self.coalescer
    }

    pub fn lock_timeout(&self) -> Duration {
        self.lock_timeout
    }

    pub fn stale_window(&self) -> Duration {
        self.stale
    }

    pub fn max_entry_bytes(&self) -> usize {
        self.max_entry_bytes
    }

    pub fn lookup(&self, req: &HttpRequest) -> Lookup {
        let Some(primary) = CacheKey::primary(req) else {
            return Lookup::Bypass;
        };
        if self.policy.request_bypasses(req.headers()) {
            return Lookup::Bypass;
        }
        let key = self.full_key(primary, req);
        match self.store.get(&key) {
            None if self.uncacheable.contains_key(&key) => Lookup::Uncacheable,
            None => Lookup::Miss(key),
            Some(stored) if self.purge_rules.last_purge_of(key.path()) > stored.fetched_at => {
                self.store.invalidate(&key);
                Lookup::Miss(key)
            }
            Some(Stored { response, .. }) => match response.freshness() {
                Freshness::Fresh => Lookup::Fresh(response),
                Freshness::Stale => Lookup::Stale(key, response),
            },
        }
    }

    fn full_key(&self, primary: CacheKey, req: &HttpRequest) -> CacheKey {
        if !self.any_vary.load(Ordering::Relaxed) {
            return primary;
        }
        match self.vary_index.get(&primary) {
            Some(names) => primary.with_vary(&names, req),
            None => primary,
        }
    }

    /// The purge epoch to pass to [`Self::store`] for a fetch starting now.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Whether a purge covering `key`, or an invalidation of its URI, happened since `epoch`.
    fn outdated(&self, key: &CacheKey, epoch: u64) -> bool {
        self.purged_at.load(Ordering::Acquire) > epoch
            || self.purge_rules.last_purge_of(key.path()) > epoch
            || self.invalidated.invalidated_since(key.uri(), epoch)
    }

    /// Stores `entry` fetched for `req` unless a purge happened since `epoch`; returns whether it
    /// is stored.
    pub fn store(
        &self,
        key: &CacheKey,
        req: &HttpRequest,
        entry: Arc<CachedResponse>,
        epoch: u64,
    ) -> bool {
        let primary = key.to_primary();
        let key = if entry.vary.is_empty() {
            primary
        } else {
            let full = primary.with_vary(&entry.vary, req);
            self.vary_index.insert(primary, entry.vary.clone().into());
            self.any_vary.store(true, Ordering::Relaxed);
            full
        };
        if self.outdated(&key, epoch) {
            return false;
        }
        let stored = Stored {
            response: entry,
            fetched_at: epoch,
        };
        self.store.insert(key.clone(), stored);
        // A purge that raced with the insert must still win.
        if self.outdated(&key, epoch) {
            self.store.invalidate(&key);
            return false;
        }
        true
    }

    /// The upstream answered `key` with a response that must not be stored: an older stored
    /// one is no longer what the origin serves.
    pub fn remember_uncacheable(&self, key: CacheKey) {
        self.store.invalidate(&key);
        self.uncacheable.insert(key, ());
    }

    /// Applies the purge rules after a successful unsafe request: what they cover is gone for
    /// lookups from now on, and fetches already under way do not store.
    pub fn purge_after_write(&self, method: &Method, path: &str) {
        let at = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        self.purge_rules.record_write(method, path, at);
    }

    /// Invalidates every stored response (GET and HEAD, every variant) for these paths on
    /// `host`: what a non-error answer to an unsafe request makes stale (RFC 9111 4.4).
    pub fn invalidate_uris(&self, host: &str, paths: &[String]) {
        let at = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        for path in paths {
            // Recorded first: a racing store either sees it or is removed below.
            self.invalidated.record(&format!("{host}{path}"), at);
            // Both schemes: the resource behind them is one, whichever listener changed it.
            let keys = [ListenerScheme::Http, ListenerScheme::Https]
                .into_iter()
                .flat_map(|scheme| [false, true].map(|head| (head, scheme)));
            for (head, scheme) in keys {
                let primary = CacheKey::for_uri(head, scheme, host, path);
                self.store.invalidate(&primary);
                let varied = self.any_vary.load(Ordering::Relaxed)
                    && self.vary_index.remove(&primary).is_some();
                // Variants are keyed by their request header values too: only a scan finds
                // them, so it is made only when this URI has varied.
                if varied {
                    self.store
                        .invalidate_entries_if(move |key, _| key.uri() == primary.uri())
                        .expect("invalidation closures are enabled at build time");
                }
            }
        }
    }

    /// A new epoch in which no fetch started earlier may store.
    fn begin_purge(&self) {
        let at = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        self.purged_at.fetch_max(at, Ordering::AcqRel);
    }

    pub fn purge_prefix(&self, prefix: &str) {
        self.begin_purge();
        self.store
            .invalidate_entries_if(under(prefix))
            .expect("invalidation closures are enabled at build time");
        self.vary_index
            .invalidate_entries_if(under(prefix))
            .expect("invalidation closures are enabled at build time");
        log::debug!("cache purged {prefix}*");
    }

    pub fn purge_all(&self) {
        self.begin_purge();
        self.store.invalidate_all();
        self.vary_index.invalidate_all();
    }

    /// Bytes currently accounted (after pending maintenance).
    pub fn weighted_size(&self) -> u64 {
        self.store.run_pending_tasks();
        self.store.weighted_size()
    }

    pub fn entry_count(&self) -> u64 {
        self.store.entry_count()
    }
}

/// Whether a key's path lies under `prefix`, as moka's invalidation closures take it.
fn under<V>(prefix: &str) -> impl Fn(&CacheKey, &V) -> bool + Send + Sync + 'static {
    let prefix = prefix.to_owned();
    move |key, _| key.path().starts_with(&prefix)
}

#[cfg(test)]
mod tests;
