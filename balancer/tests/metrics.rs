//! `/metrics` keeps every series the README documents, with its type, labels and histogram
//! buckets, in the Prometheus text format, and its values follow the traffic.

use std::collections::HashMap;

use test_support::balancer::{Balancer, TOKEN, Upstream, client};

/// Families and their types as documented in balancer/README.md.
const FAMILIES: [(&str, &str); 8] = [
    ("balancer_backend_up", "gauge"),
    ("balancer_backend_in_flight", "gauge"),
    ("balancer_backend_requests_total", "counter"),
    ("balancer_backend_errors_total", "counter"),
    ("balancer_backend_latency_seconds", "histogram"),
    ("balancer_cache_requests_total", "counter"),
    ("balancer_cache_bytes", "gauge"),
    ("balancer_cache_entries", "gauge"),
];

/// The histogram's bucket bounds as scraped (`le`), unchanged since the first release.
const BOUNDS: [&str; 13] = [
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "10",
    "+Inf",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_keep_every_documented_series_and_follow_the_traffic() {
    let upstream = Upstream::start("a");
    let balancer = Balancer::start(&["--backend", &upstream.url()]);
    let client = client();
    for n in 0..4 {
        let response = client
            .get(format!("{}/echo?n={n}", balancer.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let response = client
        .get(format!("{}/metrics", balancer.admin))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    for (family, kind) in FAMILIES {
        assert!(
            text.contains(&format!("# HELP {family} ")),
            "{family} has no help:\n{text}"
        );
        assert!(
            text.contains(&format!("# TYPE {family} {kind}\n")),
            "{family} is not typed {kind}:\n{text}"
        );
    }
    let series: HashMap<&str, &str> = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .collect();
    let backend = format!("backend=\"{}\"", upstream.address);
    let value = |name: &str, labels: &str| -> f64 {
        let key = format!("{name}{{{labels}}}");
        series
            .get(key.as_str())
            .unwrap_or_else(|| panic!("no series {key}:\n{text}"))
            .parse()
            .unwrap()
    };
    assert_eq!(value("balancer_backend_up", &backend), 1.0);
    assert_eq!(value("balancer_backend_in_flight", &backend), 0.0);
    assert_eq!(value("balancer_backend_requests_total", &backend), 4.0);
    assert_eq!(value("balancer_backend_errors_total", &backend), 0.0);
    let mut previous = 0.0;
    for bound in BOUNDS {
        let count = value(
            "balancer_backend_latency_seconds_bucket",
            &format!("{backend},le=\"{bound}\""),
        );
        assert!(count >= previous, "buckets are cumulative");
        previous = count;
    }
    assert_eq!(previous, 4.0, "+Inf holds every request");
    assert_eq!(
        value("balancer_backend_latency_seconds_count", &backend),
        4.0
    );
    assert!(value("balancer_backend_latency_seconds_sum", &backend) > 0.0);
    let outcomes: f64 = ["hit", "miss", "stale", "expired", "bypass"]
        .iter()
        .map(|status| {
            value(
                "balancer_cache_requests_total",
                &format!("status=\"{status}\""),
            )
        })
        .sum();
    assert_eq!(outcomes, 4.0, "each request has one X-Cache outcome");
    for gauge in ["balancer_cache_bytes", "balancer_cache_entries"] {
        let line = text.lines().find(|l| l.starts_with(&format!("{gauge} ")));
        assert!(line.is_some(), "no {gauge}:\n{text}");
    }
}
