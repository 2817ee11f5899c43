//! Forwarding behaviour: headers both ways, the host a request names, bad input, admin
//! authentication and metrics, and configuration errors at start-up.

use std::time::Duration;

use test_support::balancer::{
    Balancer, TOKEN, Upstream, balancer_command, client, pattern, raw_exchange,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_are_set_and_hop_by_hop_ones_stripped() {
    let upstream = Upstream::start("a");
    let balancer = Balancer::start(&["--backend", &upstream.url()]);
    let response = client()
        .get(format!("{}/echo?q=1", balancer.url))
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-request-id", "req-42")
        .header("connection", "keep-alive, x-private")
        .header("x-private", "secret")
        .header("x-custom", "kept")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-upstream"], upstream.address.as_str());
    assert_eq!(response.headers()["x-request-id"], "req-42");
    let echoed: serde_json::Value = response.json().await.unwrap();
    let headers = &echoed["headers"];
    assert_eq!(echoed["path"], "/echo?q=1");
    assert_eq!(
        headers["x-forwarded-for"], "127.0.0.1",
        "a client's own X-Forwarded-For is not believed"
    );
    assert_eq!(headers["x-forwarded-proto"], "http");
    let host = balancer.url.trim_start_matches("http://");
    assert_eq!(headers["x-forwarded-host"], host);
    assert_eq!(headers["host"], host, "the client's Host is passed on");
    assert_eq!(headers["x-request-id"], "req-42");
    assert_eq!(headers["x-custom"], "kept");
    assert!(headers.get("x-private").is_none());

    let generated = client()
        .get(format!("{}/echo", balancer.url))
        .send()
        .await
        .unwrap();
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let echoed: serde_json::Value = generated.json().await.unwrap();
    assert_eq!(
        echoed["headers"]["x-request-id"],
        id.as_str(),
        "a generated id goes upstream too"
    );

    // Behind a trusted proxy, its X-Forwarded-For is extended instead.
    let (_dir, config) =
        test_support::balancer::config_file("[proxy]\ntrusted_proxies = [\"127.0.0.0/8\"]\n");
    let trusting = Balancer::start(&["--config", &config, "--backend", &upstream.url()]);
    let echoed: serde_json::Value = client()
        .get(format!("{}/echo", trusting.url))
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        echoed["headers"]["x-forwarded-for"],
        "203.0.113.9, 127.0.0.1"
    );
    assert_eq!(echoed["headers"]["x-forwarded-proto"], "https");
}

