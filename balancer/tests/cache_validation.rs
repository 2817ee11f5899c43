//! RFC 9111 validation and stale responses through the real balancer, against a scripted
//! origin: revalidation with the stored validators and the 304 that refreshes and merges (4.3,
//! 3.2), `no-cache` (5.2.2.4), directives that forbid serving stale (4.2.4, 5.2.2.2, 5.2.2.8,
//! 5.2.2.10), client conditionals answered from cache (4.3.2), and RFC 5861's
//! `stale-while-revalidate` and `stale-if-error`.

mod scripted_origin;

use std::time::Duration;

use scripted_origin::{Reply, ScriptedOrigin, fetch, fetch_with, header, http_date};
use test_support::balancer::{Balancer, config_file, eventually};

/// Long enough for a `max-age=1` entry to be stale.
const PAST_ONE_SECOND: Duration = Duration::from_millis(1600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9111_4_3_stale_entries_are_revalidated_and_a_304_refreshes_and_merges() {
    let modified = "Wed, 21 Oct 2015 07:28:00 GMT";
    let origin = ScriptedOrigin::start(Reply::ok(
        &[
            ("cache-control", "max-age=1"),
            ("etag", "\"a\""),
            ("last-modified", modified),
            ("test-header", "one"),
            ("x-kept", "yes"),
        ],
        "stored body",
    ));
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    let url = format!("{}/validated", balancer.url);
    fetch(&url).await;
    tokio::time::sleep(PAST_ONE_SECOND).await;
    origin.answer(Reply::with_status(
        304,
        &[
            ("cache-control", "max-age=60"),
            ("etag", "\"a\""),
            ("test-header", "two"),
        ],
        "",
    ));
    let (status, headers, body) = fetch(&url).await;
    assert_eq!(
        origin.last_request_header("if-none-match").unwrap(),
        "\"a\""
    );
    assert_eq!(
        origin.last_request_header("if-modified-since").unwrap(),
        modified
    );
    assert_eq!((status, body.as_str()), (200, "stored body"));
    assert_eq!(header(&headers, "x-cache"), "EXPIRED");
    assert_eq!(header(&headers, "test-header"), "two", "the 304 updates");
    assert_eq!(
        header(&headers, "x-kept"),
        "yes",
        "what the 304 omits is kept"
    );
    // Refreshed with the 304's max-age=60.
    let (_, headers, body) = fetch(&url).await;
    assert_eq!(
        (header(&headers, "x-cache"), body.as_str()),
        ("HIT", "stored body")
    );
    assert_eq!(header(&headers, "test-header"), "two");
    assert_eq!(origin.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9111_5_2_2_4_no_cache_responses_are_stored_and_revalidated_on_every_use() {
    let origin = ScriptedOrigin::start(Reply::ok(
        &[("cache-control", "no-cache"), ("etag", "\"n\"")],
        "validated each time",
    ));
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    let url = format!("{}/no-cache", balancer.url);
    fetch(&url).await;
    assert_eq!(origin.last_request_header("if-none-match"), None);
    origin.answer(Reply::with_status(
        304,
        &[("cache-control", "no-cache"), ("etag", "\"n\"")],
        "",
    ));
    for expected_hits in [2, 3] {
        let (status, _, body) = fetch(&url).await;
        assert_eq!((status, body.as_str()), (200, "validated each time"));
        assert_eq!(origin.hits(), expected_hits);
        assert_eq!(
            origin.last_request_header("if-none-match").unwrap(),
            "\"n\""
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9111_4_2_4_must_revalidate_proxy_revalidate_and_s_maxage_are_never_served_stale() {
    let origin = ScriptedOrigin::start(Reply::ok(&[], "x"));
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    let cases = [
        ("/must", "max-age=1, must-revalidate", 504),
        ("/proxy", "max-age=1, proxy-revalidate", 504),
        ("/shared", "s-maxage=1", 504),
        ("/plain", "max-age=1", 200),
    ];
    for (path, cc, _) in cases {
        origin.answer(Reply::ok(&[("cache-control", cc)], "stored"));
        fetch(&format!("{}{path}", balancer.url)).await;
    }
    tokio::time::sleep(PAST_ONE_SECOND).await;
    origin.disconnect(true);
    for (path, cc, expected) in cases {
        let (status, headers, body) = fetch(&format!("{}{path}", balancer.url)).await;
        assert_eq!(status, expected, "{cc}");
        if expected == 504 {
            assert!(body.contains("\"error\":\"revalidation_failed\""), "{body}");
        } else {
            assert_eq!(
                (header(&headers, "x-cache"), body.as_str()),
                ("STALE", "stored")
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc5861_4_stale_if_error_serves_stale_only_within_its_window() {
    let origin = ScriptedOrigin::start(Reply::ok(&[], "x"));
    // No configured stale window: only the directive allows serving stale.
    let (_dir, config) = config_file("[cache]\nstale_ms = 0\n");
    let balancer = Balancer::start(&["--config", &config, "--backend", &origin.url()]);
    let cases = [
        ("/long", "max-age=1, stale-if-error=60", 200),
        ("/short", "max-age=1, stale-if-error=1", 502),
        ("/none", "max-age=1", 502),
    ];
    for (path, cc, _) in cases {
        origin.answer(Reply::ok(&[("cache-control", cc)], "stored"));
        fetch(&format!("{}{path}", balancer.url)).await;
    }
    tokio::time::sleep(Duration::from_millis(2600)).await;
    origin.disconnect(true);
    for (path, cc, expected) in cases {
        let (status, headers, _) = fetch(&format!("{}{path}", balancer.url)).await;
        assert_eq!(status, expected, "{cc}");
        if expected == 200 {
            assert_eq!(header(&headers, "x-cache"), "STALE");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc5861_3_stale_while_revalidate_serves_stale_and_refreshes_once_in_the_background() {
    let origin = ScriptedOrigin::start(Reply::ok(
        &[
            ("cache-control", "max-age=1, stale-while-revalidate=60"),
            ("etag", "\"v1\""),
        ],
        "one",
    ));
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    let url = format!("{}/swr", balancer.url);
    fetch(&url).await;
    tokio::time::sleep(PAST_ONE_SECOND).await;
    origin.answer(Reply::ok(
        &[("cache-control", "max-age=60"), ("etag", "\"v2\"")],
        "two",
    ));
    let (status, headers, body) = fetch(&url).await;
    assert_eq!(
        (status, header(&headers, "x-cache"), body.as_str()),
        (200, "STALE", "one")
    );
    let concurrent: Vec<_> = (0..10)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { fetch(&url).await })
        })
        .collect();
    for request in concurrent {
        let (status, _, body) = request.await.unwrap();
        assert!(status == 200 && (body == "one" || body == "two"), "{body}");
    }
    let refreshed = eventually(Duration::from_secs(5), || async {
        let (_, headers, body) = fetch(&url).await;
        header(&headers, "x-cache") == "HIT" && body == "two"
    })
    .await;
    assert!(refreshed, "the background refresh stored the new response");
    assert_eq!(origin.hits(), 2, "one refresh for all the stale answers");
    assert_eq!(
        origin.last_request_header("if-none-match").unwrap(),
        "\"v1\""
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9111_4_3_2_client_conditionals_are_answered_from_a_fresh_entry() {
    let date = http_date(0);
    let origin = ScriptedOrigin::start(Reply::ok(
        &[
            ("cache-control", "max-age=600"),
            ("etag", "\"s\""),
            ("date", &date),
        ],
        "x",
    ));
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    let url = format!("{}/conditional", balancer.url);
    fetch(&url).await;
    let weak = fetch_with(&url, &[("if-none-match", "W/\"s\"")]).await;
    assert_eq!((weak.0, header(&weak.1, "x-cache")), (304, "HIT"));
    // No Last-Modified: the stored Date is compared instead.
    let same = fetch_with(&url, &[("if-modified-since", &date)]).await;
    assert_eq!(same.0, 304);
    let earlier = fetch_with(&url, &[("if-modified-since", &http_date(-3600))]).await;
    assert_eq!(earlier.0, 200);
    assert_eq!(origin.hits(), 1);
}
