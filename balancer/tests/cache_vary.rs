//! RFC 9111 section 4.1 through the real balancer: a stored response is reused for requests
//! whose `Vary` fields mean the same after normalising (whitespace, combined lines, and case
//! and order for the Accept-* token lists), never for `Vary: *`.

use test_support::balancer::{Balancer, Script, ScriptedOrigin, client};

async fn x_cache(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> String {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    response.headers()["x-cache"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equivalent_vary_values_share_a_stored_response() {
    let origin = ScriptedOrigin::start();
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    let client = client();
    origin.script(
        "/lang",
        Script::new(
            200,
            &[
                ("cache-control", "max-age=3600"),
                ("vary", "Accept-Language, Foo"),
            ],
            "negotiated",
        ),
    );
    let url = format!("{}/lang", balancer.url);
    let stored = [("accept-language", "en, de"), ("foo", "1,2")];
    assert_eq!(x_cache(&client, &url, &stored).await, "MISS");
    for same in [
        [("accept-language", "de, en"), ("foo", "1,2")],
        [("accept-language", "eN, De"), ("foo", " 1, 2 ")],
        [("accept-language", " en ,   de"), ("foo", "1 ,2")],
    ] {
        assert_eq!(x_cache(&client, &url, &same).await, "HIT", "{same:?}");
    }
    // Two field lines are the same as one combined.
    let response = client
        .get(&url)
        .header("accept-language", "en")
        .header("accept-language", "de")
        .header("foo", "1, 2")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-cache"], "HIT");
    // Order and case matter for a field not known to be an unordered token list.
    let different = [("accept-language", "en, de"), ("foo", "2,1")];
    assert_eq!(x_cache(&client, &url, &different).await, "MISS");
    let different = [("accept-language", "en, fr"), ("foo", "1,2")];
    assert_eq!(x_cache(&client, &url, &different).await, "MISS");
    assert_eq!(origin.received("/lang").len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vary_star_never_matches() {
    let origin = ScriptedOrigin::start();
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    let client = client();
    origin.script(
        "/star",
        Script::new(
            200,
            &[("cache-control", "max-age=3600"), ("vary", "*")],
            "x",
        ),
    );
    let url = format!("{}/star", balancer.url);
    for _ in 0..3 {
        assert_eq!(x_cache(&client, &url, &[]).await, "MISS");
    }
    assert_eq!(origin.received("/star").len(), 3);
}
