//! The real `backend` binary on a free port, as a user would start it, and the HTTP calls its
//! tests make.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use backend::contract::headers::IDEMPOTENCY_KEY;
use serde_json::{Value, json};
use tempfile::TempDir;

pub use crate::process::Logs;

use crate::process::{Process, cargo_binary};

pub struct TestApp {
    process: Process,
    pub address: String,
    pub client: reqwest::Client,
}

impl TestApp {
    /// Starts a backend on the embedded store at `db_path` and waits until it listens.
    pub fn spawn(db_path: &Path, extra_args: &[&str]) -> TestApp {
        let mut args = vec!["--db-path".to_owned(), db_path.display().to_string()];
        args.extend(extra_args.iter().map(|arg| (*arg).to_owned()));
        TestApp::spawn_with(&args)
    }

    pub fn spawn_with(args: &[String]) -> TestApp {
        TestApp::start(args, "warn", Stdio::inherit(), &[])
    }

    /// Starts a backend logging at `rust_log`, with `env` added to its environment, and
    /// collects what it writes on stderr.
    pub fn spawn_logged(args: &[String], rust_log: &str, env: &[(&str, &str)]) -> (TestApp, Logs) {
        let mut app = TestApp::start(args, rust_log, Stdio::piped(), env);
        let stderr = app.process.take_stderr().expect("stderr is piped");
        (app, Logs::capture(stderr))
    }

    fn start(args: &[String], rust_log: &str, stderr: Stdio, env: &[(&str, &str)]) -> TestApp {
        let static_dir = static_dir();
        let process = Process::spawn(
            Command::new(cargo_binary("backend"))
                .args(["--port", "0", "--threads", "2"])
                .arg("--static-dir")
                .arg(&static_dir)
                .args(args)
                .env("RUST_LOG", rust_log)
                .envs(env.iter().copied())
                .stderr(stderr),
        );
        let address = process.backend_url(Duration::from_secs(60));
        TestApp {
            process,
            address,
            client: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `POST /analyze` with an `Idempotency-Key` header holding `key` as given.
    pub async fn analyze_with_key(&self, text: &str, key: &str) -> reqwest::Response {
        self.client
            .post(self.url("/analyze"))
            .header(IDEMPOTENCY_KEY.as_str(), key)
            .json(&json!({ "text": text }))
            .send()
            .await
            .expect("POST /analyze")
    }

    pub async fn analyze(&self, text: &str) -> reqwest::Response {
        self.client
            .post(self.url("/analyze"))
            .json(&json!({ "text": text }))
            .send()
            .await
            .expect("POST /analyze")
    }

    /// Analyses a text, expecting success, and returns the stored record.
    pub async fn analyze_ok(&self, text: &str) -> Value {
        let response = self.analyze(text).await;
        assert_eq!(response.status(), 200, "analysing {text:?}");
        response.json().await.expect("a JSON analysis")
    }

    pub async fn history(&self, query: &str) -> reqwest::Response {
        self.client
            .get(self.url(&format!("/history{query}")))
            .send()
            .await
            .expect("GET /history")
    }

    /// Every stored analysis, newest first, following `Link: rel="next"` page by page.
    pub async fn whole_history(&self, page_size: usize) -> Vec<Value> {
        let mut all = Vec::new();
        let mut next = Some(format!("/history?limit={page_size}"));
        while let Some(path) = next.take() {
            let response = self
                .client
                .get(self.url(&path))
                .send()
                .await
                .expect("GET /history");
            assert_eq!(response.status(), 200);
            next = next_link(&response);
            let page: Vec<Value> = response.json().await.expect("a JSON page");
            all.extend(page);
        }
        all
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Sends SIGTERM and waits (up to 30 s) for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.process
            .terminate(Duration::from_secs(30))
            .expect("the backend exits within 30 s of SIGTERM")
    }
}

/// The path of `Link: <path>; rel="next"`, if any.
pub fn next_link(response: &reqwest::Response) -> Option<String> {
    let link = response.headers().get("link")?.to_str().ok()?;
    let (target, relation) = link.split_once(';')?;
    (relation.trim() == "rel=\"next\"").then(|| {
        target
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned()
    })
}

/// The frontend folder of the workspace, served at `/`.
pub fn static_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend")
}

/// A backend on a fresh embedded store in its own temporary folder.
pub fn spawn_fresh() -> (TestApp, TempDir) {
    let folder = TempDir::new().expect("a temporary folder");
    let app = TestApp::spawn(&folder.path().join("store.db"), &[]);
    (app, folder)
}