#[test]
fn a_target_in_absolute_form_names_the_host_over_the_clients_host_field() {
    let upstream = Upstream::start("a");
    let balancer = Balancer::start(&["--backend", &upstream.url()]);
    let address = balancer.url.trim_start_matches("http://");
    let get = |target: &str, host: &str| {
        let head = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        raw_exchange(address, head.as_bytes())
    };
    // RFC 9112 section 3.2.2: the target's authority overrides Host, and a proxy makes the
    // Host it forwards from the target.
    let answer = get("http://a.example/cached/absolute", "b.example");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let echoed: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(echoed["headers"]["host"], "a.example", "{echoed}");
    assert_eq!(
        echoed["headers"]["x-forwarded-host"], "a.example",
        "{echoed}"
    );
    // Stored under the target's host, where its own clients find it; not under the other.
    assert!(get("/cached/absolute", "a.example").contains("x-cache: HIT"));
    assert!(get("/cached/absolute", "b.example").contains("x-cache: MISS"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_stream_both_ways_and_connections_are_reused() {
    let upstream = Upstream::start("a");
    // One proxy thread: upstream connections are pooled per thread.
    let balancer = Balancer::start(&["--backend", &upstream.url(), "--threads", "1"]);
    let body: Vec<u8> = (0..600_000).map(pattern).collect();

    // Chunked from the client (no length): chunked to the backend, whose echo comes back
    // chunked too.
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(7_001).map(|c| Ok(c.to_vec())).collect();
    let response = client()
        .post(format!("{}/echo-body", balancer.url))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            pieces,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.content_length().is_none(), "the echo is chunked");
    assert!(
        response.bytes().await.unwrap() == body,
        "chunked echo differs"
    );

    // A sized body larger than the retry buffer streams with its Content-Length.
    let response = client()
        .post(format!("{}/echo-body", balancer.url))
        .body(body[..200_000].to_vec())
        .send()
        .await
        .unwrap();
    assert!(
        response.bytes().await.unwrap() == body[..200_000],
        "sized echo differs"
    );

    // Responses larger than any read buffer, and one with nothing after the head.
    for length in [0usize, 1, 4_096, 5_000_000] {
        let response = client()
            .get(format!("{}/large/{length}", balancer.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.content_length(), Some(length as u64));
        let got = response.bytes().await.unwrap();
        assert!(
            got.iter().copied().eq((0..length).map(pattern)),
            "body of {length} differs"
        );
    }
    let response = client()
        .head(format!("{}/large/1000", balancer.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-length"], "1000");
    assert!(response.bytes().await.unwrap().is_empty());

    // Sequential requests ride one upstream connection: the backend sees one peer port.
    let mut ports = std::collections::HashSet::new();
    for _ in 0..20 {
        let echoed: serde_json::Value = client()
            .get(format!("{}/echo", balancer.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ports.insert(echoed["peer"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        ports.len(),
        1,
        "upstream connections were not reused: {ports:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clean_4xx() {
    let upstream = Upstream::start("a");
    let balancer = Balancer::start(&["--backend", &upstream.url()]);
    let address = balancer.url.trim_start_matches("http://").to_owned();

    let garbage = raw_exchange(&address, b"NOT HTTP AT ALL\r\n\r\n");
    assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage}");
    assert!(
        garbage.contains("\"error\":\"malformed_request\""),
        "{garbage}"
    );

    let huge_header = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200_000)
    );
    let answer = raw_exchange(&address, huge_header.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    let too_big = client()
        .post(format!("{}/analyze", balancer.url))
        .body(vec![b'x'; 2 << 20])
        .send()
        .await;
    if let Ok(response) = too_big {
        assert_eq!(response.status(), 413);
    }
    assert_eq!(
        upstream
            .behaviour
            .post_hits
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );

    // The balancer is still serving.
    let ok = client()
        .get(format!("{}/plain", balancer.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_requires_the_token() {
    let upstream = Upstream::start("a");
    let balancer = Balancer::start(&["--backend", &upstream.url()]);
    let client = client();
    for path in ["/backends", "/metrics", "/cache/purge"] {
        let anonymous = client
            .get(format!("{}{path}", balancer.admin))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401, "{path}");
        let wrong = client
            .get(format!("{}{path}", balancer.admin))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{path}");
        let body: serde_json::Value = wrong.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized");
    }
    let allowed = client
        .get(format!("{}/backends", balancer.admin))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_adds_drains_removes_and_reports_metrics() {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    let balancer = Balancer::start(&["--backend", &a.url()]);
    let client = client();
    let admin = |method: reqwest::Method, path: &str| {
        client
            .request(method, format!("{}{path}", balancer.admin))
            .bearer_auth(TOKEN)
    };
    let added = admin(reqwest::Method::POST, "/backends")
        .json(&serde_json::json!({ "address": b.url() }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let duplicate = admin(reqwest::Method::POST, "/backends")
        .json(&serde_json::json!({ "address": b.url() }))
        .send()
        .await
        .unwrap();
    assert_eq!(duplicate.status(), 409);
    let bad = admin(reqwest::Method::POST, "/backends")
        .json(&serde_json::json!({ "address": "ftp://x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(
        test_support::balancer::eventually(Duration::from_secs(10), || async {
            test_support::balancer::backend_view(&client, &balancer, &b.address)
                .await
                .is_some_and(|v| v["healthy"] == true)
        })
        .await
    );

    let drained = admin(
        reqwest::Method::POST,
        &format!("/backends/{}/drain", a.address),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(drained.status(), 200);
    for _ in 0..6 {
        assert_eq!(
            test_support::balancer::get(&client, &format!("{}/plain", balancer.url))
                .await
                .1,
            b.address
        );
    }
    let removed = admin(reqwest::Method::DELETE, &format!("/backends/{}", a.address))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    let list = test_support::balancer::admin_json(&client, &balancer, "/backends").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["requests"], 6);

    let workers = admin(reqwest::Method::POST, "/workers")
        .json(&serde_json::json!({ "count": 3 }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        workers.status(),
        409,
        "static backends have no managed workers"
    );

    let metrics = admin(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let requests = format!(
        "balancer_backend_requests_total{{backend=\"{}\"}} 6",
        b.address
    );
    for needle in [
        requests.as_str(),
        "balancer_backend_errors_total",
        "balancer_backend_latency_seconds_bucket",
        "balancer_cache_requests_total{status=\"hit\"}",
        "balancer_cache_bytes",
    ] {
        assert!(
            metrics.contains(needle),
            "metrics lack {needle}:\n{metrics}"
        );
    }
}

#[test]
fn bad_configuration_fails_at_start_with_the_field_named() {
    let (_dir, config) = test_support::balancer::config_file("[health]\nfall = 0\n");
    let output = balancer_command(&["--config", &config])
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("health.fall: must be > 0"), "{stderr}");

    let output = balancer_command(&["--backend", "http://nowhere"])
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("backends[0]"));
}
