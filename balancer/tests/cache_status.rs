//! RFC 9211 through the real balancer: `Cache-Status` says how the cache took part (hit, or the
//! reason it forwarded: uri-miss, vary-miss, request, method; stored; ttl) while `X-Cache`
//! keeps its values; with the cache off, neither is sent.

use test_support::balancer::{Balancer, Script, ScriptedOrigin, client};

fn labels(response: &reqwest::Response) -> (String, String) {
    let header = |name: &str| {
        let values: Vec<_> = response
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        values.join(", ")
    };
    (header("x-cache"), header("cache-status"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_status_names_hits_and_why_requests_went_forward() {
    let origin = ScriptedOrigin::start();
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    let client = client();
    origin.script(
        "/page",
        Script::new(200, &[("cache-control", "max-age=60")], "page"),
    );
    let url = format!("{}/page", balancer.url);

    let miss = client.get(&url).send().await.unwrap();
    assert_eq!(
        labels(&miss),
        (
            "MISS".into(),
            "balancer; fwd=uri-miss; fwd-status=200; stored; ttl=60".into()
        )
    );
    let hit = client.get(&url).send().await.unwrap();
    let (x_cache, cache_status) = labels(&hit);
    assert_eq!(x_cache, "HIT");
    assert!(
        ["balancer; hit; ttl=60", "balancer; hit; ttl=59"].contains(&cache_status.as_str()),
        "{cache_status}"
    );
    let opted_out = client
        .get(&url)
        .header("cache-control", "no-cache")
        .send()
        .await
        .unwrap();
    assert_eq!(
        labels(&opted_out),
        (
            "BYPASS".into(),
            "balancer; fwd=request; fwd-status=200".into()
        )
    );
    let posted = client.post(&url).body("x").send().await.unwrap();
    assert_eq!(
        labels(&posted),
        (
            "BYPASS".into(),
            "balancer; fwd=method; fwd-status=200".into()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_variant_is_a_vary_miss_and_origin_members_come_first() {
    let origin = ScriptedOrigin::start();
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    let client = client();
    origin.script(
        "/varied",
        Script::new(
            200,
            &[
                ("cache-control", "max-age=60"),
                ("vary", "accept-language"),
                ("cache-status", "origin-cache; fwd=uri-miss"),
            ],
            "v",
        ),
    );
    let url = format!("{}/varied", balancer.url);
    let get = |language: &'static str| client.get(&url).header("accept-language", language).send();
    let first = get("en").await.unwrap();
    assert_eq!(
        labels(&first).1,
        "origin-cache; fwd=uri-miss, balancer; fwd=uri-miss; fwd-status=200; stored; ttl=60"
    );
    let other = get("fr").await.unwrap();
    assert_eq!(
        labels(&other),
        (
            "MISS".into(),
            "origin-cache; fwd=uri-miss, balancer; fwd=vary-miss; fwd-status=200; stored; ttl=60"
                .into()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_cache_off_responses_carry_no_cache_labels_but_keep_the_origins() {
    let origin = ScriptedOrigin::start();
    let balancer = Balancer::start(&["--backend", &origin.url(), "--cache-max-bytes", "0"]);
    let client = client();
    origin.script(
        "/page",
        Script::new(
            200,
            &[
                ("cache-control", "max-age=60"),
                ("cache-status", "origin-cache; hit"),
            ],
            "page",
        ),
    );
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let response = client
            .request(method.clone(), format!("{}/page", balancer.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{method}");
        assert_eq!(
            labels(&response),
            (String::new(), "origin-cache; hit".into()),
            "{method}"
        );
        assert!(response.headers().contains_key("x-request-id"), "{method}");
    }
}
