//! Group commit: concurrent analyses are written in batches, one transaction per batch.
//!
//! Requests queue their analysis with a reply channel; a single writer takes everything
//! waiting (up to the batch limit), writes it in one batch, and answers each request with its
//! own outcome only once its batch is durable. The writer is a thread of its own when the
//! store's writes block (SQLite, [`Store::blocking_writer`]), else a task calling
//! `insert_batch`. While one batch commits, the next one gathers, so a slow commit raises the
//! batch size instead of lowering throughput. One analysis failing (a reused idempotency key, a
//! refused document) fails only its own request; a batch the store cannot vouch for fails
//! exactly the requests in it.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{BlockingWriter, Outcome, Store, StoreError, report_unavailable};
use crate::analysis::NewAnalysis;

type Reply = oneshot::Sender<Outcome>;

/// A handle for queueing analyses; cheap to clone. The writer ends, after writing what is
/// queued, once every handle is dropped.
#[derive(Clone)]
pub struct GroupCommitter {
    queue: mpsc::Sender<(NewAnalysis, Reply)>,
}

impl GroupCommitter {
    /// Starts the writer: a thread from the current runtime's blocking pool, kept for the
    /// committer's lifetime, or a task on the runtime.
    pub fn start(store: Arc<dyn Store>, batch_max: usize) -> (Self, JoinHandle<()>) {
        // Room for a few batches: beyond that, senders wait, which is the back-pressure we want.
        let (queue, pending) = mpsc::channel(batch_max.saturating_mul(4));
        let writer = match store.blocking_writer() {
            Some(write) => {
                tokio::task::spawn_blocking(move || write_on_this_thread(write, pending, batch_max))
            }
            None => tokio::spawn(write_batches(store, pending, batch_max)),
        };
        (Self { queue }, writer)
    }

    /// Queues an analysis and waits until it is stored (or found stored under its key).
    pub async fn record(&self, analysis: NewAnalysis) -> Outcome {
        let (reply, stored) = oneshot::channel();
        self.queue
            .send((analysis, reply))
            .await
            .map_err(|_| StoreError::ShuttingDown)?;
        stored.await.map_err(|_| StoreError::ShuttingDown)?
    }
}

async fn write_batches(
    store: Arc<dyn Store>,
    mut pending: mpsc::Receiver<(NewAnalysis, Reply)>,
    batch_max: usize,
) {
    let mut waiting = Vec::with_capacity(batch_max);
    while pending.recv_many(&mut waiting, batch_max).await > 0 {
        let (batch, replies): (Vec<_>, Vec<_>) = waiting.drain(..).unzip();
        answer(replies, store.insert_batch(batch).await);
    }
}

fn write_on_this_thread(
    mut write: BlockingWriter,
    mut pending: mpsc::Receiver<(NewAnalysis, Reply)>,
    batch_max: usize,
) {
    let mut waiting = Vec::with_capacity(batch_max);
    while let Some(first) = pending.blocking_recv() {
        waiting.push(first);
        while waiting.len() < batch_max {
            match pending.try_recv() {
                Ok(next) => waiting.push(next),
                Err(_) => break,
            }
        }
        let (batch, replies): (Vec<_>, Vec<_>) = waiting.drain(..).unzip();
        answer(replies, write(batch));
    }
}

/// Answers each request with its own outcome, or all of them with the batch's failure.
fn answer(replies: Vec<Reply>, written: Result<Vec<Outcome>, StoreError>) {
    let size = replies.len();
    let written = written.and_then(|outcomes| {
        // Pairing outcomes with the wrong requests would be worse than failing them.
        if outcomes.len() == size {
            Ok(outcomes)
        } else {
            Err(StoreError::OutcomeCountMismatch {
                batch: size,
                outcomes: outcomes.len(),
            })
        }
    });
    match written {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                // The requester may have gone (client hung up); the analysis is stored anyway.
                let _ = reply.send(outcome);
            }
        }
        Err(error) => {
            report_unavailable(&error);
            fail_all(replies, error);
        }
    }
}

fn fail_all(replies: Vec<Reply>, error: StoreError) {
    let error = Arc::new(error);
    for reply in replies {
        let _ = reply.send(Err(StoreError::BatchFailed(Arc::clone(&error))));
    }
}

#[cfg(test)]
mod tests {
    //! Both writers against an in-memory store that records its batches: each request gets
    //! its own analysis back, requests that wait together are written together, and what is
    //! queued when the last handle goes is written before the writer ends.

    use std::sync::Mutex;
    use std::time::Duration;

    use async_trait::async_trait;
    use chrono::Utc;
    use vader::Scores;

    use super::*;
    use crate::analysis::Analysis;
    use crate::store::{HistoryPage, Recorded};

