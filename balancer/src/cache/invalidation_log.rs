//! When each URI was last invalidated, remembered lossily in a fixed table of epochs, so that a
//! fetch that started before an invalidation of its URI does not store its older answer.
//!
//! Why not a map: recording one invalidation per unsafe request in a moka map (an allocation,
//! an insert and its maintenance) was a tenth of the balancer's CPU per `POST /analyze` in a
//! `perf record` of `loadtest/bench-cpu --only stack`. Here a URI hashes to one of
//! [`BUCKETS`] atomic epochs. Two URIs sharing a bucket can only make a fetch skip storing
//! (it is served, then fetched again next time), never keep an outdated entry, and the table's
//! size is fixed whatever the clients send.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// Enough that unrelated concurrent writes rarely share a bucket; 32 KiB in all.
const BUCKETS: usize = 4096;

pub struct InvalidationLog {
    epochs: Box<[AtomicU64]>,
    /// Seeded per process, so a client cannot choose URIs that all land in one bucket.
    hasher: std::collections::hash_map::RandomState,
}

impl Default for InvalidationLog {
    fn default() -> Self {
        Self {
            epochs: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            hasher: Default::default(),
        }
    }
}

impl InvalidationLog {
    /// Records that `uri` was invalidated at `epoch`.
    pub fn record(&self, uri: &str, epoch: u64) {
        self.bucket(uri).fetch_max(epoch, Ordering::AcqRel);
    }

    /// Whether `uri` may have been invalidated after `epoch`.
    pub fn invalidated_since(&self, uri: &str, epoch: u64) -> bool {
        self.bucket(uri).load(Ordering::Acquire) > epoch
    }

    fn bucket(&self, uri: &str) -> &AtomicU64 {
        &self.epochs[self.hasher.hash_one(uri) as usize % BUCKETS]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalidation_outdates_only_earlier_epochs_of_its_uri() {
        let log = InvalidationLog::default();
        assert!(!log.invalidated_since("h/a", 0));
        log.record("h/a", 5);
        assert!(log.invalidated_since("h/a", 4));
        assert!(!log.invalidated_since("h/a", 5));
        // An older record never lowers a newer one.
        log.record("h/a", 3);
        assert!(log.invalidated_since("h/a", 4));
        let untouched = (0..100)
            .map(|i| format!("h/other/{i}"))
            .filter(|uri| !log.invalidated_since(uri, 0))
            .count();
        assert!(untouched >= 95, "{untouched} of 100 other URIs unaffected");
    }
}
