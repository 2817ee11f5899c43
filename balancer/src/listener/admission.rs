//! Admission of client connections, before a byte of them is parsed: at most
//! `proxy.max_connections` at once, and at most `proxy.max_connections_per_ip` from one client
//! address (an IPv6 client by its /64, which one host usually holds whole; trusted proxies are
//! exempt, since many clients share them). A connection over a bound gets a short JSON answer
//! (503 when the balancer is full, 429 when its address is) and is closed.
//!
//! The address's HTTP/2 streams in flight are bounded too, across its connections, by
//! `proxy.max_streams_per_ip` ([`StreamBudget`]): an HTTP/1 connection carries one request at a
//! time, but each HTTP/2 connection may carry 128, and every request in flight holds an upstream
//! connection, so without it one address could hold 128 times the backend connections its
//! connection bound suggests.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use bytes::Bytes;

use super::raw_answer;
use crate::proxy::TrustedProxies;

/// Counts of open client connections, shared by every worker thread.
pub struct Admission {
    max_total: usize,
    max_per_address: usize,
    max_streams_per_address: usize,
    trusted: TrustedProxies,
    total: AtomicUsize,
    per_address: Mutex<HashMap<IpAddr, AddressLoad>>,
}

/// One client address: its open connections, counted under the map's lock, and its HTTP/2
/// streams in flight, counted without it through the [`StreamBudget`] its connections hold.
struct AddressLoad {
    connections: usize,
    streams: Arc<AtomicUsize>,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Full,
    AddressFull,
}

impl Refusal {
    pub fn answer(self) -> Bytes {
        match self {
            Self::Full => raw_answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_busy",
                "The server has too many open connections; retry shortly.",
            ),
            Self::AddressFull => raw_answer(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_connections",
                "Too many open connections from your address; close some and retry.",
            ),
        }
    }
}

/// Holds a connection's place until dropped.
pub struct Permit {
    admission: Arc<Admission>,
    address: Option<IpAddr>,
    streams: StreamBudget,
}

/// The HTTP/2 streams one client address may still open, shared by its connections.
#[derive(Clone)]
pub struct StreamBudget {
    /// `None` for a client without a bound (a trusted proxy, or no known address).
    in_flight: Option<Arc<AtomicUsize>>,
    max: usize,
}

/// One stream's place in its address's budget, given back when dropped.
pub struct StreamSlot(Option<Arc<AtomicUsize>>);

/// The bounds [`Admission`] keeps.
pub struct AdmissionBounds {
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    pub max_streams_per_address: usize,
}

impl Admission {
    pub fn new(bounds: AdmissionBounds, trusted: TrustedProxies) -> Self {
        Self {
            max_total: bounds.max_connections,
            max_per_address: bounds.max_connections_per_address,
            max_streams_per_address: bounds.max_streams_per_address,
            trusted,
            total: AtomicUsize::new(0),
            per_address: Mutex::new(HashMap::new()),
        }
    }

    pub fn admit(self: &Arc<Self>, peer: Option<IpAddr>) -> Result<Permit, Refusal> {
        if self.total.fetch_add(1, Ordering::AcqRel) >= self.max_total {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::Full);
        }
        let mut permit = Permit {
            admission: self.clone(),
            address: None,
            streams: StreamBudget {
                in_flight: None,
                max: self.max_streams_per_address,
            },
        };
        let Some(address) = peer
            .filter(|ip| !self.trusted.contains(*ip))
            .map(client_key)
        else {
            return Ok(permit);
        };
        let mut counts = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
        let load = counts.entry(address).or_insert_with(|| AddressLoad {
            connections: 0,
            streams: Arc::new(AtomicUsize::new(0)),
        });
        if load.connections >= self.max_per_address {
            return Err(Refusal::AddressFull);
        }
        load.connections += 1;
        permit.address = Some(address);
        permit.streams.in_flight = Some(load.streams.clone());
        Ok(permit)
    }

    pub fn open(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }
}

impl Permit {
    /// The HTTP/2 stream budget of the connection's address.
    pub fn streams(&self) -> StreamBudget {
        self.streams.clone()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission.total.fetch_sub(1, Ordering::AcqRel);
        if let Some(address) = self.address {
            let mut counts = self
                .admission
                .per_address
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some(load) = counts.get_mut(&address) {
                load.connections -= 1;
                // Streams of a closing connection may still hold the counter: they keep their
                // own reference to it, and the address's next connection starts a new one.
                if load.connections == 0 {
                    counts.remove(&address);
                }
            }
        }
    }
}

impl StreamBudget {
    /// A place for one more stream, or `None` when the address has its bound in flight.
    pub fn begin(&self) -> Option<StreamSlot> {
        let Some(in_flight) = &self.in_flight else {
            return Some(StreamSlot(None));
        };
        if in_flight.fetch_add(1, Ordering::AcqRel) >= self.max {
            in_flight.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(StreamSlot(Some(in_flight.clone())))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if let Some(in_flight) = &self.0 {
            in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The address a client is counted by: IPv4 as is, IPv6 by its /64.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    fn admission(
        connections: usize,
        per_address: usize,
        trusted: TrustedProxies,
    ) -> Arc<Admission> {
        let bounds = AdmissionBounds {
            max_connections: connections,
            max_connections_per_address: per_address,
            max_streams_per_address: 3,
        };
        Arc::new(Admission::new(bounds, trusted))
    }

    #[test]
    fn bounds_hold_per_address_and_in_total_and_free_on_drop() {
        let admission = admission(3, 2, TrustedProxies::default());
        let a1 = admission.admit(ip("192.0.2.1")).unwrap();
        let _a2 = admission.admit(ip("192.0.2.1")).unwrap();
        assert_eq!(
            admission.admit(ip("192.0.2.1")).err(),
            Some(Refusal::AddressFull)
        );
        let _b = admission.admit(ip("192.0.2.2")).unwrap();
        assert_eq!(admission.admit(ip("192.0.2.3")).err(), Some(Refusal::Full));
        assert_eq!(admission.open(), 3);
        drop(a1);
        assert!(admission.admit(ip("192.0.2.1")).is_ok());
        assert!(admission.per_address.lock().unwrap().len() <= 2);
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_trusted_proxies_are_exempt() {
        let trusted = TrustedProxies::new(vec!["10.0.0.1/32".parse().unwrap()]);
        let admission = admission(100, 1, trusted);
        let _first = admission.admit(ip("2001:db8:1:2::1")).unwrap();
        assert!(admission.admit(ip("2001:db8:1:2::ffff")).is_err());
        assert!(admission.admit(ip("2001:db8:1:3::1")).is_ok());
        let proxy: Vec<_> = (0..5)
            .map(|_| admission.admit(ip("10.0.0.1")).unwrap())
            .collect();
        let streams: Vec<_> = (0..10).map(|_| proxy[0].streams().begin()).collect();
        assert!(streams.iter().all(Option::is_some));
    }

    #[test]
    fn an_address_has_its_stream_bound_across_its_connections_until_slots_drop() {
        let admission = admission(100, 10, TrustedProxies::default());
        let (one, two) = (
            admission.admit(ip("192.0.2.1")).unwrap(),
            admission.admit(ip("192.0.2.1")).unwrap(),
        );
        let other = admission.admit(ip("192.0.2.2")).unwrap();
        let first = one.streams().begin().unwrap();
        let _held = [one.streams().begin(), two.streams().begin()];
        assert!(two.streams().begin().is_none());
        assert!(one.streams().begin().is_none());
        assert!(other.streams().begin().is_some());
        drop(first);
        assert!(two.streams().begin().is_some());
    }
}
