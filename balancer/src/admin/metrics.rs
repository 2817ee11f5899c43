//! `/metrics`: the balancer's metrics in the Prometheus text format (version 0.0.4), encoded by
//! prometheus-client (the Prometheus project's Rust client), which also escapes label values.
//! A collector reads the backend set and the cache at each scrape, so the request path keeps
//! its plain atomics and a backend's series come and go with the backend.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use actix_web::{HttpResponse, web};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeMetric, MetricEncoder, prometheus_text,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::AdminState;
use crate::backends::{Backend, BackendSet};
use crate::cache::HttpCache;

pub async fn render(state: web::Data<AdminState>) -> HttpResponse {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(BalancerMetrics {
        backends: state.backends.clone(),
        cache: state.cache.clone(),
    }));
    let mut body = String::with_capacity(4096);
    match prometheus_text::encode(&mut body, &registry) {
        Ok(()) => HttpResponse::Ok()
            .content_type(prometheus_text::CONTENT_TYPE)
            .body(body),
        Err(error) => {
            log::error!("metrics could not be encoded: {error}");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// Everything `/metrics` reports, read at scrape time.
struct BalancerMetrics {
    backends: Arc<BackendSet>,
    cache: Option<Arc<HttpCache>>,
}

impl fmt::Debug for BalancerMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BalancerMetrics").finish_non_exhaustive()
    }
}

impl Collector for BalancerMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let snapshot = self.backends.peek();
        let backends = &snapshot.backends;
        // Counters are named without `_total`: the encoder appends it.
        per_backend(
            &mut encoder,
            ("balancer_backend_up", "1 when the backend is healthy."),
            MetricType::Gauge,
            backends,
            |b, metric| ConstGauge::new(i64::from(b.is_healthy())).encode(metric),
        )?;
        per_backend(
            &mut encoder,
            ("balancer_backend_in_flight", "Requests in flight."),
            MetricType::Gauge,
            backends,
            |b, metric| ConstGauge::new(b.in_flight() as u64).encode(metric),
        )?;
        per_backend(
            &mut encoder,
            ("balancer_backend_requests", "Requests sent to the backend."),
            MetricType::Counter,
            backends,
            |b, metric| ConstCounter::new(b.requests()).encode(metric),
        )?;
        per_backend(
            &mut encoder,
            (
                "balancer_backend_errors",
                "Connect errors, timeouts and 5xx responses.",
            ),
            MetricType::Counter,
            backends,
            |b, metric| ConstCounter::new(b.errors()).encode(metric),
        )?;
        per_backend(
            &mut encoder,
            (
                "balancer_backend_latency_seconds",
                "Time to the upstream response head.",
            ),
            MetricType::Histogram,
            backends,
            |b, metric| b.latency().encode(metric),
        )?;
        if let Some(cache) = &self.cache {
            encode_cache(&mut encoder, cache)?;
        }
        Ok(())
    }
}

/// One metric family with a series per backend, labelled `backend="host:port"`.
fn per_backend(
    encoder: &mut DescriptorEncoder,
    (name, help): (&str, &str),
    metric_type: MetricType,
    backends: &[Arc<Backend>],
    encode: impl Fn(&Backend, MetricEncoder) -> fmt::Result,
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, metric_type)?;
    for backend in backends {
        let labels = [("backend", backend.address().as_str())];
        encode(backend, family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn encode_cache(encoder: &mut DescriptorEncoder, cache: &HttpCache) -> fmt::Result {
    let stats = cache.stats();
    let mut requests = encoder.encode_descriptor(
        "balancer_cache_requests",
        "Requests by X-Cache outcome.",
        None,
        MetricType::Counter,
    )?;
    for (status, counter) in [
        ("hit", &stats.hits),
        ("miss", &stats.misses),
        ("stale", &stats.stale),
        ("expired", &stats.expired),
        ("bypass", &stats.bypass),
    ] {
        let labels = [("status", status)];
        ConstCounter::new(counter.load(Ordering::Relaxed))
            .encode(requests.encode_family(&labels)?)?;
    }
    for (name, help, value) in [
        (
            "balancer_cache_bytes",
            "Bytes held by the cache.",
            cache.weighted_size(),
        ),
        (
            "balancer_cache_entries",
            "Entries held by the cache.",
            cache.entry_count(),
        ),
    ] {
        ConstGauge::new(value).encode(encoder.encode_descriptor(
            name,
            help,
            None,
            MetricType::Gauge,
        )?)?;
    }
    Ok(())
}
