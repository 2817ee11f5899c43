//! `Idempotency-Key` on `POST /analyze`, as clients see it: a repeated key answers the analysis
//! stored the first time and stores nothing more, however many requests race with it and
//! whichever process sharing the store file takes them.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use test_support::backend::{TestApp, spawn_fresh};

const REPLAYED: &str = "idempotent-replayed";

async fn json_error(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    response.json().await.unwrap()
}

/// Fires `count` concurrent posts of one text under one key, spread over `apps`; returns each
/// answer's id and whether it was marked as a replay.
async fn race(apps: &[&TestApp], key: &str, count: usize) -> Vec<(String, bool)> {
    futures_util::stream::iter(0..count)
        .map(|n| {
            let app = apps[n % apps.len()];
            async move {
                let response = app.analyze_with_key("one key, many tries", key).await;
                assert_eq!(response.status(), 200, "try {n}");
                let replayed = response.headers().get(REPLAYED).is_some();
                let analysis: Value = response.json().await.unwrap();
                (analysis["id"].as_str().unwrap().to_owned(), replayed)
            }
        })
        .buffer_unordered(count)
        .collect()
        .await
}

fn assert_one_analysis(answers: &[(String, bool)], history: &[Value]) {
    let ids: HashSet<&str> = answers.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), 1, "every answer is the same analysis: {ids:?}");
    let originals = answers.iter().filter(|(_, replayed)| !replayed).count();
    assert_eq!(
        originals, 1,
        "exactly one answer stored it, the rest replay it"
    );
    assert_eq!(history.len(), 1, "one row in history: {history:?}");
    assert!(ids.contains(history[0]["id"].as_str().unwrap()));
}

#[tokio::test]
async fn the_same_key_twice_answers_the_first_analysis_and_stores_it_once() {
    let (app, _store) = spawn_fresh();
    let first = app.analyze_with_key("I love it", r#""order-42""#).await;
    assert_eq!(first.status(), 200);
    assert!(
        first.headers().get(REPLAYED).is_none(),
        "the first is no replay"
    );
    let first: Value = first.json().await.unwrap();

    // The bare form names the same key.
    let again = app.analyze_with_key("I love it", "order-42").await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()[REPLAYED], "true");
    assert_eq!(again.headers()["cache-control"], "no-store");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first, "same id, text, scores and created_at");

    let other_key = app.analyze_with_key("I love it", "order-43").await;
    assert!(other_key.headers().get(REPLAYED).is_none());
    let other_key: Value = other_key.json().await.unwrap();
    assert_ne!(other_key["id"], first["id"]);

    let history = app.whole_history(50).await;
    assert_eq!(history, vec![other_key, first]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_requests_with_one_key_store_one_analysis() {
    let (app, _store) = spawn_fresh();
    let answers = race(&[&app], "fifty-at-once", 50).await;
    assert_one_analysis(&answers, &app.whole_history(100).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sharing_one_store_file_store_one_analysis_per_key() {
    let folder = tempfile::TempDir::new().unwrap();
    let path = folder.path().join("shared.db");
    let first = TestApp::spawn(&path, &[]);
    let second = TestApp::spawn(&path, &[]);
    let answers = race(&[&first, &second], "shared-key", 50).await;
    let history = first.whole_history(100).await;
    assert_one_analysis(&answers, &history);
    assert_eq!(second.whole_history(100).await, history);
}

#[tokio::test]
async fn a_key_reused_for_another_text_is_refused_and_stores_nothing() {
    let (app, _store) = spawn_fresh();
    let first: Value = app
        .analyze_with_key("the first text", "reused")
        .await
        .json()
        .await
        .unwrap();
    let reused = json_error(app.analyze_with_key("another text", "reused").await, 422).await;
    assert_eq!(reused["error"], "idempotency_key_reused", "{reused}");
    assert!(reused["message"].as_str().unwrap().len() > 10);
    assert_eq!(app.whole_history(50).await, vec![first]);
}

#[tokio::test]
async fn malformed_keys_are_refused_and_store_nothing() {
    let (app, _store) = spawn_fresh();
    let too_long = "k".repeat(256);
    for bad in [
        r#""""#,
        r#""has space""#,
        "has space",
        r#""unterminated"#,
        r#""a", "b""#,
        too_long.as_str(),
    ] {
        let response = app.analyze_with_key("fine text", bad).await;
        let body = json_error(response, 400).await;
        assert_eq!(body["error"], "invalid_idempotency_key", "{bad:?}: {body}");
    }
    let two_headers = app
        .client
        .post(app.url("/analyze"))
        .header("idempotency-key", "a")
        .header("idempotency-key", "b")
        .json(&serde_json::json!({"text": "fine text"}))
        .send()
        .await
        .unwrap();
    let body = json_error(two_headers, 400).await;
    assert_eq!(body["error"], "invalid_idempotency_key");
    assert!(app.whole_history(50).await.is_empty());

    let longest = "k".repeat(255);
    assert_eq!(
        app.analyze_with_key("fine text", &longest).await.status(),
        200
    );
}

#[tokio::test]
async fn after_the_window_a_key_stores_a_new_analysis() {
    let folder = tempfile::TempDir::new().unwrap();
    let app = TestApp::spawn(
        &folder.path().join("store.db"),
        &["--idempotency-window", "1"],
    );
    let first: Value = app
        .analyze_with_key("same text", "short-lived")
        .await
        .json()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let later = app.analyze_with_key("same text", "short-lived").await;
    assert_eq!(later.status(), 200);
    assert!(later.headers().get(REPLAYED).is_none(), "not a replay");
    let later: Value = later.json().await.unwrap();
    assert_ne!(later["id"], first["id"]);
    let repeat = app.analyze_with_key("same text", "short-lived").await;
    assert_eq!(
        repeat.headers()[REPLAYED],
        "true",
        "the new analysis holds the key"
    );
    let ids: Vec<Value> = app
        .whole_history(50)
        .await
        .into_iter()
        .map(|analysis| analysis["id"].clone())
        .collect();
    assert_eq!(ids, vec![later["id"].clone(), first["id"].clone()]);
}

#[tokio::test]
async fn a_store_file_from_before_idempotency_keys_is_migrated_at_start_up() {
    let folder = tempfile::TempDir::new().unwrap();
    let path = folder.path().join("old.db");
    {
        // The table as the first release created it, with one analysis in it.
        let old = rusqlite::Connection::open(&path).unwrap();
        old.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE analyses (
                 id INTEGER PRIMARY KEY, text TEXT NOT NULL, neg REAL NOT NULL,
                 neu REAL NOT NULL, pos REAL NOT NULL, compound REAL NOT NULL,
                 created_at_ms INTEGER NOT NULL
             );
             INSERT INTO analyses (text, neg, neu, pos, compound, created_at_ms)
                 VALUES ('from the old release', 0.0, 1.0, 0.0, 0.0, 1700000000000);",
        )
        .unwrap();
    }
    let first = TestApp::spawn(&path, &[]);
    // A second process opening the migrated file finds nothing left to do.
    let second = TestApp::spawn(&path, &[]);
    let old = first.whole_history(50).await;
    assert_eq!(old.len(), 1);
    assert_eq!(old[0]["text"], "from the old release");

    let keyed: Value = first
        .analyze_with_key("new text", "after-migration")
        .await
        .json()
        .await
        .unwrap();
    let replay = second.analyze_with_key("new text", "after-migration").await;
    assert_eq!(replay.headers()[REPLAYED], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), keyed);
    assert_eq!(second.whole_history(50).await.len(), 2);
}
