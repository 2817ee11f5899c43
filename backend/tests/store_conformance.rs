//! One conformance suite for every store: always against the embedded SQLite store, and
//! against MongoDB whenever `MONGODB_TEST_URI` points at a real server.

use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use backend::analysis::{Analysis, NewAnalysis};
use backend::configuration::{Settings, StoreSettings};
use backend::idempotency::IdempotencyKey;
use backend::store::{HistoryPage, MongoStore, Outcome, Recorded, SqliteStore, Store, StoreError};
use chrono::{DateTime, TimeZone, Utc};
use clap::Parser;
use vader::Scores;

/// The idempotency window every store under test is opened with.
const WINDOW: Duration = Duration::from_secs(60 * 60);

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
        idempotency_key: None,
    }
}

fn keyed(text: &str, key: &str, created_at: DateTime<Utc>) -> NewAnalysis {
    NewAnalysis {
        text: text.to_owned(),
        scores: Scores {
            neg: 0.0,
            neu: 0.5,
            pos: 0.5,
            compound: 0.25,
        },
        created_at,
        idempotency_key: Some(IdempotencyKey::parse(key.as_bytes()).unwrap()),
    }
}

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
}

/// The analyses of a batch that must all have been inserted.
fn all_inserted(outcomes: Vec<Outcome>) -> Vec<Analysis> {
    outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(Recorded::Inserted(analysis)) => analysis,
            other => panic!("expected an insert, got {other:?}"),
        })
        .collect()
}

async fn write(store: &dyn Store, batch: Vec<NewAnalysis>) -> Vec<Outcome> {
    let size = batch.len();
    let outcomes = store
        .insert_batch(batch)
        .await
        .expect("the batch is written");
    assert_eq!(outcomes.len(), size, "one outcome per analysis");
    outcomes
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
    let stored = all_inserted(write(&*store, batch.clone()).await);
    assert_eq!(stored.len(), 25);
    for (original, saved) in batch.iter().zip(&stored) {
        assert_eq!(saved.text, original.text, "stored in the order given");
        assert_eq!(saved.scores, original.scores);
        assert_eq!(saved.created_at, original.created_at);
    }
    let more = all_inserted(write(&*store, (25..30).map(analysis).collect()).await);
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
    assert!(write(&*store, Vec::new()).await.is_empty());
}

/// Every id in the store, newest first.
async fn all_ids(store: &dyn Store) -> Vec<String> {
    page(store, 500, None).await
}

/// Idempotency keys: one analysis per key within the window, whoever asks and however.
/// Expects an empty store opened with `WINDOW`.
async fn keeps_one_analysis_per_key(store: Arc<dyn Store>) {
    // One batch: the first "a" under k1 wins; the same text replays it, another text is
    // refused, and neither disturbs the analyses around them.
    let outcomes = write(
        &*store,
        vec![
            keyed("a", "k1", at(0)),
            analysis(1),
            keyed("a", "k1", at(0)),
            keyed("other text", "k1", at(0)),
            keyed("b", "k2", at(0)),
        ],
    )
    .await;
    let Ok(Recorded::Inserted(first)) = &outcomes[0] else {
        panic!("the first use of k1 is stored: {outcomes:?}")
    };
    assert!(
        matches!(&outcomes[1], Ok(Recorded::Inserted(_))),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes[2].as_ref().ok(),
        Some(&Recorded::Replayed(first.clone()))
    );
    assert!(
        matches!(outcomes[3], Err(StoreError::IdempotencyKeyReused)),
        "{outcomes:?}"
    );
    assert!(
        matches!(&outcomes[4], Ok(Recorded::Inserted(_))),
        "{outcomes:?}"
    );
    assert_eq!(
        all_ids(&*store).await.len(),
        3,
        "k1 once, the keyless one, k2"
    );

    // A later batch: the stored analysis comes back whole, the reuse is refused again.
    let outcomes = write(
        &*store,
        vec![keyed("a", "k1", at(30)), keyed("changed", "k2", at(30))],
    )
    .await;
    assert_eq!(
        outcomes[0].as_ref().ok(),
        Some(&Recorded::Replayed(first.clone()))
    );
    assert!(
        matches!(outcomes[1], Err(StoreError::IdempotencyKeyReused)),
        "{outcomes:?}"
    );

    // After the window the key is free: a new analysis, which later repeats replay; the old
    // analysis stays in history.
    let after_window = at(WINDOW.as_secs() as i64 + 1);
    let outcomes = write(&*store, vec![keyed("a", "k1", after_window)]).await;
    let renewed = all_inserted(outcomes).remove(0);
    assert_ne!(renewed.id, first.id);
    let outcomes = write(&*store, vec![keyed("a", "k1", after_window)]).await;
    assert_eq!(
        outcomes[0].as_ref().ok(),
        Some(&Recorded::Replayed(renewed.clone()))
    );
    let ids = all_ids(&*store).await;
    assert_eq!(ids.len(), 4);
    assert!(ids.contains(&first.id) && ids.contains(&renewed.id));
}

