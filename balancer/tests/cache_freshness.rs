//! RFC 9111 freshness through the real balancer, against a scripted origin: where a stored
//! response's lifetime comes from (4.2.1 explicit, 5.3 `Expires`, 4.2.2 heuristic), its age
//! (4.2.3), which responses are stored (3: statuses, `Set-Cookie`) and the targeted fields of
//! RFC 9213 (`CDN-Cache-Control` and our own).

mod exchange;

use std::time::Duration;

use exchange::{fetch, http_date, origin_with};
use reqwest::header::HeaderMap;
use test_support::balancer::{Balancer, Script, config_file};

fn x_cache(headers: &HeaderMap) -> &str {
    headers["x-cache"].to_str().unwrap()
}

/// The X-Cache labels of two GETs of `path`.
async fn twice(balancer: &Balancer, path: &str) -> [String; 2] {
    let url = format!("{}{path}", balancer.url);
    let first = fetch(&url).await;
    let second = fetch(&url).await;
    [x_cache(&first.1).to_owned(), x_cache(&second.1).to_owned()]
}

fn stored() -> [String; 2] {
    ["MISS".into(), "HIT".into()]
}

fn not_stored() -> [String; 2] {
    ["MISS".into(), "MISS".into()]
}

fn ok(headers: &[(&str, &str)]) -> Script {
    Script::new(200, headers, "x")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9111_4_2_3_received_age_counts_and_the_age_sent_grows() {
    let date = http_date(0);
    let expires = http_date(3600);
    let (origin, balancer) = origin_with(
        vec![
            (
                "/too-old",
                ok(&[("cache-control", "max-age=3600"), ("age", "3601")]),
            ),
            (
                "/young",
                ok(&[
                    ("cache-control", "max-age=600"),
                    ("age", "30"),
                    ("date", &date),
                ]),
            ),
            (
                "/expires",
                ok(&[("expires", &expires), ("age", "40"), ("date", &date)]),
            ),
        ],
        &[],
    );
    assert_eq!(twice(&balancer, "/too-old").await, not_stored());

    let url = format!("{}/young", balancer.url);
    fetch(&url).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, headers, _) = fetch(&url).await;
    assert_eq!(x_cache(&headers), "HIT");
    let age: u64 = headers["age"].to_str().unwrap().parse().unwrap();
    assert!(
        age >= 31,
        "Age {age} must add the time stored to the received 30"
    );
    assert_eq!(
        headers["date"].to_str().unwrap(),
        date,
        "Date is not rewritten"
    );

    let url = format!("{}/expires", balancer.url);
    fetch(&url).await;
    let (_, headers, _) = fetch(&url).await;
    assert_eq!(x_cache(&headers), "HIT");
    let age: u64 = headers["age"].to_str().unwrap().parse().unwrap();
    assert!(age >= 40, "Age {age} of an Expires entry");
    assert_eq!(headers["date"].to_str().unwrap(), date);
    assert_eq!(origin.received("/young").len(), 1);
}

