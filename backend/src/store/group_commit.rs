//! Group commit: concurrent analyses are written in batches, one transaction per batch.
//!
//! Requests queue their analysis with a reply channel; a single writer task takes everything
//! waiting (up to the batch limit), writes it in one `insert_batch`, and answers each request
//! with its own outcome only once its batch is durable. While one batch commits, the next one
//! gathers, so a slow commit raises the batch size instead of lowering throughput. One analysis
//! failing (a reused idempotency key, a refused document) fails only its own request; a batch
//! the store cannot vouch for fails exactly the requests in it.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{Outcome, Store, StoreError, report_unavailable};
use crate::analysis::NewAnalysis;

type Reply = oneshot::Sender<Outcome>;

/// A handle for queueing analyses; cheap to clone. The writer task ends, after writing what is
/// queued, once every handle is dropped.
#[derive(Clone)]
pub struct GroupCommitter {
    queue: mpsc::Sender<(NewAnalysis, Reply)>,
}

impl GroupCommitter {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Arc<dyn Store>, batch_max: usize) -> (Self, JoinHandle<()>) {
        // Room for a few batches: beyond that, senders wait, which is the back-pressure we want.
        let (queue, pending) = mpsc::channel(batch_max.saturating_mul(4));
        let writer = tokio::spawn(write_batches(store, pending, batch_max));
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
        let size = batch.len();
        let written = store.insert_batch(batch).await.and_then(|outcomes| {
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
}

fn fail_all(replies: Vec<Reply>, error: StoreError) {
    let error = Arc::new(error);
    for reply in replies {
        let _ = reply.send(Err(StoreError::BatchFailed(Arc::clone(&error))));
    }
}
