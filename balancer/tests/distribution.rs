//! Distribution per selection algorithm, observed through `X-Upstream` on the real balancer.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use test_support::balancer::{Balancer, TOKEN, Upstream, client, eventually, get};

async fn count_upstreams(url: &str, requests: usize) -> HashMap<String, usize> {
    let client = client();
    let mut counts = HashMap::new();
    for _ in 0..requests {
        let (status, upstream, _, _) = get(&client, url).await;
        assert_eq!(status, 200);
        *counts.entry(upstream).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_is_exact() {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    let balancer = Balancer::start(&["--backend", &a.url(), "--backend", &b.url()]);
    let counts = count_upstreams(&format!("{}/whoami", balancer.url), 100).await;
    assert_eq!(counts.get(&a.address), Some(&50), "{counts:?}");
    assert_eq!(counts.get(&b.address), Some(&50), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_follows_weights_exactly() {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    let heavy = format!("{}#weight=3", a.url());
    let balancer = Balancer::start(&[
        "--algorithm",
        "weighted",
        "--backend",
        &heavy,
        "--backend",
        &b.url(),
    ]);
    let counts = count_upstreams(&format!("{}/whoami", balancer.url), 400).await;
    assert_eq!(counts.get(&a.address), Some(&300), "{counts:?}");
    assert_eq!(counts.get(&b.address), Some(&100), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_connections_steers_away_from_a_slow_backend() {
    let (slow, fast) = (Upstream::start("slow"), Upstream::start("fast"));
    slow.behaviour.delay_ms.store(300, Ordering::SeqCst);
    fast.behaviour.delay_ms.store(5, Ordering::SeqCst);
    let balancer = Balancer::start(&[
        "--algorithm",
        "least-connections",
        "--backend",
        &slow.url(),
        "--backend",
        &fast.url(),
    ]);
    let url = format!("{}/work", balancer.url);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { count_upstreams(&url, 20).await })
        })
        .collect();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for task in tasks {
        for (upstream, n) in task.await.unwrap() {
            *counts.entry(upstream).or_insert(0) += n;
        }
    }
    let to_slow = counts.get(&slow.address).copied().unwrap_or(0);
    // Round robin would send half (80) to the slow backend.
    assert!(
        to_slow < 40,
        "slow backend got {to_slow} of 160: {counts:?}"
    );
}

async fn owners(balancer: &Balancer, keys: usize) -> Vec<String> {
    let client = client();
    let mut owners = Vec::with_capacity(keys);
    for key in 0..keys {
        let response = client
            .get(format!("{}/whoami", balancer.url))
            .header("x-session", format!("session-{key}"))
            .send()
            .await
            .unwrap();
        owners.push(
            response.headers()["x-upstream"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    owners
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_hash_is_sticky_and_moves_about_one_in_n_keys() {
    let upstreams: Vec<_> = ["a", "b", "c"].into_iter().map(Upstream::start).collect();
    let mut args = vec![
        "--algorithm",
        "consistent-hash",
        "--hash-key",
        "header:x-session",
    ];
    let urls: Vec<_> = upstreams.iter().map(Upstream::url).collect();
    for url in &urls {
        args.extend(["--backend", url]);
    }
    let balancer = Balancer::start(&args);
    let keys = 300;
    let before = owners(&balancer, keys).await;
    assert_eq!(
        before,
        owners(&balancer, keys).await,
        "the same key must map to the same backend"
    );
    for upstream in &upstreams {
        let owned = before.iter().filter(|o| **o == upstream.address).count();
        assert!(
            owned > keys / 10,
            "{} owns only {owned} keys",
            upstream.address
        );
    }

    let newcomer = Upstream::start("d");
    let client = client();
    let added = client
        .post(format!("{}/backends", balancer.admin))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "address": newcomer.url() }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let healthy = eventually(Duration::from_secs(10), || async {
        test_support::balancer::backend_view(&client, &balancer, &newcomer.address)
            .await
            .is_some_and(|b| b["healthy"] == true)
    })
    .await;
    assert!(healthy, "the added backend never became healthy");
    let after = owners(&balancer, keys).await;
    let moved: Vec<_> = before.iter().zip(&after).filter(|(b, a)| b != a).collect();
    assert!(
        moved.iter().all(|(_, now)| **now == newcomer.address),
        "keys may only move to the new backend"
    );
    let fraction = moved.len() as f64 / keys as f64;
    assert!(
        (0.1..0.45).contains(&fraction),
        "moved {fraction} of keys, expected about 1/4"
    );
}
