//! Weighted round robin: a smooth interleaving (as in nginx) of each backend `weight` times per
//! cycle, computed once when the set changes, then walked with an atomic counter.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Selector, rotated};
use crate::backends::Backend;

pub struct Weighted {
    backends: Vec<Arc<Backend>>,
    /// Backend index per slot of one cycle.
    cycle: Vec<usize>,
    next: AtomicUsize,
}

impl Weighted {
    pub fn new(backends: Vec<Arc<Backend>>) -> Self {
        let cycle = smooth_cycle(&backends.iter().map(|b| b.weight()).collect::<Vec<_>>());
        Self {
            backends,
            cycle,
            next: AtomicUsize::new(0),
        }
    }
}

/// nginx's smooth weighted round robin, unrolled over one full cycle.
fn smooth_cycle(weights: &[u32]) -> Vec<usize> {
    let total: i64 = weights.iter().map(|w| i64::from(*w)).sum();
    let mut current = vec![0i64; weights.len()];
    (0..total)
        .map(|_| {
            for (c, w) in current.iter_mut().zip(weights) {
                *c += i64::from(*w);
            }
            let (best, _) = current
                .iter()
                .enumerate()
                .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
                .expect("total > 0 implies a backend");
            current[best] -= total;
            best
        })
        .collect()
}

impl Selector for Weighted {
    fn iter(&self, _key: u64) -> Box<dyn Iterator<Item = &Arc<Backend>> + '_> {
        if self.cycle.is_empty() {
            return Box::new(std::iter::empty());
        }
        let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.cycle.len();
        Box::new(rotated(&self.backends, self.cycle[slot]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selection::test_support::{backends, first};

    #[test]
    fn cycle_is_smooth() {
        assert_eq!(smooth_cycle(&[5, 1, 1]), [0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn distribution_follows_weights_exactly() {
        let set = backends(&[3, 1]);
        let selector = Weighted::new(set.clone());
        let heavy = (0..400)
            .filter(|_| first(&selector, 0) == set[0].address().to_string())
            .count();
        assert_eq!(heavy, 300);
    }
}