/// `Sun, 06 Nov 2094 08:49:37 GMT` as RFC 850 and asctime dates.
fn obsolete_forms(imf: &str) -> [String; 2] {
    let parts: Vec<&str> = imf.split(' ').collect();
    let [weekday, day, month, year, time, _] = parts[..] else {
        panic!("not an IMF-fixdate: {imf}");
    };
    let weekday = weekday.trim_end_matches(',');
    let long = [
        ("Mon", "Monday"),
        ("Tue", "Tuesday"),
        ("Wed", "Wednesday"),
        ("Thu", "Thursday"),
        ("Fri", "Friday"),
        ("Sat", "Saturday"),
        ("Sun", "Sunday"),
    ]
    .iter()
    .find(|(short, _)| *short == weekday)
    .unwrap()
    .1;
    let day_number: u32 = day.parse().unwrap();
    [
        format!("{long}, {day}-{month}-{} {time} GMT", &year[2..]),
        format!("{weekday} {month} {day_number:>2} {time} {year}"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9111_5_3_expires_in_each_date_format_and_invalid_means_expired() {
    let imf = http_date(3600);
    let [rfc850, asctime] = obsolete_forms(&imf);
    let past = http_date(-60);
    let (_origin, balancer) = origin_with(
        vec![
            ("/imf", ok(&[("expires", &imf)])),
            ("/rfc850", ok(&[("expires", &rfc850)])),
            ("/asctime", ok(&[("expires", &asctime)])),
            ("/invalid", ok(&[("expires", "0")])),
            ("/past", ok(&[("expires", &past)])),
        ],
        &[],
    );
    for path in ["/imf", "/rfc850", "/asctime"] {
        assert_eq!(twice(&balancer, path).await, stored(), "{path}");
    }
    for path in ["/invalid", "/past"] {
        assert_eq!(twice(&balancer, path).await, not_stored(), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9111_4_2_2_heuristic_freshness_from_last_modified() {
    let day_ago = http_date(-24 * 3600);
    let modified = [("last-modified", day_ago.as_str())];
    let public = [
        ("last-modified", day_ago.as_str()),
        ("cache-control", "public"),
    ];
    let (_origin, balancer) = origin_with(
        vec![
            ("/heuristic", ok(&modified)),
            ("/missing", Script::new(404, &modified, "gone")),
            // Not heuristically cacheable: 599 needs explicit freshness or `public`.
            ("/unknown", Script::new(599, &modified, "x")),
            ("/unknown-public", Script::new(599, &public, "x")),
        ],
        &[],
    );
    assert_eq!(twice(&balancer, "/heuristic").await, stored());
    assert_eq!(twice(&balancer, "/missing").await, stored());
    assert_eq!(twice(&balancer, "/unknown").await, not_stored());
    assert_eq!(twice(&balancer, "/unknown-public").await, stored());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9111_3_other_statuses_with_explicit_freshness_and_set_cookie_are_stored() {
    let (_origin, balancer) = origin_with(
        vec![
            (
                "/maintenance",
                Script::new(503, &[("cache-control", "max-age=60")], "down for now"),
            ),
            ("/error", Script::new(500, &[], "oops")),
            (
                "/cookie",
                ok(&[("cache-control", "max-age=60"), ("set-cookie", "a=b")]),
            ),
        ],
        &[],
    );
    let url = format!("{}/maintenance", balancer.url);
    fetch(&url).await;
    let (status, headers, body) = fetch(&url).await;
    assert_eq!(
        (status, x_cache(&headers), body.as_str()),
        (503, "HIT", "down for now")
    );
    assert_eq!(twice(&balancer, "/error").await, not_stored());
    let url = format!("{}/cookie", balancer.url);
    fetch(&url).await;
    let (_, headers, _) = fetch(&url).await;
    assert_eq!(x_cache(&headers), "HIT");
    assert_eq!(headers["set-cookie"], "a=b", "Set-Cookie is replayed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9213_cdn_cache_control_and_our_targeted_field_take_precedence() {
    let (_dir, config) = config_file("[cache]\ntargeted_field = \"Balancer-Cache-Control\"\n");
    let (_origin, balancer) = origin_with(
        vec![
            (
                "/cdn-fresh",
                ok(&[
                    ("cache-control", "no-store"),
                    ("cdn-cache-control", "max-age=60"),
                ]),
            ),
            (
                "/cdn-private",
                ok(&[
                    ("cache-control", "max-age=60"),
                    ("cdn-cache-control", "private"),
                ]),
            ),
            (
                "/ours",
                ok(&[
                    ("cdn-cache-control", "max-age=60"),
                    ("balancer-cache-control", "no-store"),
                ]),
            ),
            // An invalid targeted field is ignored: Cache-Control decides.
            (
                "/cdn-invalid",
                ok(&[
                    ("cache-control", "max-age=60"),
                    ("cdn-cache-control", "max-age=\"10\", &&&"),
                ]),
            ),
        ],
        &["--config", &config],
    );
    assert_eq!(twice(&balancer, "/cdn-fresh").await, stored());
    assert_eq!(twice(&balancer, "/cdn-private").await, not_stored());
    assert_eq!(twice(&balancer, "/ours").await, not_stored());
    assert_eq!(twice(&balancer, "/cdn-invalid").await, stored());
}
