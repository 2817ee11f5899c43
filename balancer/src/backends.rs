//! The backend set: each upstream's address, weight, in-flight counter, request/error counts,
//! latency histogram and health state (which reports when it flips), and the shared,
//! lock-free snapshot of all backends with the selection algorithm built over them.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::header::HeaderValue;
use actix_web::http::uri::Authority;
use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::selection::{Algorithm, Selector};

/// Why a backend address was refused.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error("`{0}`: only http:// upstreams are supported")]
    Scheme(String),
    #[error("`{0}`: expected http://HOST:PORT with no path")]
    Shape(String),
}

/// `host:port` of an upstream (what the proxy connects to), and its base URL for health checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendAddress {
    authority: String,
    base_url: String,
}

impl BackendAddress {
    /// Accepts `http://host:port`, `http://host:port/` or `host:port`.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let text = text.trim();
        let rest = match text.split_once("://") {
            Some(("http", rest)) => rest,
            Some(_) => return Err(AddressError::Scheme(text.into())),
            None => text,
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let valid = match authority.rsplit_once(':') {
            Some((host, port)) => {
                !host.is_empty()
                    && !host.contains(['/', '@', '?', '#'])
                    && port.parse::<u16>().is_ok_and(|p| p != 0)
            }
            None => false,
        };
        if !valid || authority.parse::<Authority>().is_err() {
            return Err(AddressError::Shape(text.into()));
        }
        Ok(Self {
            authority: authority.to_owned(),
            base_url: format!("http://{authority}"),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.authority
    }

    /// `http://host:port`, to which the health-check path is appended.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

impl fmt::Display for BackendAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.authority)
    }
}

/// A health transition, reported once when it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthFlip {
    Up,
    Down,
}

/// Upper bounds (seconds) of the latency histogram buckets; the last bucket is +Inf.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Time to response head, per backend, in fixed Prometheus-style buckets.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Per-bucket (not cumulative) counts; index `LATENCY_BUCKETS.len()` is +Inf.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl LatencyHistogram {
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let index = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Cumulative counts per bucket (the last is +Inf), total seconds and count.
    pub fn snapshot(&self) -> (Vec<u64>, f64, u64) {
        let mut running = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|b| {
                running += b.load(Ordering::Relaxed);
                running
            })
            .collect();
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        (cumulative, sum, self.count.load(Ordering::Relaxed))
    }

    /// Mean latency in milliseconds, 0 before any request.
    pub fn mean_ms(&self) -> f64 {
        let count = self.count.load(Ordering::Relaxed);
        if count == 0 {
            return 0.0;
        }
        self.sum_micros.load(Ordering::Relaxed) as f64 / 1000.0 / count as f64
    }
}

/// One upstream server and everything the balancer tracks about it.
///
/// Health has two sources. Active checks decide whether a backend is up at all; passive signals
/// (failed exchanges) can only eject it until active checks pass `rise` times again, and
/// selection ignores passive ejections when they would leave no backend (panic mode), so only
/// active checks can take the last one out.
#[derive(Debug)]
pub struct Backend {
    address: BackendAddress,
    weight: u32,
    managed: bool,
    upstream_header: HeaderValue,
    active_up: AtomicBool,
    ejected: AtomicBool,
    checked: AtomicBool,
    draining: AtomicBool,
    ok_streak: AtomicU32,
    fail_streak: AtomicU32,
    passive_fail_streak: AtomicU32,
    in_flight: AtomicUsize,
    requests: AtomicU64,
    errors: AtomicU64,
    latency: LatencyHistogram,
    last_check: Mutex<Option<CheckResult>>,
}

