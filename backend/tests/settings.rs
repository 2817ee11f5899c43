//! How the binary is configured from outside: the `BACKEND_` environment variables, the old
//! names they replace (still read; the new name wins, a flag wins over both), and `--threads`
//! with its old name `--workers`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use test_support::backend::{TestApp, static_dir};
use test_support::poll::wait_for;
use test_support::{Process, cargo_binary};

/// Variables added to a backend's environment, and flags added to its command line.
type Env = &'static [(&'static str, &'static str)];
type Args = &'static [&'static str];

/// A backend on a fresh store, with `env` in its environment.
fn spawn_with_env(folder: &Path, args: &[&str], env: &[(&str, &str)]) -> TestApp {
    let mut all = vec![
        "--db-path".to_owned(),
        folder.join("store.db").display().to_string(),
    ];
    all.extend(args.iter().map(|arg| (*arg).to_owned()));
    TestApp::spawn_logged(&all, "warn", env).0
}

/// The longest text the backend accepts, read from its refusal of a longer one.
async fn text_limit(app: &TestApp) -> String {
    let response = app.analyze(&"a".repeat(20)).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "text_too_long");
    let message = body["message"].as_str().unwrap().to_owned();
    message
        .rsplit("the limit is ")
        .next()
        .unwrap()
        .trim_end_matches('.')
        .to_owned()
}

#[actix_web::test]
async fn old_and_new_environment_names_both_work_and_the_new_one_wins() {
    let folder = TempDir::new().unwrap();
    let cases: [(Env, Args, &str); 4] = [
        (&[("MAX_TEXT_CHARS", "5")], &[], "5"),
        (&[("BACKEND_MAX_TEXT_CHARS", "6")], &[], "6"),
        (
            &[("MAX_TEXT_CHARS", "5"), ("BACKEND_MAX_TEXT_CHARS", "6")],
            &[],
            "6",
        ),
        (
            &[("MAX_TEXT_CHARS", "5"), ("BACKEND_MAX_TEXT_CHARS", "6")],
            &["--max-text-chars", "7"],
            "7",
        ),
    ];
    for (env, args, limit) in cases {
        let app = spawn_with_env(folder.path(), args, env);
        assert_eq!(text_limit(&app).await, limit, "{env:?} {args:?}");
    }
}

#[actix_web::test]
async fn the_store_path_follows_backend_db_path_over_sqlite_path() {
    let folder = TempDir::new().unwrap();
    let (old, new) = (folder.path().join("old.db"), folder.path().join("new.db"));
    let old_only = TestApp::spawn_logged(&[], "warn", &[("SQLITE_PATH", old.to_str().unwrap())]).0;
    old_only.analyze_ok("stored through the old name").await;
    drop(old_only);
    assert!(old.exists());

    let both = TestApp::spawn_logged(
        &[],
        "warn",
        &[
            ("SQLITE_PATH", old.to_str().unwrap()),
            ("BACKEND_DB_PATH", new.to_str().unwrap()),
        ],
    )
    .0;
    both.analyze_ok("stored through the new name").await;
    let history = both.whole_history(10).await;
    assert_eq!(
        history.len(),
        1,
        "only the new store's analysis: {history:?}"
    );
    assert_eq!(history[0]["text"], "stored through the new name");
    assert!(new.exists());
}

/// The HTTP threads of a running backend (actix names each `actix-rt|system...`).
fn http_threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("actix-rt|system"))
        .count()
}

#[test]
fn threads_is_set_by_its_flag_its_old_flag_and_both_variables() {
    let folder = TempDir::new().unwrap();
    let db_path = folder.path().join("store.db");
    let cases: [(Args, Env, usize); 5] = [
        (&["--threads", "3"], &[], 3),
        (&["--workers", "1"], &[], 1),
        (&[], &[("BACKEND_THREADS", "3")], 3),
        (&[], &[("WORKERS", "1")], 1),
        (&[], &[("WORKERS", "1"), ("BACKEND_THREADS", "3")], 3),
    ];
    for (args, env, expected) in cases {
        // Started by hand: the harness's own `--threads` would hide the variables.
        let process = Process::spawn(
            Command::new(cargo_binary("backend"))
                .args(["--port", "0", "--db-path"])
                .arg(&db_path)
                .arg("--static-dir")
                .arg(static_dir())
                .args(args)
                .envs(env.iter().copied())
                .env("RUST_LOG", "warn"),
        );
        process.backend_url(Duration::from_secs(60));
        let pid = process.pid();
        let counted = wait_for(Duration::from_secs(10), || {
            let threads = http_threads(pid);
            (threads == expected).then_some(threads)
        });
        assert_eq!(
            counted,
            Some(expected),
            "{args:?} {env:?}: {} HTTP threads",
            http_threads(pid)
        );
    }
}
