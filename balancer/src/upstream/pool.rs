//! Idle keep-alive connections to the backends, one pool per worker thread (no locks, no
//! atomics). The most recently used connection is handed out first, and a connection the
//! backend has closed or written to while idle is dropped instead of reused. A timer closes
//! connections idle for longer than the idle timeout and forgets backends that have gone
//! (removed, or a respawned worker's old port), so nothing lingers in CLOSE_WAIT.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpStream;

pub struct Pool {
    backends: RefCell<Vec<Slot>>,
    max_idle_per_backend: usize,
    idle_timeout: Duration,
}

/// Idle connections to one backend, oldest first.
struct Slot {
    authority: Rc<str>,
    idle: VecDeque<(TcpStream, Instant)>,
    last_used: Instant,
}

/// Where a connection goes back when its exchange ends: the slot index is a hint that the
/// authority confirms, since sweeping may have moved slots.
#[derive(Clone)]
pub struct SlotRef {
    index: usize,
    authority: Rc<str>,
}

impl Pool {
    pub fn new(max_idle_per_backend: usize, idle_timeout: Duration) -> Self {
        Self {
            backends: RefCell::new(Vec::new()),
            max_idle_per_backend,
            idle_timeout,
        }
    }

    /// The slot for `authority`; a pool sees a handful of backends, so a scan beats a hash.
    pub fn slot(&self, authority: &str) -> SlotRef {
        let mut backends = self.backends.borrow_mut();
        let index = match backends.iter().position(|s| &*s.authority == authority) {
            Some(index) => index,
            None => {
                backends.push(Slot {
                    authority: authority.into(),
                    idle: VecDeque::new(),
                    last_used: Instant::now(),
                });
                backends.len() - 1
            }
        };
        SlotRef {
            index,
            authority: backends[index].authority.clone(),
        }
    }

    /// An idle connection that still looks usable, if any.
    pub fn checkout(&self, slot: &SlotRef) -> Option<TcpStream> {
        let mut backends = self.backends.borrow_mut();
        let slot = find(&mut backends, slot)?;
        slot.last_used = Instant::now();
        while let Some((mut stream, since)) = slot.idle.pop_back() {
            if since.elapsed() < self.idle_timeout && is_quiet(&mut stream) {
                return Some(stream);
            }
        }
        None
    }

    /// Keeps a connection whose last exchange ended cleanly.
    pub fn checkin(&self, slot: &SlotRef, stream: TcpStream) {
        let mut backends = self.backends.borrow_mut();
        // A backend forgotten meanwhile takes no connections back.
        let Some(slot) = find(&mut backends, slot) else {
            return;
        };
        if slot.idle.len() < self.max_idle_per_backend {
            let now = Instant::now();
            slot.idle.push_back((stream, now));
            slot.last_used = now;
        }
    }

    /// Closes connections idle past the timeout and forgets backends unused for as long.
    fn sweep(&self) {
        let now = Instant::now();
        let mut backends = self.backends.borrow_mut();
        for slot in backends.iter_mut() {
            while slot
                .idle
                .front()
                .is_some_and(|(_, since)| now.duration_since(*since) >= self.idle_timeout)
            {
                slot.idle.pop_front();
            }
        }
        backends
            .retain(|s| !s.idle.is_empty() || now.duration_since(s.last_used) < self.idle_timeout);
    }

    /// Sweeps every `period` until the pool is dropped; spawn it on the pool's own thread.
    pub async fn sweep_every(pool: Weak<Self>, period: Duration) {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match pool.upgrade() {
                Some(pool) => pool.sweep(),
                None => return,
            }
        }
    }

    #[cfg(test)]
    pub fn idle(&self, slot: &SlotRef) -> usize {
        let mut backends = self.backends.borrow_mut();
        find(&mut backends, slot).map_or(0, |s| s.idle.len())
    }

    #[cfg(test)]
    fn slots(&self) -> usize {
        self.backends.borrow().len()
    }
}

fn find<'a>(backends: &'a mut [Slot], slot: &SlotRef) -> Option<&'a mut Slot> {
    let hinted = backends
        .get(slot.index)
        .is_some_and(|s| Rc::ptr_eq(&s.authority, &slot.authority));
    if hinted {
        return backends.get_mut(slot.index);
    }
    backends
        .iter_mut()
        .find(|s| Rc::ptr_eq(&s.authority, &slot.authority))
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

    const IDLE: Duration = Duration::from_secs(4);

    #[tokio::test]
    async fn closed_or_chatty_idle_connections_are_not_reused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let pool = Pool::new(8, IDLE);
        let slot = pool.slot(&address);
        assert_eq!(pool.slot(&address).index, slot.index);
        for _ in 0..3 {
            pool.checkin(&slot, TcpStream::connect(&address).await.unwrap());
        }
        let (mut chatty, _) = listener.accept().await.unwrap();
        let (closing, _) = listener.accept().await.unwrap();
        let (_quiet, _) = listener.accept().await.unwrap();
        // Accepted in connect order: the first two pooled connections misbehave.
        chatty.write_all(b"HTTP/1.1 200 OK\r\n").await.unwrap();
        drop(closing);
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Most recent first: the quiet third connection is handed out...
        assert!(pool.checkout(&slot).is_some());
        // ...and the other two are discarded.
        assert!(pool.checkout(&slot).is_none());
        assert_eq!(pool.idle(&slot), 0);
    }

    #[tokio::test]
    async fn the_idle_count_is_bounded() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let pool = Pool::new(2, IDLE);
        let slot = pool.slot(&address);
        for _ in 0..3 {
            pool.checkin(&slot, TcpStream::connect(&address).await.unwrap());
        }
        assert_eq!(pool.idle(&slot), 2);
    }

    #[tokio::test]
    async fn sweeping_closes_expired_connections_and_forgets_unused_backends() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let pool = Pool::new(8, Duration::from_millis(100));
        let slot = pool.slot(&address);
        pool.checkin(&slot, TcpStream::connect(&address).await.unwrap());
        let (mut accepted, _) = listener.accept().await.unwrap();
        pool.sweep();
        assert_eq!(pool.idle(&slot), 1, "a fresh connection stays");
        tokio::time::sleep(Duration::from_millis(150)).await;
        pool.sweep();
        assert_eq!(
            pool.slots(),
            0,
            "expired connection and unused slot are gone"
        );
        // The backend sees the close at once, not at its next request.
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(
            Duration::from_secs(1),
            tokio::io::AsyncReadExt::read(&mut accepted, &mut byte),
        )
        .await;
        assert!(matches!(read, Ok(Ok(0))), "{read:?}");
        // A connection coming back for a forgotten backend is closed, not kept.
        pool.checkin(&slot, TcpStream::connect(&address).await.unwrap());
        assert_eq!(pool.slots(), 0);
    }
}
