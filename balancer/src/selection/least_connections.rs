//! Least connections: fewest requests in flight first; ties are broken by a rotating start so
//! idle backends still share the load.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Selector, rotated};
use crate::backends::Backend;

pub struct LeastConnections {
    backends: Vec<Arc<Backend>>,
    tie_break: AtomicUsize,
}

impl LeastConnections {
    pub fn new(backends: Vec<Arc<Backend>>) -> Self {
        Self {
            backends,
            tie_break: AtomicUsize::new(0),
        }
    }
}

impl Selector for LeastConnections {
    fn iter(&self, _key: u64) -> Box<dyn Iterator<Item = &Arc<Backend>> + '_> {
        let start = match self.backends.len() {
            0 => 0,
            n => self.tie_break.fetch_add(1, Ordering::Relaxed) % n,
        };
        let mut order: Vec<&Arc<Backend>> = rotated(&self.backends, start).collect();
        // A stable sort keeps the rotation among equally loaded backends.
        order.sort_by_key(|b| b.in_flight());
        Box::new(order.into_iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selection::test_support::{backends, first};

    #[test]
    fn busy_backend_is_avoided() {
        let set = backends(&[1, 1, 1]);
        let selector = LeastConnections::new(set.clone());
        let _busy = [
            set[0].begin_request(),
            set[0].begin_request(),
            set[1].begin_request(),
        ];
        for _ in 0..10 {
            assert_eq!(first(&selector, 0), set[2].address().to_string());
        }
        let order: Vec<_> = selector.iter(0).map(|b| b.in_flight()).collect();
        assert_eq!(order, [0, 1, 2]);
    }
}
