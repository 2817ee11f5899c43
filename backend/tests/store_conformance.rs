//! One conformance suite for every store: always against the embedded SQLite store, and
//! against MongoDB whenever `MONGODB_TEST_URI` points at a real server.

use std::io::Write;
use std::sync::Arc;

use backend::analysis::NewAnalysis;
use backend::configuration::{Settings, StoreSettings};
use backend::store::{HistoryPage, MongoStore, SqliteStore, Store, StoreError};
use chrono::{TimeZone, Utc};
use clap::Parser;
use vader::Scores;

fn settings(args: &[&str]) -> StoreSettings {
    let mut all = vec!["backend"];
    all.extend_from_slice(args);
    Settings::try_parse_from(all).unwrap().store
}

fn analysis(n: i64) -> NewAnalysis {
    NewAnalysis {
        text: format!("analysis {n} — ünïcödé ✓ 🙂"),
        scores: Scores {
            neg: 0.1,
            neu: 0.6,
            pos: 0.3,
            compound: (n as f64) / 1000.0,
        },
        // Several share a timestamp, as concurrent requests do.
        created_at: Utc.timestamp_millis_opt(1_700_000_000_000 + n / 3).unwrap(),
    }
}

async fn page(store: &dyn Store, limit: usize, before: Option<&str>) -> Vec<String> {
    store
        .history(HistoryPage { limit, before })
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect()
}

/// The behaviour every store must have. Expects an empty store.
async fn conforms(store: Arc<dyn Store>) {
    store.ping().await.expect("a fresh store answers");
    assert!(page(&*store, 10, None).await.is_empty(), "starts empty");

    let batch: Vec<NewAnalysis> = (0..25).map(analysis).collect();
    let stored = store.insert_batch(batch.clone()).await.unwrap();
    assert_eq!(stored.len(), 25);
    for (original, saved) in batch.iter().zip(&stored) {
        assert_eq!(saved.text, original.text, "stored in the order given");
        assert_eq!(saved.scores, original.scores);
        assert_eq!(saved.created_at, original.created_at);
    }
    let more = store
        .insert_batch((25..30).map(analysis).collect())
        .await
        .unwrap();
    let mut expected: Vec<String> = stored.iter().chain(&more).map(|a| a.id.clone()).collect();
    expected.reverse();

    let first = store
        .history(HistoryPage {
            limit: 1,
            before: None,
        })
        .await
        .unwrap();
    assert_eq!(first[0], more[4], "newest first, whole record round-trips");

    let mut walked = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let ids = page(&*store, 7, before.as_deref()).await;
        if ids.is_empty() {
            break;
        }
        assert!(ids.len() <= 7);
        before = ids.last().cloned();
        walked.extend(ids);
    }
    assert_eq!(
        walked, expected,
        "cursor pages cover everything once, newest first"
    );

    for bad in ["", "not-an-id", "-1"] {
        let result = store
            .history(HistoryPage {
                limit: 5,
                before: Some(bad),
            })
            .await;
        assert!(
            matches!(result, Err(StoreError::InvalidCursor(_))),
            "cursor {bad:?}: {result:?}"
        );
    }
    assert!(store.insert_batch(Vec::new()).await.unwrap().is_empty());
}

#[tokio::test]
async fn sqlite_store_conforms() {
    let folder = tempfile::TempDir::new().unwrap();
    let path = folder.path().join("nested/folder/conformance.db");
    let store = SqliteStore::open(&settings(&["--db-path", path.to_str().unwrap()]))
        .await
        .unwrap();
    conforms(Arc::new(store)).await;
}

#[tokio::test]
async fn mongodb_store_conforms() {
    let Ok(uri) = std::env::var("MONGODB_TEST_URI") else {
        // Written past the test harness's capture so it shows in every run's output.
        let _ = writeln!(
            std::io::stderr(),
            "NOTE: the MongoDB conformance tests did NOT run: MONGODB_TEST_URI is not set \
             (see README, \"MongoDB conformance tests\")."
        );
        return;
    };
    let collection = format!("conformance_{}", uuid_like());
    let settings = settings(&[
        "--mongodb-uri",
        &uri,
        "--mongodb-database",
        "sentiment_tests",
        "--mongodb-collection",
        &collection,
        "--mongodb-write-concern",
        "1",
    ]);
    let store = MongoStore::connect(&uri, &settings).await.unwrap();
    conforms(Arc::new(store)).await;
    let _ = writeln!(
        std::io::stderr(),
        "MongoDB conformance tests ran against {uri} (collection sentiment_tests.{collection})"
    );
}

fn uuid_like() -> String {
    format!(
        "{}_{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}
