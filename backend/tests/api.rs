//! The HTTP API as clients see it: analyse, history, pagination, headers.

use serde_json::Value;
use test_support::backend::{next_link, spawn_fresh};

#[tokio::test]
async fn analyze_answers_scores_and_history_returns_it() {
    let (app, _store) = spawn_fresh();
    let analysis = app.analyze_ok("VADER is smart, handsome, and funny!").await;
    assert_eq!(analysis["text"], "VADER is smart, handsome, and funny!");
    assert_eq!(analysis["sentiment"], 0.8439);
    assert_eq!(analysis["label"], "positive");
    assert_eq!(analysis["scores"]["compound"], 0.8439);
    assert_eq!(analysis["scores"]["pos"], 0.752);
    assert_eq!(analysis["scores"]["neu"], 0.248);
    assert_eq!(analysis["scores"]["neg"], 0.0);
    assert!(analysis["id"].is_string());
    assert!(analysis["created_at"].as_str().unwrap().ends_with('Z'));

    let negative = app.analyze_ok("This is the worst service ever :(").await;
    assert_eq!(negative["label"], "negative");
    let neutral = app.analyze_ok("The train leaves at noon.").await;
    assert_eq!(neutral["label"], "neutral");

    let response = app.history("").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["cache-control"].to_str().unwrap(),
        "public, max-age=2"
    );
    let history: Vec<Value> = response.json().await.unwrap();
    assert_eq!(history, vec![neutral, negative, analysis], "newest first");
}

#[tokio::test]
async fn analyze_is_never_cached_and_carries_a_request_id() {
    let (app, _store) = spawn_fresh();
    let response = app
        .client
        .post(app.url("/analyze"))
        .header("x-request-id", "trace-me-42")
        .json(&serde_json::json!({"text": "fine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");

    let generated = app.history("").await;
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 32, "a fresh UUID when none was sent: {id}");
}

#[tokio::test]
async fn history_pages_follow_the_cursor_without_gaps_or_repeats() {
    let (app, _store) = spawn_fresh();
    let mut ids = Vec::new();
    for n in 0..23 {
        let analysis = app.analyze_ok(&format!("text number {n} is good")).await;
        ids.push(analysis["id"].as_str().unwrap().to_owned());
    }
    ids.reverse();

    let first = app.history("?limit=10").await;
    let link = next_link(&first).expect("a next link on a full page");
    let page: Vec<Value> = first.json().await.unwrap();
    assert_eq!(page.len(), 10);
    assert_eq!(link, format!("/history?limit=10&before={}", ids[9]));

    let all = app.whole_history(10).await;
    let seen: Vec<&str> = all.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(seen, ids);

    let last = app.history(&format!("?limit=10&before={}", ids[19])).await;
    assert!(next_link(&last).is_none(), "no next link on the last page");
    assert_eq!(last.json::<Vec<Value>>().await.unwrap().len(), 3);
}

#[tokio::test]
async fn default_page_is_fifty_and_limit_caps_at_five_hundred() {
    let (app, _store) = spawn_fresh();
    for n in 0..55 {
        app.analyze_ok(&format!("entry {n}")).await;
    }
    let page: Vec<Value> = app.history("").await.json().await.unwrap();
    assert_eq!(page.len(), 50);
    let page: Vec<Value> = app.history("?limit=500").await.json().await.unwrap();
    assert_eq!(page.len(), 55);
}

#[tokio::test]
async fn static_files_are_served_with_validators_and_security_headers() {
    let (app, _store) = spawn_fresh();
    let response = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(headers.contains_key("etag"));
    assert!(headers.contains_key("last-modified"));
    assert_eq!(headers["cache-control"], "public, max-age=300");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'self'")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");

    let etag = headers["etag"].clone();
    let revalidated = app
        .client
        .get(app.url("/"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
}

#[tokio::test]
async fn the_frontend_tooling_is_not_served() {
    let (app, _store) = spawn_fresh();
    for private in [
        "/package.json",
        "/tests/e2e.test.mjs",
        "/node_modules/playwright-core/package.json",
    ] {
        let response = app.client.get(app.url(private)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{private} must not be served");
    }
    let script = app.client.get(app.url("/app.js")).send().await.unwrap();
    assert_eq!(script.status(), 200);
}

#[tokio::test]
async fn health_readiness_and_limits() {
    let (app, _store) = spawn_fresh();
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");
    let limits: Value = app
        .client
        .get(app.url("/limits"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(limits["max_text_chars"], 10_000);
    assert_eq!(limits["max_body_bytes"], 65_536);
}
