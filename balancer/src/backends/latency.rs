//! Time to the upstream response head, per backend, in fixed Prometheus buckets.
//!
//! Recorded in atomics, because the proxy records every request: prometheus-client's own
//! `Histogram` takes a mutex per observation. Exposed through prometheus-client's encoder
//! ([`EncodeMetric`]), which writes the cumulative buckets, `+Inf`, sum and count.

use std::array;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Upper bounds (seconds) of the buckets; one more, +Inf, follows.
const BOUNDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Per-bucket (not cumulative) counts; index `BOUNDS.len()` is +Inf.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_micros: AtomicU64,
}

impl LatencyHistogram {
    /// Two relaxed atomic adds; no lock, no allocation.
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let index = BOUNDS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BOUNDS.len());
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    /// Requests observed.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// Mean latency in milliseconds, 0 before any request.
    pub fn mean_ms(&self) -> f64 {
        match self.count() {
            0 => 0.0,
            count => self.sum_micros.load(Ordering::Relaxed) as f64 / 1000.0 / count as f64,
        }
    }
}

impl TypedMetric for LatencyHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        // The count is the buckets' total, so `+Inf` and `_count` agree in every scrape.
        let buckets: [(f64, u64); BOUNDS.len() + 1] = array::from_fn(|index| {
            let bound = BOUNDS.get(index).copied().unwrap_or(f64::INFINITY);
            (bound, self.buckets[index].load(Ordering::Relaxed))
        });
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_bucket_and_the_mean() {
        let histogram = LatencyHistogram::default();
        assert_eq!((histogram.count(), histogram.mean_ms()), (0, 0.0));
        histogram.observe(Duration::from_micros(500));
        histogram.observe(Duration::from_millis(3));
        histogram.observe(Duration::from_secs(11));
        assert_eq!(histogram.count(), 3);
        assert_eq!(histogram.buckets[0].load(Ordering::Relaxed), 1);
        assert_eq!(histogram.buckets[2].load(Ordering::Relaxed), 1);
        assert_eq!(histogram.buckets[BOUNDS.len()].load(Ordering::Relaxed), 1);
        assert!((histogram.mean_ms() - 11_003.5 / 3.0).abs() < 1e-9);
    }
}
