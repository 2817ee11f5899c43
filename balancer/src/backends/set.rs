//! The set of backends: a lock-free snapshot that readers load per request, rebuilt with its
//! selector on every membership change; health reports and panic mode are logged here, and
//! each change bumps a version that the prober and readiness wait on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use tokio::sync::watch;

use super::Backend;
use crate::health::HealthFlip;
use crate::selection::{Algorithm, Selector};

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

    /// The current backends for a short, synchronous look: no reference count is taken, so
    /// it must not be held across an await (it pins one of arc-swap's per-thread slots).
    pub fn peek(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.snapshot.load()
    }

    /// The current backends as an owned reference (one reference-count increment), which
    /// may be held across awaits while the set changes.
    pub fn hold(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    pub fn get(&self, address: &str) -> Option<Arc<Backend>> {
        self.peek()
            .backends
            .iter()
            .find(|b| b.address().as_str() == address)
            .cloned()
    }

    pub fn any_healthy(&self) -> bool {
        self.peek().backends.iter().any(|b| b.is_available())
    }

    pub fn add(&self, backend: Backend) -> Result<Arc<Backend>, MembershipError> {
        let backend = Arc::new(backend);
        self.rebuild(|backends| {
            if backends.iter().any(|b| b.address() == backend.address()) {
                return Err(MembershipError::Duplicate(backend.address().to_string()));
            }
            backends.push(backend.clone());
            Ok(())
        })?;
        log::info!("backend {} added", backend.address());
        Ok(backend)
    }

    pub fn remove(&self, address: &str) -> Result<Arc<Backend>, MembershipError> {
        let removed = self.rebuild(|backends| {
            let index = backends
                .iter()
                .position(|b| b.address().as_str() == address)
                .ok_or_else(|| MembershipError::Unknown(address.into()))?;
            Ok(backends.remove(index))
        })?;
        log::info!("backend {address} removed");
        Ok(removed)
    }

    /// Applies `change` to a copy of the list and publishes it with a new selector; what
    /// `change` returns is handed back.
    fn rebuild<T>(
        &self,
        change: impl FnOnce(&mut Vec<Arc<Backend>>) -> Result<T, MembershipError>,
    ) -> Result<T, MembershipError> {
        let _writer = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut backends = self.peek().backends.clone();
        let changed = change(&mut backends)?;
        let selector = self.algorithm.build(backends.clone());
        self.snapshot
            .store(Arc::new(Snapshot { backends, selector }));
        self.version.send_modify(|v| *v += 1);
        Ok(changed)
    }

    /// Logs a health transition and wakes whoever waits for changes.
    pub fn report(&self, backend: &Backend, flip: Option<HealthFlip>) {
        if let Some(flip) = flip {
            match flip {
                HealthFlip::Up => log::info!("backend {} is up", backend.address()),
                HealthFlip::Down => log::warn!("backend {} is down", backend.address()),
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
