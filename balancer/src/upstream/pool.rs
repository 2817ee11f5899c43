//! Idle keep-alive connections to the backends, one pool per worker thread (no locks, no
//! atomics). The most recently used connection is handed out first, and a connection the
//! backend has closed or written to while idle is dropped instead of reused.

use std::cell::RefCell;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpStream;

/// Idle connections older than this are closed rather than reused: shorter than actix-web's
/// default 5 s keep-alive, so we rarely pick a connection the backend is closing right then.
const IDLE_TIMEOUT: Duration = Duration::from_secs(4);

pub struct Pool {
    backends: RefCell<Vec<Slot>>,
    max_idle_per_backend: usize,
}

/// Idle connections to one backend; slots are only ever appended, so an index stays valid.
struct Slot {
    authority: Box<str>,
    idle: Vec<(TcpStream, Instant)>,
}

impl Pool {
    pub fn new(max_idle_per_backend: usize) -> Self {
        Self {
            backends: RefCell::new(Vec::new()),
            max_idle_per_backend,
        }
    }

    /// The slot for `authority`; a pool sees a handful of backends, so a scan beats a hash.
    pub fn slot(&self, authority: &str) -> usize {
        let mut backends = self.backends.borrow_mut();
        match backends.iter().position(|s| &*s.authority == authority) {
            Some(index) => index,
            None => {
                backends.push(Slot {
                    authority: authority.into(),
                    idle: Vec::new(),
                });
                backends.len() - 1
            }
        }
    }

    /// An idle connection that still looks usable, if any.
    pub fn checkout(&self, slot: usize) -> Option<TcpStream> {
        let mut backends = self.backends.borrow_mut();
        let idle = &mut backends[slot].idle;
        while let Some((mut stream, since)) = idle.pop() {
            if since.elapsed() < IDLE_TIMEOUT && is_quiet(&mut stream) {
                return Some(stream);
            }
        }
        None
    }

    /// Keeps a connection whose last exchange ended cleanly.
    pub fn checkin(&self, slot: usize, stream: TcpStream) {
        let mut backends = self.backends.borrow_mut();
        let idle = &mut backends[slot].idle;
        if idle.len() < self.max_idle_per_backend {
            idle.push((stream, Instant::now()));
        }
    }

    #[cfg(test)]
    pub fn idle(&self, slot: usize) -> usize {
        self.backends.borrow()[slot].idle.len()
    }
}

/// True when nothing arrived on an idle connection: no EOF, no stray bytes. Costs no system
/// call unless the socket was reported readable.
fn is_quiet(stream: &mut TcpStream) -> bool {
    let mut probe = [0u8; 1];
    let mut probe = ReadBuf::new(&mut probe);
    let mut cx = Context::from_waker(Waker::noop());
    matches!(
        Pin::new(stream).poll_read(&mut cx, &mut probe),
        Poll::Pending
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn closed_or_chatty_idle_connections_are_not_reused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let pool = Pool::new(8);
        let slot = pool.slot(&address);
        assert_eq!(pool.slot(&address), slot);
        for _ in 0..3 {
            pool.checkin(slot, TcpStream::connect(&address).await.unwrap());
        }
        let (mut chatty, _) = listener.accept().await.unwrap();
        let (closing, _) = listener.accept().await.unwrap();
        let (_quiet, _) = listener.accept().await.unwrap();
        // Accepted in connect order: the first two pooled connections misbehave.
        chatty.write_all(b"HTTP/1.1 200 OK\r\n").await.unwrap();
        drop(closing);
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Most recent first: the quiet third connection is handed out...
        assert!(pool.checkout(slot).is_some());
        // ...and the other two are discarded.
        assert!(pool.checkout(slot).is_none());
        assert_eq!(pool.idle(slot), 0);
    }

    #[tokio::test]
    async fn the_idle_count_is_bounded() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let pool = Pool::new(2);
        let slot = pool.slot(&address);
        for _ in 0..3 {
            pool.checkin(slot, TcpStream::connect(&address).await.unwrap());
        }
        assert_eq!(pool.idle(slot), 2);
    }
}
