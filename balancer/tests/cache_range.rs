//! RFC 9110 section 14 through the real balancer: ranges of a stored complete 200 are served
//! from the cache (206 with Content-Range, 416 with `bytes */length`, several ranges as the
//! whole 200, If-Range honoured), and the cache fills itself with the complete response.

use test_support::balancer::{Balancer, Script, ScriptedOrigin, client};

struct Answer {
    status: u16,
    content_range: Option<String>,
    x_cache: String,
    body: String,
}

async fn get(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    Answer {
        status: response.status().as_u16(),
        content_range: header("content-range"),
        x_cache: header("x-cache").unwrap_or_default(),
        body: response.text().await.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_are_cut_from_the_stored_complete_response() {
    let origin = ScriptedOrigin::start();
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    let client = client();
    origin.script(
        "/file",
        Script::new(
            200,
            &[("cache-control", "max-age=3600"), ("etag", "\"v1\"")],
            "0123456789A",
        ),
    );
    let url = format!("{}/file", balancer.url);

    // A range request that misses fills the cache with the whole response and gets its part.
    let first = get(&client, &url, &[("range", "bytes=0-1")]).await;
    assert_eq!((first.status, first.body.as_str()), (206, "01"));
    assert_eq!(first.content_range.as_deref(), Some("bytes 0-1/11"));
    let fetched = origin.received("/file");
    assert_eq!(fetched.len(), 1);
    assert_eq!(
        fetched[0].header("range"),
        None,
        "the cache fetches it whole"
    );

    let suffix = get(&client, &url, &[("range", "bytes=-1")]).await;
    assert_eq!((suffix.status, suffix.body.as_str()), (206, "A"));
    assert_eq!(suffix.content_range.as_deref(), Some("bytes 10-10/11"));
    assert_eq!(suffix.x_cache, "HIT");
    let open_ended = get(&client, &url, &[("range", "bytes=5-")]).await;
    assert_eq!(
        (open_ended.status, open_ended.body.as_str()),
        (206, "56789A")
    );

    let beyond = get(&client, &url, &[("range", "bytes=11-")]).await;
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.content_range.as_deref(), Some("bytes */11"));

    let several = get(&client, &url, &[("range", "bytes=0-1, 5-6")]).await;
    assert_eq!(
        (several.status, several.body.as_str()),
        (200, "0123456789A")
    );
    assert_eq!(several.content_range, None);

    let plain = get(&client, &url, &[]).await;
    assert_eq!((plain.status, plain.body.as_str()), (200, "0123456789A"));
    assert_eq!(
        origin.received("/file").len(),
        1,
        "all served from the cache"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_range_must_match_the_stored_validator() {
    let origin = ScriptedOrigin::start();
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    let client = client();
    origin.script(
        "/doc",
        Script::new(
            200,
            &[
                ("cache-control", "max-age=3600"),
                ("etag", "\"v1\""),
                ("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ],
            "abcdef",
        ),
    );
    let url = format!("{}/doc", balancer.url);
    assert_eq!(get(&client, &url, &[]).await.status, 200);
    let matching = get(
        &client,
        &url,
        &[("range", "bytes=1-2"), ("if-range", "\"v1\"")],
    )
    .await;
    assert_eq!((matching.status, matching.body.as_str()), (206, "bc"));
    let by_date = get(
        &client,
        &url,
        &[
            ("range", "bytes=1-2"),
            ("if-range", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ],
    )
    .await;
    assert_eq!(by_date.status, 206);
    for stale_validator in ["\"v0\"", "W/\"v1\"", "Thu, 22 Oct 2015 07:28:00 GMT"] {
        let other = get(
            &client,
            &url,
            &[("range", "bytes=1-2"), ("if-range", stale_validator)],
        )
        .await;
        assert_eq!(
            (other.status, other.body.as_str()),
            (200, "abcdef"),
            "If-Range {stale_validator}"
        );
    }
}
