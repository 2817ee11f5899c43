//! RFC 9111 validation and stale responses through the real balancer, against a scripted
//! origin: revalidation with the stored validators and the 304 that refreshes and merges (4.3,
//! 3.2), `no-cache` (5.2.2.4), directives that forbid serving stale (4.2.4, 5.2.2.2, 5.2.2.8,
//! 5.2.2.10), client conditionals answered from cache (4.3.2), and RFC 5861's
//! `stale-while-revalidate` and `stale-if-error`.

mod exchange;

use std::time::Duration;

use exchange::{fetch, fetch_with, header, http_date, origin_with};
use test_support::balancer::{Script, config_file, eventually};

/// Long enough for a `max-age=1` entry to be stale.
const PAST_ONE_SECOND: Duration = Duration::from_millis(1600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9111_4_3_stale_entries_are_revalidated_and_a_304_refreshes_and_merges() {
    let modified = "Wed, 21 Oct 2015 07:28:00 GMT";
    let path = "/validated";
    let stored = Script::new(
        200,
        &[
            ("cache-control", "max-age=1"),
            ("etag", "\"a\""),
            ("last-modified", modified),
            ("test-header", "one"),
            ("x-kept", "yes"),
        ],
        "stored body",
    );
    let (origin, balancer) = origin_with(vec![(path, stored)], &[]);
    let url = format!("{}{path}", balancer.url);
    fetch(&url).await;
    tokio::time::sleep(PAST_ONE_SECOND).await;
    let not_modified = [
        ("cache-control", "max-age=60"),
        ("etag", "\"a\""),
        ("test-header", "two"),
    ];
    origin.script(path, Script::new(304, &not_modified, ""));
    let (status, headers, body) = fetch(&url).await;
    let received = origin.received(path);
    let revalidation = received.last().unwrap();
    assert_eq!(revalidation.header("if-none-match"), Some("\"a\""));
    assert_eq!(revalidation.header("if-modified-since"), Some(modified));
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
    assert_eq!(origin.received(path).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9111_5_2_2_4_no_cache_responses_are_stored_and_revalidated_on_every_use() {
    let path = "/no-cache";
    let validated = [("cache-control", "no-cache"), ("etag", "\"n\"")];
    let (origin, balancer) = origin_with(
        vec![(path, Script::new(200, &validated, "validated each time"))],
        &[],
    );
    let url = format!("{}{path}", balancer.url);
    fetch(&url).await;
    assert_eq!(origin.received(path)[0].header("if-none-match"), None);
    origin.script(path, Script::new(304, &validated, ""));
    for expected_requests in [2, 3] {
        let (status, _, body) = fetch(&url).await;
        assert_eq!((status, body.as_str()), (200, "validated each time"));
        let received = origin.received(path);
        assert_eq!(received.len(), expected_requests);
        assert_eq!(
            received.last().unwrap().header("if-none-match"),
            Some("\"n\"")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9111_4_2_4_must_revalidate_proxy_revalidate_and_s_maxage_are_never_served_stale() {
    let cases = [
        ("/must", "max-age=1, must-revalidate", 504),
        ("/proxy", "max-age=1, proxy-revalidate", 504),
        ("/shared", "s-maxage=1", 504),
        ("/plain", "max-age=1", 200),
    ];
    let scripts = cases
        .iter()
        .map(|(path, cc, _)| (*path, Script::new(200, &[("cache-control", cc)], "stored")))
        .collect();
    let (origin, balancer) = origin_with(scripts, &[]);
    for (path, _, _) in cases {
        fetch(&format!("{}{path}", balancer.url)).await;
    }
    tokio::time::sleep(PAST_ONE_SECOND).await;
    for (path, cc, expected) in cases {
        origin.script(path, Script::disconnect());
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
    let cases = [
        ("/long", "max-age=1, stale-if-error=60", 200),
        ("/short", "max-age=1, stale-if-error=1", 502),
        ("/none", "max-age=1", 502),
    ];
    let scripts = cases
        .iter()
        .map(|(path, cc, _)| (*path, Script::new(200, &[("cache-control", cc)], "stored")))
        .collect();
    // No configured stale window: only the directive allows serving stale.
    let (_dir, config) = config_file("[cache]\nstale_ms = 0\n");
    let (origin, balancer) = origin_with(scripts, &["--config", &config]);
    for (path, _, _) in cases {
        fetch(&format!("{}{path}", balancer.url)).await;
    }
    tokio::time::sleep(Duration::from_millis(2600)).await;
    for (path, cc, expected) in cases {
        origin.script(path, Script::disconnect());
        let (status, headers, _) = fetch(&format!("{}{path}", balancer.url)).await;
        assert_eq!(status, expected, "{cc}");
        if expected == 200 {
            assert_eq!(header(&headers, "x-cache"), "STALE");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc5861_3_stale_while_revalidate_serves_stale_and_refreshes_once_in_the_background() {
    let path = "/swr";
    let first = [
        ("cache-control", "max-age=1, stale-while-revalidate=60"),
        ("etag", "\"v1\""),
    ];
    let (origin, balancer) = origin_with(vec![(path, Script::new(200, &first, "one"))], &[]);
    let url = format!("{}{path}", balancer.url);
    fetch(&url).await;
    tokio::time::sleep(PAST_ONE_SECOND).await;
    let second = [("cache-control", "max-age=60"), ("etag", "\"v2\"")];
    origin.script(path, Script::new(200, &second, "two"));
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
    let received = origin.received(path);
    assert_eq!(received.len(), 2, "one refresh for all the stale answers");
    assert_eq!(received[1].header("if-none-match"), Some("\"v1\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9111_4_3_2_client_conditionals_are_answered_from_a_fresh_entry() {
    let date = http_date(0);
    let path = "/conditional";
    let fresh = [
        ("cache-control", "max-age=600"),
        ("etag", "\"s\""),
        ("date", date.as_str()),
    ];
    let (origin, balancer) = origin_with(vec![(path, Script::new(200, &fresh, "x"))], &[]);
    let url = format!("{}{path}", balancer.url);
    fetch(&url).await;
    let weak = fetch_with(&url, &[("if-none-match", "W/\"s\"")]).await;
    assert_eq!((weak.0, header(&weak.1, "x-cache")), (304, "HIT"));
    // No Last-Modified: the stored Date is compared instead.
    let same = fetch_with(&url, &[("if-modified-since", &date)]).await;
    assert_eq!(same.0, 304);
    let earlier = fetch_with(&url, &[("if-modified-since", &http_date(-3600))]).await;
    assert_eq!(earlier.0, 200);
    assert_eq!(origin.received(path).len(), 1);
}
