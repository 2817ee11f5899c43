//! Every malformed, oversized or hostile input gets a precise 4xx with a JSON error body, and
//! nothing is stored.

use reqwest::StatusCode;
use serde_json::Value;
use test_support::backend::{TestApp, spawn_fresh};

async fn expect_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status for {code}");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "JSON body for {code}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| m.len() > 10),
        "a sentence for people: {body}"
    );
    body
}

async fn post_raw(app: &TestApp, content_type: Option<&str>, body: Vec<u8>) -> reqwest::Response {
    let mut request = app.client.post(app.url("/analyze")).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request.send().await.unwrap()
}

const JSON: Option<&str> = Some("application/json");

#[tokio::test]
async fn bad_bodies_are_refused_precisely_and_store_nothing() {
    let (app, _store) = spawn_fresh();
    let cases: Vec<(Option<&str>, Vec<u8>, u16, &str)> = vec![
        (JSON, b"{not json".to_vec(), 400, "invalid_json"),
        (JSON, b"".to_vec(), 400, "invalid_json"),
        (JSON, vec![0xff, 0xfe, b'{'], 400, "invalid_json"),
        (
            Some("text/plain"),
            br#"{"text":"hi"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            None,
            br#"{"text":"hi"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            Some("application/x-www-form-urlencoded"),
            b"text=hi".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (JSON, b"{}".to_vec(), 422, "missing_text"),
        (JSON, br#"{"txt":"typo"}"#.to_vec(), 422, "missing_text"),
        (JSON, br#"["text"]"#.to_vec(), 422, "missing_text"),
        (JSON, br#"{"text":42}"#.to_vec(), 422, "invalid_text"),
        (JSON, br#"{"text":null}"#.to_vec(), 422, "invalid_text"),
        (JSON, br#"{"text":["a"]}"#.to_vec(), 422, "invalid_text"),
        (JSON, br#"{"text":""}"#.to_vec(), 422, "empty_text"),
        (
            JSON,
            br#"{"text":" \n\t\u00a0 "}"#.to_vec(),
            422,
            "empty_text",
        ),
    ];
    for (content_type, body, status, code) in cases {
        expect_error(post_raw(&app, content_type, body).await, status, code).await;
    }

    let too_long = serde_json::json!({ "text": "a".repeat(10_001) }).to_string();
    let body = expect_error(
        post_raw(&app, JSON, too_long.into_bytes()).await,
        422,
        "text_too_long",
    )
    .await;
    assert!(body["message"].as_str().unwrap().contains("10000"));

    let oversized = serde_json::json!({ "text": "word ".repeat(20_000) }).to_string();
    expect_error(
        post_raw(&app, JSON, oversized.into_bytes()).await,
        413,
        "payload_too_large",
    )
    .await;

    let history: Vec<Value> = app.history("").await.json().await.unwrap();
    assert!(
        history.is_empty(),
        "refused inputs were stored: {history:?}"
    );
}

#[tokio::test]
async fn a_chunked_body_past_the_limit_is_refused() {
    let (app, _store) = spawn_fresh();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..100).map(|_| Ok(vec![b' '; 1024])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let response = app
        .client
        .post(app.url("/analyze"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    match response {
        Ok(response) => {
            expect_error(response, 413, "payload_too_large").await;
        }
        // The server may close the connection before the client finished sending.
        Err(error) => assert!(error.is_request() || error.is_body(), "{error}"),
    }
    let history: Vec<Value> = app.history("").await.json().await.unwrap();
    assert!(history.is_empty());
}

#[tokio::test]
async fn the_text_limit_is_configurable_and_counts_characters() {
    let folder = tempfile::TempDir::new().unwrap();
    let app = TestApp::spawn(&folder.path().join("s.db"), &["--max-text-chars", "5"]);
    assert_eq!(app.analyze("ééééé").await.status(), 200);
    expect_error(app.analyze("éééééé").await, 422, "text_too_long").await;
    let text = "a".repeat(5);
    assert_eq!(app.analyze(&text).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn hostile_text_is_stored_verbatim_as_data() {
    let (app, _store) = spawn_fresh();
    let hostile = "<img src=x onerror=alert(1)> '; DROP TABLE analyses; -- \u{0}\u{202e}";
    let stored = app.analyze_ok(hostile).await;
    assert_eq!(stored["text"], hostile);
    let history: Vec<Value> = app.history("").await.json().await.unwrap();
    assert_eq!(history[0]["text"], hostile);
}

#[tokio::test]
async fn bad_history_queries_are_refused() {
    let (app, _store) = spawn_fresh();
    for (query, status, code) in [
        ("?limit=0", 400, "invalid_limit"),
        ("?limit=501", 400, "invalid_limit"),
        ("?limit=-5", 400, "invalid_limit"),
        ("?limit=ten", 400, "invalid_limit"),
        ("?limit=", 400, "invalid_limit"),
        ("?before=abc", 400, "invalid_cursor"),
        ("?before=-1", 400, "invalid_cursor"),
        ("?before=", 400, "invalid_cursor"),
        ("?limit=1&limit=2", 400, "invalid_query"),
    ] {
        expect_error(app.history(query).await, status, code).await;
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json() {
    let (app, _store) = spawn_fresh();
    let missing = app
        .client
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    expect_error(missing, 404, "not_found").await;
    let traversal = app
        .client
        .get(app.url("/..%2F..%2Fetc%2Fpasswd"))
        .send()
        .await
        .unwrap();
    assert!(traversal.status().is_client_error());
    let wrong_method = app.client.get(app.url("/analyze")).send().await.unwrap();
    let allow = wrong_method.headers()["allow"].to_str().unwrap().to_owned();
    expect_error(wrong_method, 405, "method_not_allowed").await;
    assert_eq!(allow, "POST");
    let delete = app.client.delete(app.url("/history")).send().await.unwrap();
    expect_error(delete, 405, "method_not_allowed").await;
}
