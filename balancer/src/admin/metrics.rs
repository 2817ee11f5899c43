//! `/metrics` in the Prometheus text exposition format.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use actix_web::{HttpResponse, web};

use super::AdminState;
use crate::backends::LATENCY_BUCKETS;

pub async fn render(state: web::Data<AdminState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(exposition(&state))
}

fn exposition(state: &AdminState) -> String {
    let mut out = String::with_capacity(4096);
    let snapshot = state.backends.snapshot();
    let backends = &snapshot.backends;
    let gauge = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    gauge(
        &mut out,
        "balancer_backend_up",
        "gauge",
        "1 when the backend is healthy.",
    );
    for b in backends {
        let _ = writeln!(
            out,
            "balancer_backend_up{{backend=\"{}\"}} {}",
            b.address(),
            u8::from(b.is_healthy())
        );
    }
    gauge(
        &mut out,
        "balancer_backend_in_flight",
        "gauge",
        "Requests in flight.",
    );
    for b in backends {
        let _ = writeln!(
            out,
            "balancer_backend_in_flight{{backend=\"{}\"}} {}",
            b.address(),
            b.in_flight()
        );
    }
    gauge(
        &mut out,
        "balancer_backend_requests_total",
        "counter",
        "Requests sent to the backend.",
    );
    for b in backends {
        let _ = writeln!(
            out,
            "balancer_backend_requests_total{{backend=\"{}\"}} {}",
            b.address(),
            b.requests()
        );
    }
    gauge(
        &mut out,
        "balancer_backend_errors_total",
        "counter",
        "Connect errors, timeouts and 5xx responses.",
    );
    for b in backends {
        let _ = writeln!(
            out,
            "balancer_backend_errors_total{{backend=\"{}\"}} {}",
            b.address(),
            b.errors()
        );
    }
    gauge(
        &mut out,
        "balancer_backend_latency_seconds",
        "histogram",
        "Time to the upstream response head.",
    );
    for b in backends {
        let (cumulative, sum, count) = b.latency().snapshot();
        let address = b.address();
        for (bound, n) in LATENCY_BUCKETS.iter().zip(&cumulative) {
            let _ = writeln!(
                out,
                "balancer_backend_latency_seconds_bucket{{backend=\"{address}\",le=\"{bound}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "balancer_backend_latency_seconds_bucket{{backend=\"{address}\",le=\"+Inf\"}} {}",
            cumulative.last().copied().unwrap_or(0)
        );
        let _ = writeln!(
            out,
            "balancer_backend_latency_seconds_sum{{backend=\"{address}\"}} {sum}"
        );
        let _ = writeln!(
            out,
            "balancer_backend_latency_seconds_count{{backend=\"{address}\"}} {count}"
        );
    }
    if let Some(cache) = &state.cache {
        let stats = cache.stats();
        gauge(
            &mut out,
            "balancer_cache_requests_total",
            "counter",
            "Requests by X-Cache outcome.",
        );
        for (label, counter) in [
            ("hit", &stats.hits),
            ("miss", &stats.misses),
            ("stale", &stats.stale),
            ("expired", &stats.expired),
            ("bypass", &stats.bypass),
        ] {
            let _ = writeln!(
                out,
                "balancer_cache_requests_total{{status=\"{label}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        gauge(
            &mut out,
            "balancer_cache_bytes",
            "gauge",
            "Bytes held by the cache.",
        );
        let _ = writeln!(out, "balancer_cache_bytes {}", cache.weighted_size());
        gauge(
            &mut out,
            "balancer_cache_entries",
            "gauge",
            "Entries held by the cache.",
        );
        let _ = writeln!(out, "balancer_cache_entries {}", cache.entry_count());
    }
    out
}
