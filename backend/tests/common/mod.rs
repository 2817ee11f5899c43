//! Starts the real `backend` binary on a free port, as a user would, and talks HTTP to it.

#![allow(dead_code)] // each test file uses its own subset of these helpers

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

pub struct TestApp {
    child: Child,
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
        let logs = Logs::default();
        let stderr = app.child.stderr.take().unwrap();
        let lines = Arc::clone(&logs.lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).split(b'\n') {
                let Ok(line) = line else { break };
                lines
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&line).into_owned());
            }
        });
        (app, logs)
    }

    fn start(args: &[String], rust_log: &str, stderr: Stdio, env: &[(&str, &str)]) -> TestApp {
        let mut child = Command::new(env!("CARGO_BIN_EXE_backend"))
            .args(["--port", "0", "--workers", "2"])
            .args(["--static-dir", static_dir().to_str().unwrap()])
            .args(args)
            .env("RUST_LOG", rust_log)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("the backend binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the backend's stdout");
        let address = line
            .trim()
            .strip_prefix("backend listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from the backend: {line:?}"))
            .to_owned();
        TestApp {
            child,
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
            .header("idempotency-key", key)
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
        response.json().await.unwrap()
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
            let response = self.client.get(self.url(&path)).send().await.unwrap();
            assert_eq!(response.status(), 200);
            next = next_link(&response);
            let page: Vec<Value> = response.json().await.unwrap();
            all.extend(page);
        }
        all
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        self.wait_for_exit(Duration::from_secs(30))
    }

    fn wait_for_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the backend did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines a backend wrote on stderr so far.
#[derive(Default, Clone)]
pub struct Logs {
    lines: Arc<Mutex<Vec<String>>>,
}

impl Logs {
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until a line contains `needle`, then returns every line so far.
    pub fn wait_for(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines = self.lines();
            if lines.iter().any(|line| line.contains(needle)) {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?} in:\n{}",
                lines.join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
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

pub fn static_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend")
}

/// A backend on a fresh embedded store in its own temporary folder.
pub fn spawn_fresh() -> (TestApp, TempDir) {
    let folder = TempDir::new().unwrap();
    let app = TestApp::spawn(&folder.path().join("store.db"), &[]);
    (app, folder)
}
