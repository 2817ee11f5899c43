//! What the backend writes about itself: health probes stay out of the INFO log, access lines
//! escape what clients send, and no secret shows in `--help` or in the logs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;
use test_support::backend::{Logs, TestApp};

const SECRET_URI: &str =
    "mongodb://app:secret-password@127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300";

fn spawn_logged(rust_log: &str) -> (TestApp, Logs, TempDir) {
    let folder = TempDir::new().unwrap();
    let args = [
        "--db-path".to_owned(),
        folder.path().join("store.db").display().to_string(),
    ];
    let (app, logs) = TestApp::spawn_logged(&args, rust_log, &[]);
    (app, logs, folder)
}

async fn probe_then_analyze(app: &TestApp) {
    for path in ["/readyz", "/healthz", "/readyz", "/healthz"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    app.analyze_ok("logged at info").await;
}

fn probe_lines(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|line| line.contains("/readyz") || line.contains("/healthz"))
        .collect()
}

#[tokio::test]
async fn health_probes_are_logged_at_debug_not_info() {
    let (app, logs, _folder) = spawn_logged("info");
    probe_then_analyze(&app).await;
    let lines = logs.wait_for("\"POST /analyze HTTP/1.1\" 200");
    assert!(probe_lines(&lines).is_empty(), "{lines:#?}");

    // The same probes do show once the access log is at debug.
    let (app, logs, _folder) = spawn_logged("info,backend::access=debug");
    probe_then_analyze(&app).await;
    let lines = logs.wait_for("\"POST /analyze HTTP/1.1\" 200");
    assert_eq!(probe_lines(&lines).len(), 4, "{lines:#?}");
}

/// Sends raw bytes, as no HTTP client library would, and returns the status line.
fn send_raw(address: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn access_lines_escape_what_clients_send() {
    let (app, logs, _folder) = spawn_logged("info");
    let status = send_raw(
        &app.address,
        b"GET /forged\"\\x HTTP/1.1\r\nHost: t\r\nX-Request-Id: id\"x\\y\r\n\
          Connection: close\r\n\r\n",
    );
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    let lines = logs.wait_for("/forged");
    let line = lines.iter().find(|line| line.contains("/forged")).unwrap();
    assert!(
        line.contains(r#" "GET /forged\"\\x HTTP/1.1" 404 "#),
        "the quote and backslash are escaped inside the quoted field: {line}"
    );
    assert!(line.ends_with(r#" request_id=id\"x\\y"#), "{line}");

    // Control bytes never reach the log: the HTTP parser refuses them first.
    let status = send_raw(
        &app.address,
        b"GET /ctl\x1b[2J\x07 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(status.starts_with("HTTP/1.1 400"), "{status}");
    app.analyze_ok("a later request").await;
    let lines = logs.wait_for("\"POST /analyze HTTP/1.1\" 200");
    assert!(
        lines
            .iter()
            .all(|line| !line.contains('\x1b') && !line.contains('\x07')),
        "{lines:#?}"
    );
}

#[test]
fn help_never_prints_the_mongodb_uri() {
    let output = Command::new(env!("CARGO_BIN_EXE_backend"))
        .arg("--help")
        .env("MONGODB_URI", SECRET_URI)
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        help.contains("MONGODB_URI"),
        "the variable is documented: {help}"
    );
    assert!(!help.contains("secret-password"), "{help}");
    assert!(!help.contains("app:"), "{help}");
}

#[tokio::test]
async fn start_up_and_outage_logs_never_print_the_mongodb_uri() {
    // Everything at debug, the driver's own logging included.
    let (app, logs) = TestApp::spawn_logged(&[], "debug", &[("MONGODB_URI", SECRET_URI)]);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "the URI from the environment is used");
    assert_eq!(app.analyze("not stored").await.status(), 503);
    let lines = logs.wait_for("the store is unavailable");
    assert!(
        lines
            .iter()
            .any(|line| line.contains("storing analyses in the MongoDB"))
    );
    for line in &lines {
        assert!(!line.contains("secret-password"), "{line}");
    }
}

#[test]
fn a_malformed_mongodb_uri_stops_start_up_without_printing_it() {
    let output = Command::new(env!("CARGO_BIN_EXE_backend"))
        .args(["--port", "0"])
        .env(
            "MONGODB_URI",
            "mongodb://app:secret-password@127.0.0.1:notaport/",
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot open the store"), "{stderr}");
    assert!(!stderr.contains("secret-password"), "{stderr}");
}
