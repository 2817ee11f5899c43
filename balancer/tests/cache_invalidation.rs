//! RFC 9111 section 4.4 through the real balancer: a non-error answer to an unsafe method
//! invalidates the target URI and the same-origin `Location` / `Content-Location` URIs; an
//! error answer, a safe method or another origin's URI does not.

use test_support::balancer::{Balancer, Script, ScriptedOrigin, client};

const FRESH: &[(&str, &str)] = &[("cache-control", "max-age=3600")];

async fn x_cache(client: &reqwest::Client, url: &str) -> String {
    let response = client.get(url).send().await.unwrap();
    response.headers()["x-cache"].to_str().unwrap().to_owned()
}

/// Caches `path`, checks it is a HIT, then sends `method` to `target` answered by `answer`.
async fn cache_then_write(
    origin: &ScriptedOrigin,
    balancer: &Balancer,
    path: &str,
    method: &str,
    target: &str,
    answer: Script,
) -> String {
    // Redirects are the answer under test, not followed.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    origin.script(path, Script::new(200, FRESH, "stored"));
    let url = format!("{}{path}", balancer.url);
    assert_eq!(x_cache(&client, &url).await, "MISS");
    assert_eq!(x_cache(&client, &url).await, "HIT");
    origin.script(target, answer);
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let written = client
        .request(method, format!("{}{target}", balancer.url))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(written.headers()["x-cache"], "BYPASS", "{target}");
    x_cache(&client, &url).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsafe_methods_invalidate_their_target() {
    let origin = ScriptedOrigin::start();
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    for (i, method) in ["POST", "PUT", "DELETE", "PATCH", "M-SEARCH"]
        .iter()
        .enumerate()
    {
        let path = format!("/target/{i}?q=1");
        let after = cache_then_write(
            &origin,
            &balancer,
            &path,
            method,
            &path,
            Script::new(200, &[], "done"),
        )
        .await;
        assert_eq!(after, "MISS", "{method} must invalidate {path}");
    }
    // A redirect is not an error either.
    let after = cache_then_write(
        &origin,
        &balancer,
        "/target/redirected",
        "POST",
        "/target/redirected",
        Script::new(303, &[("location", "/elsewhere")], ""),
    )
    .await;
    assert_eq!(after, "MISS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_answers_and_safe_methods_invalidate_nothing() {
    let origin = ScriptedOrigin::start();
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    for (path, method, status) in [
        ("/kept/a", "POST", 500),
        ("/kept/b", "DELETE", 404),
        ("/kept/c", "OPTIONS", 200),
    ] {
        let after = cache_then_write(
            &origin,
            &balancer,
            path,
            method,
            path,
            Script::new(status, &[], "no"),
        )
        .await;
        assert_eq!(after, "HIT", "{method} answered {status} must keep {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn location_and_content_location_of_the_same_origin_are_invalidated() {
    let origin = ScriptedOrigin::start();
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    let host = balancer.url.trim_start_matches("http://").to_owned();
    let after = cache_then_write(
        &origin,
        &balancer,
        "/items/1",
        "POST",
        "/items",
        Script::new(201, &[("location", "/items/1")], ""),
    )
    .await;
    assert_eq!(after, "MISS", "a relative Location is invalidated");
    let absolute = format!("http://{host}/items/2?view=full");
    let after = cache_then_write(
        &origin,
        &balancer,
        "/items/2?view=full",
        "PUT",
        "/items/2",
        Script::new(200, &[("content-location", &absolute)], ""),
    )
    .await;
    assert_eq!(
        after, "MISS",
        "an absolute same-origin Content-Location is invalidated"
    );
    let after = cache_then_write(
        &origin,
        &balancer,
        "/items/3",
        "POST",
        "/items",
        Script::new(201, &[("location", "http://other.example/items/3")], ""),
    )
    .await;
    assert_eq!(after, "HIT", "another origin's URI is never invalidated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_variant_of_an_invalidated_uri_goes() {
    let origin = ScriptedOrigin::start();
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    let client = client();
    origin.script(
        "/varied",
        Script::new(
            200,
            &[
                ("cache-control", "max-age=3600"),
                ("vary", "accept-language"),
            ],
            "v",
        ),
    );
    let url = format!("{}/varied", balancer.url);
    let get = |language: &'static str| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let response = client
                .get(&url)
                .header("accept-language", language)
                .send()
                .await
                .unwrap();
            response.headers()["x-cache"].to_str().unwrap().to_owned()
        }
    };
    assert_eq!(get("en").await, "MISS");
    assert_eq!(get("fr").await, "MISS");
    assert_eq!(
        (get("en").await, get("fr").await),
        ("HIT".into(), "HIT".into())
    );
    origin.script("/varied", Script::new(204, &[], ""));
    client.delete(&url).send().await.unwrap();
    origin.script(
        "/varied",
        Script::new(
            200,
            &[
                ("cache-control", "max-age=3600"),
                ("vary", "accept-language"),
            ],
            "v",
        ),
    );
    assert_eq!(
        (get("en").await, get("fr").await),
        ("MISS".into(), "MISS".into())
    );
}
