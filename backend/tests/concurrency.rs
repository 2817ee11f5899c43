//! Concurrent writers: every acknowledged analysis appears exactly once in history, in order,
//! whichever of two processes sharing the store file took it.

use std::collections::HashSet;

use futures_util::StreamExt;
use serde_json::Value;
use test_support::backend::{TestApp, spawn_fresh};

const POSTS: usize = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_posts_each_appear_exactly_once() {
    let (app, _store) = spawn_fresh();
    let acknowledged: Vec<String> = futures_util::stream::iter(0..POSTS)
        .map(|n| {
            let app = &app;
            async move {
                app.analyze_ok(&format!("concurrent post {n} is great"))
                    .await
            }
        })
        .buffer_unordered(POSTS)
        .map(|analysis| analysis["id"].as_str().unwrap().to_owned())
        .collect()
        .await;
    assert_eq!(acknowledged.len(), POSTS);

    let history = app.whole_history(500).await;
    let ids: Vec<&str> = history.iter().map(|a| a["id"].as_str().unwrap()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(
        ids.len(),
        POSTS,
        "history holds exactly what was acknowledged"
    );
    assert_eq!(unique.len(), POSTS, "no analysis appears twice");
    for id in &acknowledged {
        assert!(unique.contains(id.as_str()), "acknowledged {id} is missing");
    }
    let numeric: Vec<u64> = ids.iter().map(|id| id.parse().unwrap()).collect();
    assert!(numeric.windows(2).all(|w| w[0] > w[1]), "newest first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sharing_one_store_file_see_the_same_history() {
    let folder = tempfile::TempDir::new().unwrap();
    let path = folder.path().join("shared.db");
    let first = TestApp::spawn(&path, &[]);
    let second = TestApp::spawn(&path, &[]);

    let writes = futures_util::stream::iter(0..200)
        .map(|n| {
            let app = if n % 2 == 0 { &first } else { &second };
            async move { app.analyze_ok(&format!("shared write {n}")).await }
        })
        .buffer_unordered(64)
        .collect::<Vec<Value>>()
        .await;
    assert_eq!(writes.len(), 200);

    let seen_by_first = first.whole_history(100).await;
    let seen_by_second = second.whole_history(100).await;
    assert_eq!(seen_by_first.len(), 200);
    assert_eq!(seen_by_first, seen_by_second);
}
