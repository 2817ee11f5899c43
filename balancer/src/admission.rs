//! Admission of client connections, before a byte of them is parsed: at most
//! `proxy.max_connections` at once, and at most `proxy.max_connections_per_ip` from one client
//! address (an IPv6 client by its /64, which one host usually holds whole; trusted proxies are
//! exempt, since many clients share them). A connection over a bound gets a short JSON answer
//! (503 when the balancer is full, 429 when its address is) and is closed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_service::{Service, ServiceFactory};
use futures_util::future::LocalBoxFuture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::proxy::TrustedProxies;

/// How long a refused connection is kept to deliver its answer.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

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

/// Answers a refused connection and closes it. The write half is shut first and what the
/// client already sent is read away briefly, so the close does not turn into a reset that
/// destroys the answer before the client reads it.
async fn refuse(mut stream: TcpStream, refusal: Refusal) {
    let (status, code, message) = match refusal {
        Refusal::Full => (
            "503 Service Unavailable",
            "server_busy",
            "The server has too many open connections; retry shortly.",
        ),
        Refusal::AddressFull => (
            "429 Too Many Requests",
            "too_many_connections",
            "Too many open connections from your address; close some and retry.",
        ),
    };
    let body = format!("{{\"error\":\"{code}\",\"message\":\"{message}\"}}");
    let answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: 1\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

/// Wraps a listener's service factory so each connection is admitted first.
pub struct Admitted<F> {
    pub inner: F,
    pub admission: Arc<Admission>,
}

impl<F> ServiceFactory<TcpStream> for Admitted<F>
where
    F: ServiceFactory<TcpStream, Config = (), Response = ()>,
    F::Service: 'static,
    F::Future: 'static,
    <F::Service as Service<TcpStream>>::Future: 'static,
{
    type Response = ();
    type Error = F::Error;
    type Config = ();
    type Service = AdmitService<F::Service>;
    type InitError = F::InitError;
    type Future = LocalBoxFuture<'static, Result<Self::Service, F::InitError>>;

    fn new_service(&self, config: ()) -> Self::Future {
        let inner = self.inner.new_service(config);
        let admission = self.admission.clone();
        Box::pin(async move {
            Ok(AdmitService {
                inner: inner.await?,
                admission,
            })
        })
    }
}

pub struct AdmitService<S> {
    inner: S,
    admission: Arc<Admission>,
}

impl<S> Service<TcpStream> for AdmitService<S>
where
    S: Service<TcpStream, Response = ()>,
    S::Future: 'static,
{
    type Response = ();
    type Error = S::Error;
    type Future = LocalBoxFuture<'static, Result<(), S::Error>>;

    actix_service::forward_ready!(inner);

    fn call(&self, stream: TcpStream) -> Self::Future {
        let peer = stream.peer_addr().ok().map(|address| address.ip());
        match self.admission.admit(peer) {
            Ok(permit) => {
                let connection = self.inner.call(stream);
                Box::pin(async move {
                    let served = connection.await;
                    drop(permit);
                    served
                })
            }
            Err(refusal) => {
                log::debug!("refused a connection from {peer:?}: {refusal:?}");
                Box::pin(async move {
                    refuse(stream, refusal).await;
                    Ok(())
                })
            }
        }
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
