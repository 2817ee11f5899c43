//! The cache's store decisions without a server: counters, hit-for-pass, and which purges and
//! invalidations stop an older fetch from storing.

use super::*;
use crate::configuration::Layer;
use actix_web::test::TestRequest;

/// A fresh 200 with `body`, fresh for a minute.
fn entry(body: &'static str) -> Arc<CachedResponse> {
    entry_varying(body, Vec::new())
}

/// [`entry`] whose response varies on `vary`.
fn entry_varying(body: &'static str, vary: Vec<HeaderName>) -> Arc<CachedResponse> {
    Arc::new(CachedResponse::new(
        actix_web::http::StatusCode::OK,
        Vec::new(),
        None,
        bytes::Bytes::from_static(body.as_bytes()),
        None,
        vary,
        Expiry::fresh_for(Duration::from_secs(60)),
        Duration::ZERO,
    ))
}

/// A cache with the default configuration (its purge rule: `POST /analyze` purges `/history`).
fn default_cache() -> HttpCache {
    HttpCache::new(&Layer::default().validate().unwrap().cache).unwrap()
}

fn get(path: &str) -> HttpRequest {
    TestRequest::get().uri(path).to_http_request()
}

fn key(req: &HttpRequest) -> CacheKey {
    CacheKey::primary(req).unwrap()
}

#[test]
fn each_status_is_counted_once_in_its_own_counter() {
    let stats = CacheStats::default();
    for status in [
        CacheStatus::Hit,
        CacheStatus::Miss,
        CacheStatus::Miss,
        CacheStatus::Stale,
        CacheStatus::Expired,
        CacheStatus::Bypass,
    ] {
        stats.record(status);
    }
    let counts = [
        &stats.hits,
        &stats.misses,
        &stats.stale,
        &stats.expired,
        &stats.bypass,
    ]
    .map(|counter| counter.load(Ordering::Relaxed));
    assert_eq!(counts, [1, 2, 1, 1, 1]);
}

#[test]
fn uncacheable_keys_skip_coalescing_and_purges_stop_older_fetches_from_storing() {
    let cache = default_cache();
    let req = get("/history?limit=1");
    let Lookup::Miss(key) = cache.lookup(&req) else {
        panic!("empty cache must miss");
    };
    cache.remember_uncacheable(key.clone());
    assert!(matches!(cache.lookup(&req), Lookup::Uncacheable));

    let before_purge = cache.epoch();
    cache.purge_after_write(&Method::POST, "/analyze");
    assert!(!cache.store(&key, &req, entry("old"), before_purge));
    assert!(cache.store(&key, &req, entry("new"), cache.epoch()));
    let Lookup::Fresh(stored) = cache.lookup(&req) else {
        panic!("stored entry must be fresh");
    };
    assert_eq!(stored.body, "new");
    cache.purge_after_write(&Method::POST, "/analyze");
    assert!(!matches!(cache.lookup(&req), Lookup::Fresh(_)));
}

// RFC 9111 section 4.4: an invalidation outdates fetches of its own URI only.
#[test]
fn invalidating_a_uri_stops_only_its_own_older_fetches_from_storing() {
    let cache = default_cache();
    let (this, other) = (get("/this?x=1"), get("/other"));
    let started = cache.epoch();
    cache.invalidate_uris("", &["/this?x=1".to_owned()]);
    assert!(!cache.store(&key(&this), &this, entry("x"), started));
    assert!(cache.store(&key(&other), &other, entry("x"), started));
    assert!(cache.store(&key(&this), &this, entry("x"), cache.epoch()));
    cache.invalidate_uris("", &["/this?x=1".to_owned()]);
    assert!(matches!(cache.lookup(&this), Lookup::Miss(_)));
    assert!(matches!(cache.lookup(&other), Lookup::Fresh(_)));
}

// A purge rule outdates what its prefixes cover, and only that: fetches of other paths that
// started before it still store, and their stored entries stay.
#[test]
fn a_rule_purge_leaves_other_paths_alone() {
    let cache = default_cache();
    let (history, page) = (get("/history?limit=5"), get("/index.html"));
    assert!(cache.store(&key(&page), &page, entry("x"), cache.epoch()));
    let started = cache.epoch();
    cache.purge_after_write(&Method::POST, "/analyze");
    assert!(!cache.store(&key(&history), &history, entry("x"), started));
    let other = get("/app.js");
    assert!(cache.store(&key(&other), &other, entry("x"), started));
    assert!(matches!(cache.lookup(&page), Lookup::Fresh(_)));
    assert!(matches!(cache.lookup(&other), Lookup::Fresh(_)));
    // A write the rules do not cover purges nothing.
    assert!(cache.store(&key(&history), &history, entry("x"), cache.epoch()));
    cache.purge_after_write(&Method::POST, "/elsewhere");
    assert!(matches!(cache.lookup(&history), Lookup::Fresh(_)));
}

// Clients choose URIs: learning `Vary` names for each must not grow memory without bound.
#[test]
fn the_vary_index_is_bounded() {
    let cache = default_cache();
    let varied = entry_varying("x", vec![actix_web::http::header::ACCEPT_ENCODING]);
    let uris = VARY_INDEX_CAPACITY + VARY_INDEX_CAPACITY / 2;
    for i in 0..uris {
        let req = get(&format!("/v/{i}"));
        assert!(cache.store(&key(&req), &req, varied.clone(), cache.epoch()));
    }
    cache.vary_index.run_pending_tasks();
    let remembered = cache.vary_index.entry_count();
    assert!(
        remembered <= VARY_INDEX_CAPACITY,
        "{remembered} URIs' Vary names remembered after {uris}"
    );
}
