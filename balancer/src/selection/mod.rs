//! Backend selection: one [`Selector`] trait whose `iter(key)` yields the first choice and then
//! the fallbacks, so failover is part of selection. One file per algorithm.

mod consistent_hash;
mod least_connections;
mod round_robin;
mod weighted;

use std::str::FromStr;
use std::sync::Arc;

use actix_web::http::header::HeaderName;

pub use consistent_hash::ConsistentHash;
pub use least_connections::LeastConnections;
pub use round_robin::RoundRobin;
pub use weighted::Weighted;

use crate::backends::Backend;

/// A selection algorithm built over a fixed list of backends (rebuilt when the list changes).
pub trait Selector: Send + Sync {
    /// Backends in order of preference for `key`, each at most once. Health is not considered
    /// here: the caller skips unavailable backends, which makes the next ones the fallbacks.
    fn iter(&self, key: u64) -> Box<dyn Iterator<Item = &Arc<Backend>> + '_>;
}

/// The configured algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    RoundRobin,
    LeastConnections,
    Weighted,
    ConsistentHash,
}

impl Algorithm {
    pub fn build(self, backends: Vec<Arc<Backend>>) -> Box<dyn Selector> {
        match self {
            Self::RoundRobin => Box::new(RoundRobin::new(backends)),
            Self::LeastConnections => Box::new(LeastConnections::new(backends)),
            Self::Weighted => Box::new(Weighted::new(backends)),
            Self::ConsistentHash => Box::new(ConsistentHash::new(backends)),
        }
    }

    /// Only consistent hashing looks at the request key; others skip computing it.
    pub fn uses_key(self) -> bool {
        self == Self::ConsistentHash
    }
}

impl FromStr for Algorithm {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "round-robin" => Ok(Self::RoundRobin),
            "least-connections" => Ok(Self::LeastConnections),
            "weighted" => Ok(Self::Weighted),
            "consistent-hash" => Ok(Self::ConsistentHash),
            other => Err(format!(
                "`{other}` is not one of round-robin, least-connections, weighted, consistent-hash"
            )),
        }
    }
}

/// What consistent hashing hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashKey {
    ClientIp,
    Header(HeaderName),
}

impl FromStr for HashKey {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "client-ip" {
            return Ok(Self::ClientIp);
        }
        match text.strip_prefix("header:") {
            Some(name) => HeaderName::from_bytes(name.trim().as_bytes())
                .map(Self::Header)
                .map_err(|_| format!("`{name}` is not a valid header name")),
            None => Err(format!("`{text}` is neither `client-ip` nor `header:NAME`")),
        }
    }
}

/// The stable 64-bit hash used for keys and ring points.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// Yields `backends` starting at `start` and wrapping around: the shared fallback order.
fn rotated(backends: &[Arc<Backend>], start: usize) -> impl Iterator<Item = &Arc<Backend>> {
    let (tail, head) = backends.split_at(start.min(backends.len()));
    head.iter().chain(tail)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::backends::BackendAddress;

    pub fn backends(weights: &[u32]) -> Vec<Arc<Backend>> {
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let address = BackendAddress::parse(&format!("10.0.0.{}:80", i + 1)).unwrap();
                Arc::new(Backend::new(address, *w, false, None))
            })
            .collect()
    }

    pub fn first(selector: &dyn Selector, key: u64) -> String {
        selector.iter(key).next().unwrap().address().to_string()
    }
}
