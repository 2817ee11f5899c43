//! Coalescing of concurrent misses (like nginx `proxy_cache_lock`): the first request for a key
//! leads the upstream fetch, later ones wait (bounded) for its outcome.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::entry::CachedResponse;
use super::key::CacheKey;

/// What the leader's fetch produced, as far as followers can reuse it.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Stored: serve it.
    Stored(Arc<CachedResponse>),
    /// The upstream failed and this stale entry was served instead.
    Stale(Arc<CachedResponse>),
    /// Not reusable (uncacheable or too large): fetch on your own.
    NotShared,
}

type Slot = watch::Receiver<Option<Outcome>>;

#[derive(Debug, Default)]
pub struct Coalescer {
    inflight: Mutex<HashMap<CacheKey, Slot>>,
}

/// This request's part in a fetch.
pub enum Role {
    Leader(Leader),
    Follower(Slot),
}

impl Coalescer {
    pub fn join(self: &Arc<Self>, key: &CacheKey) -> Role {
        let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = inflight.get(key) {
            return Role::Follower(slot.clone());
        }
        let (sender, receiver) = watch::channel(None);
        inflight.insert(key.clone(), receiver);
        Role::Leader(Leader {
            coalescer: self.clone(),
            key: key.clone(),
            sender,
        })
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

/// The leader of a fetch; dropping it (even without an outcome) releases the followers.
pub struct Leader {
    coalescer: Arc<Coalescer>,
    key: CacheKey,
    sender: watch::Sender<Option<Outcome>>,
}

impl Leader {
    pub fn key(&self) -> &CacheKey {
        &self.key
    }

    pub fn finish(self, outcome: Outcome) {
        self.sender.send_replace(Some(outcome));
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        self.coalescer
            .inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
    }
}

/// Why a follower got no outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoOutcome {
    /// The lock timeout passed while the leader was still fetching.
    TimedOut,
    /// The leader was dropped (its client went away) before finishing.
    LeaderGone,
}

/// Waits up to `timeout` for the leader's outcome.
pub async fn follow(mut slot: Slot, timeout: Duration) -> Result<Outcome, NoOutcome> {
    let waited = tokio::time::timeout(timeout, slot.wait_for(Option::is_some)).await;
    match waited {
        Ok(Ok(outcome)) => Ok(outcome.clone().expect("waited for Some")),
        Ok(Err(_)) => Err(NoOutcome::LeaderGone),
        Err(_) => Err(NoOutcome::TimedOut),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[actix_web::test]
    async fn one_leader_many_followers_and_release_on_drop() {
        let coalescer = Arc::new(Coalescer::default());
        let key = CacheKey::primary(&TestRequest::get().uri("/x").to_http_request()).unwrap();
        let Role::Leader(leader) = coalescer.join(&key) else {
            panic!("first request must lead");
        };
        let Role::Follower(slot) = coalescer.join(&key) else {
            panic!("second request must follow");
        };
        leader.finish(Outcome::NotShared);
        assert!(matches!(
            follow(slot, Duration::from_secs(5)).await,
            Ok(Outcome::NotShared)
        ));
        assert_eq!(coalescer.len(), 0);

        let Role::Leader(leader) = coalescer.join(&key) else {
            panic!("a finished fetch must not keep followers");
        };
        let Role::Follower(slot) = coalescer.join(&key) else {
            panic!("second request must follow");
        };
        let Role::Follower(second) = coalescer.join(&key) else {
            panic!("third request must follow");
        };
        assert_eq!(
            follow(second, Duration::from_millis(1)).await.unwrap_err(),
            NoOutcome::TimedOut
        );
        drop(leader);
        assert_eq!(
            follow(slot, Duration::from_secs(5)).await.unwrap_err(),
            NoOutcome::LeaderGone
        );
    }
}
