//! The HTTP cache through the real balancer: HIT/MISS/BYPASS/STALE/EXPIRED, coalescing of
//! concurrent misses, purge on write and admin purge.

use std::sync::atomic::Ordering;
use std::time::Duration;

use test_support::balancer::{Balancer, TOKEN, Upstream, client, get};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miss_then_hit_and_bypasses() {
    let upstream = Upstream::start("a");
    let balancer = Balancer::start(&["--backend", &upstream.url()]);
    let client = client();
    let url = format!("{}/cached/page?x=1", balancer.url);

    let (status, name, cache, first) = get(&client, &url).await;
    assert_eq!((status, cache.as_str()), (200, "MISS"));
    assert_eq!(name, upstream.address);
    let (_, name, cache, second) = get(&client, &url).await;
    assert_eq!(cache, "HIT");
    assert_eq!(
        name, upstream.address,
        "X-Upstream is stored with the entry"
    );
    assert_eq!(first, second);
    assert_eq!(upstream.hits(), 1);

    // Another query string is another key.
    assert_eq!(
        get(&client, &format!("{}/cached/page?x=2", balancer.url))
            .await
            .2,
        "MISS"
    );
    // A client that asks for a fresh copy bypasses the cache.
    let forced = client
        .get(&url)
        .header("cache-control", "no-cache")
        .send()
        .await
        .unwrap();
    assert_eq!(forced.headers()["x-cache"], "BYPASS");
    // Unsafe methods always bypass.
    let post = client.post(&url).body("x").send().await.unwrap();
    assert_eq!(post.headers()["x-cache"], "BYPASS");
    // no-store responses are never served from cache.
    let no_store = format!("{}/plain", balancer.url);
    assert_eq!(get(&client, &no_store).await.2, "MISS");
    assert_eq!(get(&client, &no_store).await.2, "MISS");
    assert_eq!(upstream.hits(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_requests_are_answered_from_cache() {
    let upstream = Upstream::start("a");
    let balancer = Balancer::start(&["--backend", &upstream.url()]);
    let client = client();
    let url = format!("{}/cached/etag", balancer.url);
    let first = client.get(&url).send().await.unwrap();
    assert_eq!(first.headers()["etag"], "\"v0\"");
    let matching = client
        .get(&url)
        .header("if-none-match", "\"v0\"")
        .send()
        .await
        .unwrap();
    assert_eq!(matching.status(), 304);
    assert_eq!(matching.headers()["x-cache"], "HIT");
    let other = client
        .get(&url)
        .header("if-none-match", "\"v9\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_entries_refresh_and_serve_stale_on_upstream_errors() {
    let upstream = Upstream::start("a");
    let balancer = Balancer::start(&["--backend", &upstream.url()]);
    let client = client();
    let url = format!("{}/short/item", balancer.url);
    assert_eq!(get(&client, &url).await.2, "MISS");
    assert_eq!(get(&client, &url).await.2, "HIT");

    // max-age=1: after it passes, one request refreshes the entry.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    upstream.behaviour.version.store(2, Ordering::SeqCst);
    let (_, _, cache, body) = get(&client, &url).await;
    assert_eq!(cache, "EXPIRED");
    assert!(body.contains("\"version\":2"));
    assert_eq!(get(&client, &url).await.2, "HIT");

    // Once expired again, an upstream error serves the stale copy.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    upstream.behaviour.fail.store(true, Ordering::SeqCst);
    let (status, _, cache, body) = get(&client, &url).await;
    assert_eq!((status, cache.as_str()), (200, "STALE"));
    assert!(body.contains("\"version\":2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_reach_the_origin_once() {
    let upstream = Upstream::start("a");
    upstream.behaviour.delay_ms.store(1500, Ordering::SeqCst);
    let balancer = Balancer::start(&["--backend", &upstream.url()]);
    let client = client();
    let url = format!("{}/cached/popular", balancer.url);
    let requests: Vec<_> = (0..100)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move { get(&client, &url).await })
        })
        .collect();
    let mut labels = std::collections::HashMap::new();
    for request in requests {
        let (status, _, cache, _) = request.await.unwrap();
        assert_eq!(status, 200);
        *labels.entry(cache).or_insert(0) += 1;
    }
    assert_eq!(upstream.hits(), 1, "{labels:?}");
    assert_eq!(labels.get("MISS"), Some(&1), "{labels:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successful_post_to_analyze_purges_history() {
    let upstream = Upstream::start("a");
    let balancer = Balancer::start(&["--backend", &upstream.url()]);
    let client = client();
    let history = format!("{}/history?limit=5", balancer.url);
    assert_eq!(get(&client, &history).await.2, "MISS");
    assert_eq!(get(&client, &history).await.2, "HIT");
    let other = format!("{}/cached/other", balancer.url);
    assert_eq!(get(&client, &other).await.2, "MISS");

    let posted = client
        .post(format!("{}/analyze", balancer.url))
        .json(&serde_json::json!({ "text": "great" }))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    // Even with max-age=60 on /history, the write made it stale at once.
    assert_eq!(get(&client, &history).await.2, "MISS");
    assert_eq!(
        get(&client, &other).await.2,
        "HIT",
        "only the configured prefix is purged"
    );

    // A failed write purges nothing.
    upstream.behaviour.fail.store(true, Ordering::SeqCst);
    let failed = client
        .post(format!("{}/analyze", balancer.url))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 500);
    assert_eq!(get(&client, &history).await.2, "HIT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_purge_empties_the_cache() {
    let upstream = Upstream::start("a");
    let balancer = Balancer::start(&["--backend", &upstream.url()]);
    let client = client();
    let url = format!("{}/cached/a", balancer.url);
    assert_eq!(get(&client, &url).await.2, "MISS");
    assert_eq!(get(&client, &url).await.2, "HIT");
    let purged = client
        .post(format!("{}/cache/purge", balancer.admin))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(purged.status(), 200);
    assert_eq!(get(&client, &url).await.2, "MISS");
}