/// The outcome of the latest active check, for the admin API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckResult {
    pub ok: bool,
    /// The status code, or what went wrong before one arrived.
    pub detail: String,
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
            active_up: AtomicBool::new(false),
            ejected: AtomicBool::new(false),
            checked: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            ok_streak: AtomicU32::new(0),
            fail_streak: AtomicU32::new(0),
            passive_fail_streak: AtomicU32::new(0),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: LatencyHistogram::default(),
            last_check: Mutex::new(None),
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
        self.is_up() && !self.is_ejected()
    }

    /// Up by active checks, whatever the passive signals say.
    pub fn is_up(&self) -> bool {
        self.active_up.load(Ordering::Relaxed)
    }

    /// Taken out by passive signals until active checks pass again.
    pub fn is_ejected(&self) -> bool {
        self.ejected.load(Ordering::Relaxed)
    }

    /// Has had at least one active check.
    pub fn is_checked(&self) -> bool {
        self.checked.load(Ordering::Relaxed)
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
        self.last_check
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Counts a request and holds it in flight until the guard drops.
    pub fn begin_request(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Active check result: up after `rise` successes (or the very first one), down after `fall`
    /// failures. `rise` successes also end a passive ejection.
    pub fn record_check(&self, result: CheckResult, rise: u32, fall: u32) -> Option<HealthFlip> {
        let ok = result.ok;
        *self.last_check.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
        let first = !self.checked.swap(true, Ordering::Relaxed);
        let was_healthy = self.is_healthy();
        if ok {
            self.fail_streak.store(0, Ordering::Relaxed);
            let streak = self.ok_streak.fetch_add(1, Ordering::Relaxed) + 1;
            if first || streak >= rise {
                self.active_up.store(true, Ordering::Relaxed);
                if self.ejected.swap(false, Ordering::Relaxed) {
                    self.passive_fail_streak.store(0, Ordering::Relaxed);
                }
            }
        } else {
            self.ok_streak.store(0, Ordering::Relaxed);
            let streak = self.fail_streak.fetch_add(1, Ordering::Relaxed) + 1;
            if streak >= fall {
                self.active_up.store(false, Ordering::Relaxed);
            }
        }
        flip(was_healthy, self.is_healthy())
    }

    /// A proxied exchange failed through this backend's fault (connect error, reset or timeout
    /// before a response head, malformed response, or a 5xx where configured); after
    /// `threshold` in a row it is ejected until active checks pass `rise` times.
    pub fn record_failure(&self, threshold: u32) -> Option<HealthFlip> {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let streak = self.passive_fail_streak.fetch_add(1, Ordering::Relaxed) + 1;
        if streak >= threshold && !self.ejected.swap(true, Ordering::Relaxed) {
            self.ok_streak.store(0, Ordering::Relaxed);
            return flip(self.is_up(), false);
        }
        None
    }

    /// A proxied request succeeded; the read-before-write avoids contended stores.
    pub fn record_success(&self, latency: Duration) {
        self.latency.observe(latency);
        if self.passive_fail_streak.load(Ordering::Relaxed) != 0 {
            self.passive_fail_streak.store(0, Ordering::Relaxed);
        }
    }
}

fn flip(before: bool, after: bool) -> Option<HealthFlip> {
    match (before, after) {
        (false, true) => Some(HealthFlip::Up),
        (true, false) => Some(HealthFlip::Down),
        _ => None,
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

/// The backends at one moment, with the selector built over them.
pub struct Snapshot {
    pub backends: Vec<Arc<Backend>>,
    pub selector: Box<dyn Selector>,
}

/// Why a membership change was refused.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    #[error("backend {0} is already in the set")]
    Duplicate(String),
    #[error("no backend {0} in the set")]
    Unknown(String),
}

/// All backends; readers take a lock-free snapshot, writers rebuild it.
pub struct BackendSet {
    algorithm: Algorithm,
    snapshot: ArcSwap<Snapshot>,
    write: Mutex<()>,
    /// Requests are going to passively ejected backends because nothing else is left.
    panic: AtomicBool,
    /// Bumped on every membership or health change, for the health checker and readiness.
    version: watch::Sender<u64>,
}

impl BackendSet {
    pub fn new(algorithm: Algorithm) -> Self {
        Self {
            algorithm,
            snapshot: ArcSwap::from_pointee(Snapshot {
                backends: Vec::new(),
                selector: algorithm.build(Vec::new()),
            }),
            write: Mutex::new(()),
            panic: AtomicBool::new(false),
            version: watch::channel(0).0,
        }
    }

    pub fn snapshot(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.snapshot.load()
    }

    /// A snapshot that may be held across awaits.
    pub fn snapshot_full(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    pub fn get(&self, address: &str) -> Option<Arc<Backend>> {
        self.snapshot()
            .backends
            .iter()
            .find(|b| b.address.as_str() == address)
            .cloned()
    }

    pub fn any_healthy(&self) -> bool {
        self.snapshot().backends.iter().any(|b| b.is_available())
    }

    pub fn add(&self, backend: Backend) -> Result<Arc<Backend>, MembershipError> {
        let backend = Arc::new(backend);
        self.rebuild(|backends| {
            if backends.iter().any(|b| b.address == backend.address) {
                return Err(MembershipError::Duplicate(backend.address.to_string()));
            }
            backends.push(backend.clone());
            Ok(())
        })?;
        log::info!("backend {} added", backend.address);
        Ok(backend)
    }

    pub fn remove(&self, address: &str) -> Result<Arc<Backend>, MembershipError> {
        let mut removed = None;
        self.rebuild(|backends| {
            let index = backends
                .iter()
                .position(|b| b.address.as_str() == address)
                .ok_or_else(|| MembershipError::Unknown(address.into()))?;
            removed = Some(backends.remove(index));
            Ok(())
        })?;
        log::info!("backend {address} removed");
        Ok(removed.expect("set on success"))
    }

    fn rebuild(
        &self,
        change: impl FnOnce(&mut Vec<Arc<Backend>>) -> Result<(), MembershipError>,
    ) -> Result<(), MembershipError> {
        let _writer = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut backends = self.snapshot().backends.clone();
        change(&mut backends)?;
        let selector = self.algorithm.build(backends.clone());
        self.snapshot
            .store(Arc::new(Snapshot { backends, selector }));
        self.version.send_modify(|v| *v += 1);
        Ok(())
    }

    /// Logs a health transition and wakes whoever waits for changes.
    pub fn report(&self, backend: &Backend, flip: Option<HealthFlip>) {
        if let Some(flip) = flip {
            match flip {
                HealthFlip::Up => log::info!("backend {} is up", backend.address),
                HealthFlip::Down => log::warn!("backend {} is down", backend.address),
            }
            self.version.send_modify(|v| *v += 1);
        }
    }

    /// Records whether the latest selection had to ignore passive ejections, logging each
    /// change. A load on the hot path; a store only when the mode changes.
    pub fn note_panic(&self, panic: bool) {
        if self.panic.load(Ordering::Relaxed) != panic
            && self.panic.swap(panic, Ordering::Relaxed) != panic
        {
            if panic {
                log::warn!(
                    "panic mode: passive health ejected every backend; sending to all that pass active checks"
                );
            } else {
                log::info!("panic mode over: a backend passes passive health again");
            }
        }
    }

    /// A receiver that sees every later membership or health change.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Resolves once at least one backend can take requests.
    pub async fn wait_until_any_healthy(&self) {
        let mut changes = self.changes();
        while !self.any_healthy() {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_normalise() {
        for text in [
            "http://127.0.0.1:9101",
            "http://127.0.0.1:9101/",
            "127.0.0.1:9101",
        ] {
            let address = BackendAddress::parse(text).unwrap();
            assert_eq!(address.as_str(), "127.0.0.1:9101");
            assert_eq!(address.base_url(), "http://127.0.0.1:9101");
        }
        for bad in ["https://a:1", "http://a", "http://a:1/x", "a:0", ":80"] {
            assert!(BackendAddress::parse(bad).is_err(), "{bad}");
        }
    }

    fn check(ok: bool) -> CheckResult {
        CheckResult {
            ok,
            detail: if ok { "200" } else { "503" }.into(),
        }
    }

    #[test]
    fn health_flips_are_reported_once() {
        let backend = Backend::new(BackendAddress::parse("a:1").unwrap(), 1, false, None);
        assert_eq!(
            backend.record_check(check(true), 2, 2),
            Some(HealthFlip::Up)
        );
        assert_eq!(backend.record_check(check(false), 2, 2), None);
        assert_eq!(
            backend.record_check(check(false), 2, 2),
            Some(HealthFlip::Down)
        );
        assert_eq!(backend.record_check(check(true), 2, 2), None);
        assert_eq!(
            backend.record_check(check(true), 2, 2),
            Some(HealthFlip::Up)
        );
        assert_eq!(backend.record_failure(2), None);
        assert_eq!(backend.record_failure(2), Some(HealthFlip::Down));
        assert_eq!(backend.record_failure(2), None);
        assert_eq!(backend.last_check().unwrap().detail, "200");
    }

    #[test]
    fn a_passive_ejection_lasts_until_rise_good_checks_and_spares_active_health() {
        let backend = Backend::new(BackendAddress::parse("a:1").unwrap(), 1, false, None);
        backend.record_check(check(true), 2, 2);
        backend.record_failure(1);
        assert!(backend.is_ejected() && backend.is_up());
        assert!(!backend.is_available() && backend.is_available_in_panic());
        assert_eq!(backend.record_check(check(true), 2, 2), None);
        assert_eq!(
            backend.record_check(check(true), 2, 2),
            Some(HealthFlip::Up)
        );
        assert!(backend.is_available());
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
