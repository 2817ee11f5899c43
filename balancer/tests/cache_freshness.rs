//! RFC 9111 freshness through the real balancer, against a scripted origin: where a stored
//! response's lifetime comes from (4.2.1 explicit, 5.3 `Expires`, 4.2.2 heuristic), its age
//! (4.2.3), which responses are stored (3: statuses, `Set-Cookie`) and the targeted fields of
//! RFC 9213 (`CDN-Cache-Control` and our own).

mod scripted_origin;

use std::time::Duration;

use reqwest::header::HeaderMap;
use scripted_origin::{Reply, ScriptedOrigin, fetch, http_date};
use test_support::balancer::{Balancer, config_file};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9111_4_2_3_received_age_counts_and_the_age_sent_grows() {
    let origin = ScriptedOrigin::start(Reply::ok(
        &[("cache-control", "max-age=3600"), ("age", "3601")],
        "old",
    ));
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    assert_eq!(twice(&balancer, "/too-old").await, not_stored());

    let date = http_date(0);
    origin.answer(Reply::ok(
        &[
            ("cache-control", "max-age=600"),
            ("age", "30"),
            ("date", &date),
        ],
        "young",
    ));
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

    let expires = http_date(3600);
    origin.answer(Reply::ok(
        &[("expires", &expires), ("age", "40"), ("date", &date)],
        "expires",
    ));
    let url = format!("{}/expires", balancer.url);
    fetch(&url).await;
    let (_, headers, _) = fetch(&url).await;
    assert_eq!(x_cache(&headers), "HIT");
    let age: u64 = headers["age"].to_str().unwrap().parse().unwrap();
    assert!(age >= 40, "Age {age} of an Expires entry");
    assert_eq!(headers["date"].to_str().unwrap(), date);
    assert_eq!(origin.hits(), 4);
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
    let origin = ScriptedOrigin::start(Reply::ok(&[("expires", &imf)], "x"));
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    assert_eq!(twice(&balancer, "/imf").await, stored());
    for (path, date) in [("/rfc850", &rfc850), ("/asctime", &asctime)] {
        origin.answer(Reply::ok(&[("expires", date)], "x"));
        assert_eq!(twice(&balancer, path).await, stored(), "{date}");
    }
    origin.answer(Reply::ok(&[("expires", "0")], "x"));
    assert_eq!(twice(&balancer, "/invalid").await, not_stored());
    origin.answer(Reply::ok(&[("expires", &http_date(-60))], "x"));
    assert_eq!(twice(&balancer, "/past").await, not_stored());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9111_4_2_2_heuristic_freshness_from_last_modified() {
    let day_ago = http_date(-24 * 3600);
    let origin = ScriptedOrigin::start(Reply::ok(&[("last-modified", &day_ago)], "x"));
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    assert_eq!(twice(&balancer, "/heuristic").await, stored());
    origin.answer(Reply::with_status(
        404,
        &[("last-modified", &day_ago)],
        "gone",
    ));
    assert_eq!(twice(&balancer, "/missing").await, stored());
    // Not heuristically cacheable: 599 needs explicit freshness or `public`.
    origin.answer(Reply::with_status(599, &[("last-modified", &day_ago)], "x"));
    assert_eq!(twice(&balancer, "/unknown").await, not_stored());
    origin.answer(Reply::with_status(
        599,
        &[("last-modified", &day_ago), ("cache-control", "public")],
        "x",
    ));
    assert_eq!(twice(&balancer, "/unknown-public").await, stored());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9111_3_other_statuses_with_explicit_freshness_and_set_cookie_are_stored() {
    let origin = ScriptedOrigin::start(Reply::with_status(
        503,
        &[("cache-control", "max-age=60")],
        "down for now",
    ));
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    let url = format!("{}/maintenance", balancer.url);
    fetch(&url).await;
    let (status, headers, body) = fetch(&url).await;
    assert_eq!(
        (status, x_cache(&headers), body.as_str()),
        (503, "HIT", "down for now")
    );
    origin.answer(Reply::with_status(500, &[], "oops"));
    assert_eq!(twice(&balancer, "/error").await, not_stored());

    origin.answer(Reply::ok(
        &[("cache-control", "max-age=60"), ("set-cookie", "a=b")],
        "with cookie",
    ));
    let url = format!("{}/cookie", balancer.url);
    fetch(&url).await;
    let (_, headers, _) = fetch(&url).await;
    assert_eq!(x_cache(&headers), "HIT");
    assert_eq!(headers["set-cookie"], "a=b", "Set-Cookie is replayed");
    assert_eq!(origin.hits(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9213_cdn_cache_control_and_our_targeted_field_take_precedence() {
    let origin = ScriptedOrigin::start(Reply::ok(
        &[
            ("cache-control", "no-store"),
            ("cdn-cache-control", "max-age=60"),
        ],
        "x",
    ));
    let (_dir, config) = config_file("[cache]\ntargeted_field = \"Balancer-Cache-Control\"\n");
    let balancer = Balancer::start(&["--config", &config, "--backend", &origin.url()]);
    assert_eq!(twice(&balancer, "/cdn-fresh").await, stored());
    origin.answer(Reply::ok(
        &[
            ("cache-control", "max-age=60"),
            ("cdn-cache-control", "private"),
        ],
        "x",
    ));
    assert_eq!(twice(&balancer, "/cdn-private").await, not_stored());
    origin.answer(Reply::ok(
        &[
            ("cdn-cache-control", "max-age=60"),
            ("balancer-cache-control", "no-store"),
        ],
        "x",
    ));
    assert_eq!(twice(&balancer, "/ours").await, not_stored());
    // An invalid targeted field is ignored: Cache-Control decides.
    origin.answer(Reply::ok(
        &[
            ("cache-control", "max-age=60"),
            ("cdn-cache-control", "max-age=\"10\", &&&"),
        ],
        "x",
    ));
    assert_eq!(twice(&balancer, "/cdn-invalid").await, stored());
}
