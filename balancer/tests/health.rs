//! Failover, recovery, retry policy and the no-backend answer (passive health under abuse is
//! in `edge.rs`).

use std::sync::atomic::Ordering;
use std::time::Duration;

use test_support::balancer::{
    Balancer, Upstream, backend_view, client, config_file, eventually, get,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_backend_fails_over_and_recovers() {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    let balancer = Balancer::start(&["--backend", &a.url(), "--backend", &b.url()]);
    let client = client();
    let url = format!("{}/whoami", balancer.url);

    let (address, name) = (a.address.clone(), a.name.clone());
    let behaviour = a.stop();
    // Every request succeeds: a connect failure is retried on the other backend at once.
    for _ in 0..40 {
        let (status, upstream, _, _) = get(&client, &url).await;
        assert_eq!(status, 200);
        assert_eq!(upstream, b.address);
    }
    let down = eventually(Duration::from_secs(10), || async {
        backend_view(&client, &balancer, &address).await.unwrap()["healthy"] == false
    })
    .await;
    assert!(down, "killed backend still reported healthy");

    let a = Upstream::restart(&name, &address, behaviour);
    let up = eventually(Duration::from_secs(10), || async {
        backend_view(&client, &balancer, &a.address).await.unwrap()["healthy"] == true
    })
    .await;
    assert!(up, "restarted backend never became healthy again");
    let mut served_by_a = 0;
    for _ in 0..10 {
        if get(&client, &url).await.1 == a.address {
            served_by_a += 1;
        }
    }
    assert_eq!(served_by_a, 5, "round robin resumes over both");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_retry_gets_but_never_posts() {
    let (slow, fast) = (Upstream::start("slow"), Upstream::start("fast"));
    slow.behaviour.delay_ms.store(3000, Ordering::SeqCst);
    let (_dir, config) =
        config_file("[proxy]\nupstream_timeout_ms = 300\n[health]\npassive_failures = 1000\n");
    let balancer = Balancer::start(&[
        "--config",
        &config,
        "--backend",
        &slow.url(),
        "--backend",
        &fast.url(),
    ]);
    let client = client();
    for _ in 0..4 {
        let (status, upstream, _, _) = get(&client, &format!("{}/whoami", balancer.url)).await;
        assert_eq!(status, 200);
        assert_eq!(upstream, fast.address);
    }
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = client
            .post(format!("{}/analyze", balancer.url))
            .json(&serde_json::json!({ "text": "hi" }))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 200, 504, 504],
        "POSTs that timed out are not retried"
    );
    assert_eq!(fast.behaviour.post_hits.load(Ordering::SeqCst), 2);
    assert_eq!(slow.behaviour.post_hits.load(Ordering::SeqCst), 2);

    // With an Idempotency-Key a repeat is safe: one that timed out is retried elsewhere.
    for i in 0..2 {
        let response = client
            .post(format!("{}/analyze", balancer.url))
            .header("idempotency-key", format!("\"key-{i}\""))
            .json(&serde_json::json!({ "text": "hi" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "keyed POST {i}");
    }
    assert_eq!(fast.behaviour.post_hits.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_healthy_backend_is_a_503_with_retry_after() {
    let vanished = Upstream::start("gone");
    let url = vanished.url();
    vanished.stop();
    let balancer = Balancer::start_unready(&["--backend", &url]);
    let response = client()
        .get(format!("{}/x", balancer.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "no_healthy_backend");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unready_backend_is_not_used() {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    a.behaviour.unready.store(true, Ordering::SeqCst);
    let balancer = Balancer::start(&["--backend", &a.url(), "--backend", &b.url()]);
    let client = client();
    for _ in 0..10 {
        assert_eq!(
            get(&client, &format!("{}/whoami", balancer.url)).await.1,
            b.address
        );
    }
    assert_eq!(a.hits(), 0);
}