/// Two stores on the same data (two processes sharing one file or one collection) racing with
/// one key: the unique index lets exactly one store it, and the other replays it.
async fn resolves_one_key_across_instances(first: Arc<dyn Store>, second: Arc<dyn Store>) {
    for round in 0..20 {
        let key = format!("race-{round}");
        let (one, two) = tokio::join!(
            first.insert_batch(vec![keyed("race", &key, at(round))]),
            second.insert_batch(vec![keyed("race", &key, at(round))]),
        );
        let outcomes = [one.unwrap().remove(0), two.unwrap().remove(0)];
        let inserted: Vec<&Analysis> = outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                Ok(Recorded::Inserted(analysis)) => Some(analysis),
                _ => None,
            })
            .collect();
        assert_eq!(inserted.len(), 1, "round {round}: {outcomes:?}");
        let ids: HashSet<&str> = outcomes
            .iter()
            .map(|outcome| outcome.as_ref().unwrap().analysis().id.as_str())
            .collect();
        assert_eq!(ids.len(), 1, "round {round}: both answer one analysis");
    }
    assert_eq!(all_ids(&*first).await.len(), 20);
    assert_eq!(all_ids(&*second).await.len(), 20);
}

async fn sqlite_store(path: &std::path::Path) -> Arc<dyn Store> {
    let window = WINDOW.as_secs().to_string();
    let settings = settings(&[
        "--db-path",
        path.to_str().unwrap(),
        "--idempotency-window",
        &window,
    ]);
    Arc::new(SqliteStore::open(&settings).await.unwrap())
}

#[tokio::test]
async fn sqlite_store_conforms() {
    let folder = tempfile::TempDir::new().unwrap();
    conforms(sqlite_store(&folder.path().join("nested/folder/conformance.db")).await).await;
    keeps_one_analysis_per_key(sqlite_store(&folder.path().join("keys.db")).await).await;
    let shared = folder.path().join("shared.db");
    resolves_one_key_across_instances(sqlite_store(&shared).await, sqlite_store(&shared).await)
        .await;
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
    conforms(mongo_store(&uri, &collection).await).await;
    keeps_one_analysis_per_key(mongo_store(&uri, &format!("{collection}_keys")).await).await;
    let shared = format!("{collection}_shared");
    resolves_one_key_across_instances(
        mongo_store(&uri, &shared).await,
        mongo_store(&uri, &shared).await,
    )
    .await;
    let _ = writeln!(
        std::io::stderr(),
        "MongoDB conformance tests ran against {uri} (collections sentiment_tests.{collection}*)"
    );
}

async fn mongo_store(uri: &str, collection: &str) -> Arc<dyn Store> {
    let window = WINDOW.as_secs().to_string();
    let settings = settings(&[
        "--mongodb-uri",
        uri,
        "--mongodb-database",
        "sentiment_tests",
        "--mongodb-collection",
        collection,
        "--mongodb-write-concern",
        "1",
        "--idempotency-window",
        &window,
    ]);
    Arc::new(MongoStore::connect(uri, &settings).await.unwrap())
}

fn uuid_like() -> String {
    format!(
        "{}_{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}
