//! `backend backup` and `backend restore`, run as a user would: a backup taken while a running
//! backend keeps writing holds every analysis acknowledged before it started, a restore into a
//! fresh store serves them all again, and every refusal is clear and leaves nothing behind.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;
use serde_json::Value;
use tempfile::TempDir;
use test_support::backend::{TestApp, spawn_fresh};

fn backend(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backend"))
        .args(args)
        .env_remove("SQLITE_PATH")
        .output()
        .expect("the backend binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn ids(history: &[Value]) -> HashSet<String> {
    history
        .iter()
        .map(|analysis| analysis["id"].as_str().expect("ids are strings").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_restores_every_analysis_acknowledged_before_it() {
    let (app, folder) = spawn_fresh();
    let mut before = HashSet::new();
    for n in 0..300 {
        before.insert(
            app.analyze_ok(&format!("before the backup {n}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // Writers keep going while the backup runs: it must not wait for them, nor they for it.
    let writing = Arc::new(AtomicBool::new(true));
    let writers = tokio::spawn({
        let (client, url, writing) = (app.client.clone(), app.url("/analyze"), writing.clone());
        async move {
            let mut written = 0usize;
            while writing.load(Ordering::Relaxed) {
                written += futures_util::stream::iter(0..20)
                    .map(|n| {
                        let (client, url) = (client.clone(), url.clone());
                        async move {
                            let body = serde_json::json!({ "text": format!("during {n}") });
                            client
                                .post(url)
                                .json(&body)
                                .send()
                                .await
                                .ok()?
                                .status()
                                .is_success()
                                .then_some(())
                        }
                    })
                    .buffer_unordered(20)
                    .filter_map(|ok| async move { ok })
                    .count()
                    .await;
            }
            written
        }
    });
    let store = folder.path().join("store.db");
    let backup_file = folder.path().join("backup.db");
    let backup_output = tokio::task::spawn_blocking({
        let (store, backup_file) = (store.clone(), backup_file.clone());
        move || {
            backend(&[
                "backup",
                "--db-path",
                path(&store),
                "--to",
                path(&backup_file),
            ])
        }
    })
    .await
    .unwrap();
    writing.store(false, Ordering::Relaxed);
    let written_during = writers.await.unwrap();
    assert!(
        backup_output.status.success(),
        "backup failed: {}",
        text(&backup_output.stderr)
    );
    let said = text(&backup_output.stdout);
    assert!(said.starts_with("backed up "), "{said}");
    assert!(written_during > 0, "writes went on during the backup");
    assert!(
        !folder.path().join("backup.db.partial").exists(),
        "no partial file is left"
    );
    assert!(
        !folder.path().join("backup.db-wal").exists(),
        "the backup is one self-contained file"
    );

    let fresh = TempDir::new().unwrap();
    let restored_store = fresh.path().join("nested").join("restored.db");
    let restore_output = backend(&[
        "restore",
        "--from",
        path(&backup_file),
        "--db-path",
        path(&restored_store),
    ]);
    assert!(
        restore_output.status.success(),
        "restore failed: {}",
        text(&restore_output.stderr)
    );
    let restored_said = text(&restore_output.stdout);
    let counted = said
        .split(" from ")
        .next()
        .unwrap()
        .trim_start_matches("backed up ");
    assert!(
        restored_said.starts_with(&format!("restored {counted} from ")),
        "the restore holds what the backup said: {said} / {restored_said}"
    );

    let restored = TestApp::spawn(&restored_store, &[]);
    let restored_ids = ids(&restored.whole_history(500).await);
    let missing: Vec<_> = before.difference(&restored_ids).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup but not restored: {missing:?}"
    );
    let original_ids = ids(&app.whole_history(500).await);
    assert!(
        restored_ids.is_subset(&original_ids),
        "the restore holds nothing the original never had"
    );
    restored
        .analyze_ok("the restored store takes new analyses")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_store_that_holds_analyses_unless_told_to_replace() {
    let (app, folder) = spawn_fresh();
    app.analyze_ok("kept in the backup").await;
    let store = folder.path().join("store.db");
    let backup_file = folder.path().join("backup.db");
    assert!(
        backend(&[
            "backup",
            "--db-path",
            path(&store),
            "--to",
            path(&backup_file)
        ])
        .status
        .success()
    );

    let other = TempDir::new().unwrap();
    let busy_store = other.path().join("busy.db");
    let busy = TestApp::spawn(&busy_store, &[]);
    busy.analyze_ok("one").await;
    busy.analyze_ok("two").await;
    drop(busy);

    let refused = backend(&[
        "restore",
        "--from",
        path(&backup_file),
        "--db-path",
        path(&busy_store),
    ]);
    assert!(!refused.status.success());
    let message = text(&refused.stderr);
    assert!(message.contains("already holds 2 analyses"), "{message}");
    assert!(message.contains("--replace"), "{message}");

    let replaced = backend(&[
        "restore",
        "--from",
        path(&backup_file),
        "--db-path",
        path(&busy_store),
        "--replace",
    ]);
    assert!(replaced.status.success(), "{}", text(&replaced.stderr));
    assert!(text(&replaced.stdout).starts_with("restored 1 analyses"));
    let restored = TestApp::spawn(&busy_store, &[]);
    let history = restored.whole_history(50).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["text"], "kept in the backup");
}

#[test]
fn refusals_are_clear_and_leave_nothing_behind() {
    let folder = TempDir::new().unwrap();
    let missing = folder.path().join("missing.db");
    let target = folder.path().join("backup.db");

    let output = backend(&["backup", "--db-path", path(&missing), "--to", path(&target)]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("no store at"),
        "{}",
        text(&output.stderr)
    );
    assert!(!target.exists());

    let not_a_store = folder.path().join("notes.txt");
    std::fs::write(
        &not_a_store,
        "these are not analyses, just some text long enough",
    )
    .unwrap();
    let output = backend(&[
        "restore",
        "--from",
        path(&not_a_store),
        "--db-path",
        path(&target),
    ]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("is not a sentiment store"),
        "{}",
        text(&output.stderr)
    );

    let output = backend(&[
        "backup",
        "--db-path",
        path(&not_a_store),
        "--to",
        path(&target),
    ]);
    assert!(!output.status.success());
    assert!(!target.exists(), "a failed backup leaves no file");
    assert!(
        !folder.path().join("backup.db.partial").exists(),
        "nor a partial one"
    );

    std::fs::write(&target, "taken").unwrap();
    let output = backend(&[
        "backup",
        "--db-path",
        path(&not_a_store),
        "--to",
        path(&target),
    ]);
    assert!(
        text(&output.stderr).contains("already exists"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "taken",
        "an existing file is never overwritten"
    );

    let output = backend(&["backup"]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("--to"),
        "usage names the missing flag"
    );
}

#[test]
fn the_servers_help_points_at_the_backup_commands() {
    let output = backend(&["--help"]);
    assert!(output.status.success());
    assert!(text(&output.stdout).contains("backend backup --help"));
}