    /// Batch sizes in the order written; each write takes [`COMMIT`], like an fsync.
    #[derive(Default)]
    struct Log {
        batches: Mutex<Vec<usize>>,
    }

    struct MemoryStore {
        log: Arc<Log>,
        blocking: bool,
    }

    const COMMIT: Duration = Duration::from_millis(20);

    impl Log {
        fn write(&self, batch: Vec<NewAnalysis>) -> Result<Vec<Outcome>, StoreError> {
            std::thread::sleep(COMMIT);
            let mut batches = self.batches.lock().unwrap();
            batches.push(batch.len());
            let first_id = batches.iter().sum::<usize>() - batch.len();
            let stored = batch.into_iter().enumerate();
            Ok(stored
                .map(|(i, new)| {
                    Ok(Recorded::Inserted(
                        new.stored_as((first_id + i).to_string()),
                    ))
                })
                .collect())
        }
    }

    #[async_trait]
    impl Store for MemoryStore {
        async fn insert_batch(&self, batch: Vec<NewAnalysis>) -> Result<Vec<Outcome>, StoreError> {
            let log = Arc::clone(&self.log);
            tokio::task::spawn_blocking(move || log.write(batch)).await?
        }
        fn blocking_writer(&self) -> Option<BlockingWriter> {
            let log = Arc::clone(&self.log);
            self.blocking
                .then(|| Box::new(move |batch| log.write(batch)) as BlockingWriter)
        }
        async fn history(&self, _: HistoryPage<'_>) -> Result<Vec<Analysis>, StoreError> {
            Ok(Vec::new())
        }
        async fn ping(&self) -> Result<(), StoreError> {
            Ok(())
        }
        fn describe(&self) -> String {
            "memory".into()
        }
    }

    fn analysis(text: String) -> NewAnalysis {
        let scores = Scores {
            neg: 0.0,
            neu: 1.0,
            pos: 0.0,
            compound: 0.0,
        };
        NewAnalysis {
            text,
            scores,
            created_at: Utc::now(),
            idempotency_key: None,
        }
    }

    /// 40 concurrent requests through a committer over `blocking` or async writes; returns
    /// the batch sizes once the writer has ended.
    async fn forty_requests(blocking: bool) -> Vec<usize> {
        let log = Arc::new(Log::default());
        let store = Arc::new(MemoryStore {
            log: Arc::clone(&log),
            blocking,
        });
        let (committer, writer) = GroupCommitter::start(store, 16);
        let requests = (0..40).map(|i| {
            let committer = committer.clone();
            tokio::spawn(async move { (i, committer.record(analysis(format!("text {i}"))).await) })
        });
        let mut ids = Vec::new();
        for request in requests.collect::<Vec<_>>() {
            let (i, outcome) = request.await.unwrap();
            let stored = outcome.expect("stored");
            assert_eq!(
                stored.analysis().text,
                format!("text {i}"),
                "its own analysis"
            );
            ids.push(stored.analysis().id.clone());
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 40, "one id each");
        drop(committer);
        tokio::time::timeout(Duration::from_secs(5), writer)
            .await
            .expect("the writer ends with its last handle")
            .unwrap();
        log.batches.lock().unwrap().clone()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_thread_answers_each_request_and_batches_those_that_wait() {
        let batches = forty_requests(true).await;
        assert_eq!(batches.iter().sum::<usize>(), 40);
        assert!(batches.iter().all(|&size| size <= 16), "{batches:?}");
        assert!(
            batches.len() < 40,
            "requests waiting together share a commit: {batches:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_task_does_the_same_for_async_stores() {
        let batches = forty_requests(false).await;
        assert_eq!(batches.iter().sum::<usize>(), 40);
        assert!(batches.len() < 40, "{batches:?}");
    }

    #[tokio::test]
    async fn analyses_queued_before_the_last_handle_goes_are_written() {
        let log = Arc::new(Log::default());
        let store = Arc::new(MemoryStore {
            log: Arc::clone(&log),
            blocking: true,
        });
        let (committer, writer) = GroupCommitter::start(store, 16);
        let requests: Vec<_> = (0..3)
            .map(|i| {
                let committer = committer.clone();
                tokio::spawn(async move { committer.record(analysis(format!("{i}"))).await })
            })
            .collect();
        // All three are queued while the first commit (20 ms) runs; then every requester
        // hangs up and the last handle goes.
        tokio::time::sleep(COMMIT / 4).await;
        for request in requests {
            request.abort();
        }
        drop(committer);
        tokio::time::timeout(Duration::from_secs(5), writer)
            .await
            .expect("the writer ends")
            .unwrap();
        assert_eq!(log.batches.lock().unwrap().iter().sum::<usize>(), 3);
    }
}
