//! Bounded MongoDB operations. The Rust driver has no socket timeout, and its futures must be
//! polled to completion (its README: dropping one midway can leave the driver's internals
//! inconsistent, RUST-937), so `tokio::time::timeout` cannot simply be put around them.
//!
//! Each operation runs in its own task and the caller waits for it at most the operation
//! timeout; past it the caller gets `TimedOut` and the task is left to finish on its own (as it
//! is when the caller stops waiting sooner: a readiness probe's shorter timeout, a client that
//! hung up). Those left-behind tasks are counted: while too many are still running (a hung
//! server), new operations fail at once instead of piling up tasks, connections and memory.
//! They do end: when the driver's monitor finds the server unresponsive it clears the pool and
//! interrupts the connections in use.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::AbortHandle;

use crate::store::StoreError;

/// Timed-out operations allowed to linger before new ones are refused.
const MAX_STALLED: usize = 16;

#[derive(Clone)]
pub struct Operations {
    timeout: Duration,
    stalled: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Operations {
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            stalled: Arc::default(),
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs `operation` to completion in a task, waiting for it at most the timeout.
    pub async fn run<T, F>(&self, operation: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = mongodb::error::Result<T>> + Send + 'static,
    {
        self.refuse_when_stalled()?;
        let task = tokio::spawn(operation);
        // Dropping the handle only detaches the task: it runs on until the driver returns.
        let _left_behind = LeftBehind {
            operations: self,
            task: task.abort_handle(),
        };
        match tokio::time::timeout(self.timeout, task).await {
            Ok(finished) => Ok(finished??),
            Err(_) => Err(StoreError::TimedOut(self.timeout)),
        }
    }

    fn refuse_when_stalled(&self) -> Result<(), StoreError> {
        let mut stalled = self.lock();
        stalled.retain(|task| !task.is_finished());
        if stalled.len() >= MAX_STALLED {
            return Err(StoreError::TooManyStalled(stalled.len()));
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<AbortHandle>> {
        self.stalled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Counts the operation's task as stalled if nobody waits for it any more while it still runs:
/// on a timeout, or when the caller's future is dropped midway.
struct LeftBehind<'a> {
    operations: &'a Operations,
    task: AbortHandle,
}

impl Drop for LeftBehind<'_> {
    fn drop(&mut self) {
        if !self.task.is_finished() {
            self.operations.lock().push(self.task.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io_error() -> mongodb::error::Error {
        std::io::Error::other("boom").into()
    }

    #[tokio::test]
    async fn an_operation_within_the_timeout_returns_its_result() {
        let operations = Operations::new(Duration::from_secs(1));
        assert_eq!(operations.run(async { Ok(7) }).await.unwrap(), 7);
        let failed = operations.run(async { Err::<(), _>(io_error()) }).await;
        assert!(matches!(failed, Err(StoreError::Mongo(_))), "{failed:?}");
    }

    #[tokio::test]
    async fn a_hung_operation_times_out_and_too_many_refuse_new_ones() {
        let operations = Operations::new(Duration::from_millis(20));
        let (release, released) = tokio::sync::watch::channel(false);
        for _ in 0..MAX_STALLED {
            let mut released = released.clone();
            let result = operations
                .run(async move {
                    let _ = released.wait_for(|done| *done).await;
                    Ok(())
                })
                .await;
            assert!(matches!(result, Err(StoreError::TimedOut(_))), "{result:?}");
        }
        let refused = operations.run(async { Ok(()) }).await;
        assert!(
            matches!(refused, Err(StoreError::TooManyStalled(n)) if n == MAX_STALLED),
            "{refused:?}"
        );
        release.send(true).unwrap();
        // Once the hung operations end, new ones run again.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match operations.run(async { Ok(1) }).await {
                Ok(1) => break,
                other => assert!(tokio::time::Instant::now() < deadline, "{other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_caller_that_stops_waiting_leaves_its_operation_counted_until_it_ends() {
        let operations = Operations::new(Duration::from_secs(60));
        let (release, mut released) = tokio::sync::watch::channel(false);
        let hung = operations.run(async move {
            let _ = released.wait_for(|done| *done).await;
            Ok(())
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(20), hung)
                .await
                .is_err()
        );
        assert_eq!(operations.lock().len(), 1, "counted once abandoned");
        release.send(true).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            operations.refuse_when_stalled().unwrap();
            if operations.lock().is_empty() {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "never forgotten");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
