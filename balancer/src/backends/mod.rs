//! The backends: each upstream's address, weight, in-flight counter, request and error counts,
//! latency histogram and health state, and the set of them (`set`) that selection runs over.
//! Address parsing lives in `crate::address` and the health state machine in
//! `crate::health`; both are re-exported here under their old paths.

mod configured;
mod latency;
mod set;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::http::header::HeaderValue;

pub use crate::address::{AddressError, BackendAddress};
use crate::health::HealthState;
pub use crate::health::{CheckResult, HealthFlip};
pub use configured::{BackendEntry, StaticBackend, static_backends};
pub use latency::LatencyHistogram;
pub use set::{BackendSet, MembershipError, Snapshot};

/// One upstream server and everything the balancer tracks about it.
#[derive(Debug)]
pub struct Backend {
    address: BackendAddress,
    weight: u32,
    managed: bool,
    upstream_header: HeaderValue,
    health: HealthState,
    draining: AtomicBool,
    in_flight: AtomicUsize,
    requests: AtomicU64,
    errors: AtomicU64,
    latency: LatencyHistogram,
}

impl Backend {
    /// A new backend starts down until its first successful active check. `name` is what
    /// `X-Upstream` says (its address when not given).
    pub fn new(address: BackendAddress, weight: u32, managed: bool, name: Option<&str>) -> Self {
        let label = name.unwrap_or(address.as_str());
        let upstream_header =
            HeaderValue::from_str(label).unwrap_or_else(|_| HeaderValue::from_static("backend"));
        Self {
            address,
            weight,
            managed,
            upstream_header,
            health: HealthState::default(),
            draining: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: LatencyHistogram::default(),
        }
    }

    pub fn address(&self) -> &BackendAddress {
        &self.address
    }

    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// Started by the worker supervisor (as opposed to a static or admin-added backend).
    pub fn is_managed(&self) -> bool {
        self.managed
    }

    /// The `X-Upstream` value naming this backend.
    pub fn upstream_header(&self) -> &HeaderValue {
        &self.upstream_header
    }

    /// Up by active checks and not ejected by passive signals.
    pub fn is_healthy(&self) -> bool {
        self.health.is_healthy()
    }

    /// Up by active checks, whatever the passive signals say.
    pub fn is_up(&self) -> bool {
        self.health.is_up()
    }

    /// Taken out by passive signals until active checks pass again.
    pub fn is_ejected(&self) -> bool {
        self.health.is_ejected()
    }

    /// Has had at least one active check.
    pub fn is_checked(&self) -> bool {
        self.health.is_checked()
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// May receive new requests.
    pub fn is_available(&self) -> bool {
        self.is_healthy() && !self.is_draining()
    }

    /// May receive new requests in panic mode, when no backend is available: passive
    /// ejections are ignored.
    pub fn is_available_in_panic(&self) -> bool {
        self.is_up() && !self.is_draining()
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    pub fn latency(&self) -> &LatencyHistogram {
        &self.latency
    }

    pub fn last_check(&self) -> Option<CheckResult> {
        self.health.last_check()
    }

    /// Counts a request and holds it in flight until the guard drops.
    pub fn begin_request(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Active check result: see [`HealthState::record_check`].
    pub fn record_check(&self, result: CheckResult, rise: u32, fall: u32) -> Option<HealthFlip> {
        self.health.record_check(result, rise, fall)
    }

    /// A proxied exchange failed through this backend's fault (connect error, reset or timeout
    /// before a response head, malformed response, or a 5xx where configured); after
    /// `threshold` in a row it is ejected until active checks pass `rise` times.
    pub fn record_failure(&self, threshold: u32) -> Option<HealthFlip> {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.health.record_failure(threshold)
    }

    /// A proxied request succeeded.
    pub fn record_success(&self, latency: Duration) {
        self.latency.observe(latency);
        self.health.record_success();
    }
}

/// Holds one in-flight slot of a backend.
#[derive(Debug)]
pub struct InFlight(Arc<Backend>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ejected_backend_takes_requests_only_in_panic_mode_and_counts_its_errors() {
        let backend = Backend::new(BackendAddress::parse("a:1").unwrap(), 1, false, None);
        assert!(
            !backend.is_available_in_panic(),
            "down until the first check"
        );
        backend.record_check(CheckResult::answered(true), 2, 2);
        assert_eq!(backend.record_failure(1), Some(HealthFlip::Down));
        assert!(!backend.is_available() && backend.is_available_in_panic());
        assert_eq!(backend.errors(), 1);
        backend.start_draining();
        assert!(!backend.is_available_in_panic());
    }

    #[test]
    fn in_flight_counts_until_the_guard_drops() {
        let backend = Arc::new(Backend::new(
            BackendAddress::parse("a:1").unwrap(),
            1,
            false,
            None,
        ));
        let guard = backend.begin_request();
        assert_eq!((backend.requests(), backend.in_flight()), (1, 1));
        drop(guard);
        assert_eq!((backend.requests(), backend.in_flight()), (1, 0));
    }

    #[test]
    fn x_upstream_names_the_backend_by_its_name_when_given() {
        let address = BackendAddress::parse("10.0.0.2:8080").unwrap();
        let named = Backend::new(address.clone(), 1, false, Some("worker-1"));
        assert_eq!(named.upstream_header(), "worker-1");
        assert_eq!(
            Backend::new(address, 1, false, None).upstream_header(),
            "10.0.0.2:8080"
        );
    }
}
