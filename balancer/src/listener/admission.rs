//! Admission of client connections, before a byte of them is parsed: at most
//! `proxy.max_connections` at once, and at most `proxy.max_connections_per_ip` from one client
//! address (an IPv6 client by its /64, which one host usually holds whole; trusted proxies are
//! exempt, since many clients share them). A connection over a bound gets a short JSON answer
//! (503 when the balancer is full, 429 when its address is) and is closed.

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
    trusted: TrustedProxies,
    total: AtomicUsize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
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
}

impl Admission {
    pub fn new(max_total: usize, max_per_address: usize, trusted: TrustedProxies) -> Self {
        Self {
            max_total,
            max_per_address,
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
        };
        let Some(address) = peer
            .filter(|ip| !self.trusted.contains(*ip))
            .map(client_key)
        else {
            return Ok(permit);
        };
        let mut counts = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(address).or_insert(0);
        if *count >= self.max_per_address {
            return Err(Refusal::AddressFull);
        }
        *count += 1;
        permit.address = Some(address);
        Ok(permit)
    }

    pub fn open(&self) -> usize {
        self.total.load(Ordering::Relaxed)
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
            if let Some(count) = counts.get_mut(&address) {
                *count -= 1;
                if *count == 0 {
                    counts.remove(&address);
                }
            }
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

    #[test]
    fn bounds_hold_per_address_and_in_total_and_free_on_drop() {
        let admission = Arc::new(Admission::new(3, 2, TrustedProxies::default()));
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
        let admission = Arc::new(Admission::new(100, 1, trusted));
        let _first = admission.admit(ip("2001:db8:1:2::1")).unwrap();
        assert!(admission.admit(ip("2001:db8:1:2::ffff")).is_err());
        assert!(admission.admit(ip("2001:db8:1:3::1")).is_ok());
        let _proxy: Vec<_> = (0..5)
            .map(|_| admission.admit(ip("10.0.0.1")).unwrap())
            .collect();
    }
}
