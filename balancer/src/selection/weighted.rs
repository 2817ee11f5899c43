//! Weighted round robin: nginx's smooth interleaving, where each backend gains its weight every
//! pick and the chosen one pays back the total. The state is one counter per backend, so memory
//! follows the number of backends, not the sum of their weights.

use std::sync::{Arc, Mutex};

use super::{Selector, rotated};
use crate::backends::Backend;

pub struct Weighted {
    backends: Vec<Arc<Backend>>,
    /// nginx's `current_weight` per backend. A short critical section per pick; weighted
    /// selection is opt-in and the lock is never held across anything but this arithmetic.
    current: Mutex<Vec<i64>>,
}

impl Weighted {
    pub fn new(backends: Vec<Arc<Backend>>) -> Self {
        let current = Mutex::new(vec![0; backends.len()]);
        Self { backends, current }
    }

    /// The next backend index in the smooth sequence.
    fn pick(&self) -> usize {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let mut total = 0i64;
        let mut best = 0;
        for (index, backend) in self.backends.iter().enumerate() {
            let weight = i64::from(backend.weight());
            current[index] += weight;
            total += weight;
            if current[index] > current[best] {
                best = index;
            }
        }
        current[best] -= total;
        best
    }
}

impl Selector for Weighted {
    fn iter(&self, _key: u64) -> Box<dyn Iterator<Item = &Arc<Backend>> + '_> {
        if self.backends.is_empty() {
            return Box::new(std::iter::empty());
        }
        Box::new(rotated(&self.backends, self.pick()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selection::test_support::{backends, first};

    #[test]
    fn sequence_is_smooth() {
        let selector = Weighted::new(backends(&[5, 1, 1]));
        let picks: Vec<usize> = (0..7).map(|_| selector.pick()).collect();
        assert_eq!(picks, [0, 0, 1, 0, 2, 0, 0]);
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

    #[test]
    fn huge_weights_cost_no_memory_or_time() {
        let set = backends(&[u32::MAX, u32::MAX, 1]);
        let selector = Weighted::new(set.clone());
        let light = (0..1000)
            .filter(|_| first(&selector, 0) == set[2].address().to_string())
            .count();
        assert_eq!(light, 0);
    }
}
