//! Round robin: each request starts one position after the previous one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Selector, rotated};
use crate::backends::Backend;

pub struct RoundRobin {
    backends: Vec<Arc<Backend>>,
    next: AtomicUsize,
}

impl RoundRobin {
    pub fn new(backends: Vec<Arc<Backend>>) -> Self {
        Self {
            backends,
            next: AtomicUsize::new(0),
        }
    }
}

impl Selector for RoundRobin {
    fn iter(&self, _key: u64) -> Box<dyn Iterator<Item = &Arc<Backend>> + '_> {
        let start = match self.backends.len() {
            0 => 0,
            n => self.next.fetch_add(1, Ordering::Relaxed) % n,
        };
        Box::new(rotated(&self.backends, start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selection::test_support::{backends, first};

    #[test]
    fn distribution_is_exact_and_fallbacks_cover_everyone() {
        let selector = RoundRobin::new(backends(&[1, 1, 1]));
        let mut counts = std::collections::HashMap::new();
        for _ in 0..300 {
            *counts.entry(first(&selector, 0)).or_insert(0) += 1;
        }
        assert!(counts.values().all(|c| *c == 100), "{counts:?}");
        assert_eq!(selector.iter(0).count(), 3);
    }
}
