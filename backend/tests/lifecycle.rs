//! Start-up, readiness and shutdown: a stopped store is reported, and SIGTERM loses no
//! acknowledged analysis.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::StreamExt;
use serde_json::Value;
use test_support::backend::{TestApp, spawn_fresh};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_and_loses_nothing_acknowledged() {
    let (mut app, folder) = spawn_fresh();
    let acknowledged_count = Arc::new(AtomicUsize::new(0));
    let client = app.client.clone();
    let url = app.url("/analyze");
    let writers = tokio::spawn({
        let acknowledged_count = Arc::clone(&acknowledged_count);
        async move {
            futures_util::stream::iter(0..2_000)
                .map(|n| {
                    let (client, url) = (client.clone(), url.clone());
                    let acknowledged_count = Arc::clone(&acknowledged_count);
                    async move {
                        let response = client
                            .post(url)
                            .json(&serde_json::json!({ "text": format!("shutdown {n}") }))
                            .send()
                            .await
                            .ok()?;
                        if response.status() != 200 {
                            return None;
                        }
                        let analysis: Value = response.json().await.ok()?;
                        acknowledged_count.fetch_add(1, Ordering::Relaxed);
                        analysis["id"].as_str().map(str::to_owned)
                    }
                })
                .buffer_unordered(100)
                .filter_map(|id| async move { id })
                .collect::<Vec<String>>()
                .await
        }
    });
    while acknowledged_count.load(Ordering::Relaxed) < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let status = tokio::task::spawn_blocking(move || {
        let status = app.terminate();
        drop(app);
        status
    })
    .await
    .unwrap();
    assert!(status.success(), "graceful exit, got {status}");
    let acknowledged = writers.await.unwrap();
    assert!(acknowledged.len() >= 200);

    let restarted = TestApp::spawn(&folder.path().join("store.db"), &[]);
    let history = restarted.whole_history(500).await;
    let stored: std::collections::HashSet<&str> =
        history.iter().map(|a| a["id"].as_str().unwrap()).collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !stored.contains(id.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged analyses were lost",
        lost.len(),
        acknowledged.len()
    );
}

/// Words that would show the driver's text (topology, addresses) to the public.
const DRIVER_WORDS: [&str; 7] = [
    "127.0.0.1",
    "Topology",
    "Kind",
    "MongoDB",
    "Server",
    "os error",
    "labels",
];

async fn expect_plain_store_unavailable(response: reqwest::Response) {
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "error": "store_unavailable",
            "message": "The store is unavailable: please retry in a moment.",
        })
    );
    let text = body.to_string();
    for word in DRIVER_WORDS {
        assert!(!text.contains(word), "{word:?} in {text}");
    }
}

fn warnings(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|line| line.contains("WARN") && line.contains("the store is unavailable"))
        .collect()
}

#[tokio::test]
async fn an_unreachable_mongodb_makes_the_service_unready_not_broken() {
    // Nothing listens on port 1: a real, refused connection, not a fake server.
    let (app, logs) = TestApp::spawn_logged(
        &[
            "--mongodb-uri".into(),
            "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300".into(),
        ],
        "warn",
        &[],
    );
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the process itself is alive");

    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    expect_plain_store_unavailable(ready).await;
    expect_plain_store_unavailable(app.analyze("this cannot be stored").await).await;
    expect_plain_store_unavailable(app.history("").await).await;

    // The detail is in the log, at WARN, and probing again does not repeat it.
    let lines = logs.wait_for("the store is unavailable");
    assert!(
        warnings(&lines).iter().any(|line| line.contains("MongoDB")),
        "the driver's detail is logged: {lines:#?}"
    );
    let logged = warnings(&logs.lines()).len();
    for _ in 0..5 {
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 503);
    }
    assert_eq!(
        warnings(&logs.lines()).len(),
        logged,
        "five more failed probes log nothing new: {:#?}",
        logs.lines()
    );
}

#[test]
fn an_unusable_store_path_stops_start_up_with_a_clear_message() {
    let folder = tempfile::TempDir::new().unwrap();
    let blocker = folder.path().join("not-a-folder");
    std::fs::write(&blocker, "a file where a folder should be").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_backend"))
        .args(["--port", "0", "--db-path"])
        .arg(blocker.join("store.db"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot open the store"), "{stderr}");
    assert!(stderr.contains("not-a-folder"), "{stderr}");
}

#[test]
fn bad_flags_are_refused_with_usage() {
    let output = Command::new(env!("CARGO_BIN_EXE_backend"))
        .args(["--mongodb-write-concern", "all"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--mongodb-write-concern"), "{stderr}");
}

#[tokio::test]
async fn a_fresh_store_starts_empty_and_ready() {
    let (app, _folder) = spawn_fresh();
    let history: Vec<Value> = app.history("").await.json().await.unwrap();
    assert!(history.is_empty());
}

#[test]
fn a_mongodb_operation_timeout_not_above_the_wtimeout_stops_start_up() {
    let output = Command::new(env!("CARGO_BIN_EXE_backend"))
        .args(["--port", "0", "--mongodb-uri", "mongodb://127.0.0.1:1/"])
        .args(["--mongodb-wtimeout-ms", "5000"])
        .args(["--mongodb-operation-timeout-ms", "5000"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("must be longer than the wtimeout"),
        "{stderr}"
    );
}
