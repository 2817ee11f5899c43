//! Consistent hashing (ketama-style ring): each backend owns `POINTS_PER_WEIGHT * weight` points;
//! a key goes to the first point at or after its hash, and the fallbacks are the next distinct
//! backends clockwise. Adding or removing one of N backends moves about 1/N of the keys.

use std::sync::Arc;

use super::{Selector, hash_bytes};
use crate::backends::Backend;

const POINTS_PER_WEIGHT: u32 = 160;

pub struct ConsistentHash {
    backends: Vec<Arc<Backend>>,
    /// (point, backend index), sorted by point.
    ring: Vec<(u64, usize)>,
}

impl ConsistentHash {
    pub fn new(backends: Vec<Arc<Backend>>) -> Self {
        let mut ring: Vec<(u64, usize)> = backends
            .iter()
            .enumerate()
            .flat_map(|(index, backend)| {
                let name = backend.address().as_str();
                (0..POINTS_PER_WEIGHT * backend.weight())
                    .map(move |replica| (hash_bytes(format!("{name}-{replica}").as_bytes()), index))
            })
            .collect();
        ring.sort_unstable();
        Self { backends, ring }
    }
}

impl Selector for ConsistentHash {
    fn iter(&self, key: u64) -> Box<dyn Iterator<Item = &Arc<Backend>> + '_> {
        let start = self.ring.partition_point(|(point, _)| *point < key);
        let mut seen = vec![false; self.backends.len()];
        let clockwise = self.ring[start..].iter().chain(&self.ring[..start]);
        Box::new(
            clockwise
                .filter(move |(_, index)| !std::mem::replace(&mut seen[*index], true))
                .map(|(_, index)| &self.backends[*index]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selection::test_support::{backends, first};

    #[test]
    fn fallbacks_are_distinct_backends() {
        let selector = ConsistentHash::new(backends(&[1, 1, 1, 1]));
        let mut order: Vec<_> = selector.iter(42).map(|b| b.address().to_string()).collect();
        assert_eq!(order.len(), 4);
        order.sort();
        order.dedup();
        assert_eq!(order.len(), 4);
    }

    #[test]
    fn adding_a_backend_moves_about_one_in_n_keys_all_to_it() {
        let four = backends(&[1, 1, 1, 1]);
        let mut five = four.clone();
        five.extend(backends(&[1, 1, 1, 1, 1]).pop());
        let before = ConsistentHash::new(four);
        let after = ConsistentHash::new(five);
        let keys = 20_000;
        let mut moved = 0;
        for i in 0..keys {
            let key = hash_bytes(format!("client-{i}").as_bytes());
            let (was, now) = (first(&before, key), first(&after, key));
            if was != now {
                assert_eq!(now, "10.0.0.5:80", "a moved key must go to the new backend");
                moved += 1;
            }
        }
        let fraction = f64::from(moved) / f64::from(keys);
        assert!((0.12..0.28).contains(&fraction), "moved {fraction}");
    }
}
