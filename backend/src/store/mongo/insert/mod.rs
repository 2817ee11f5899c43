//! Writing one group-commit batch to MongoDB, with an outcome for each analysis.
//!
//! Choices, and why:
//! - **Unordered `insert_many`.** An ordered insert stops at the first refused document and
//!   leaves the rest unwritten; unordered, the server tries every document and reports a write
//!   error for each one it refused, so one duplicate or one bad document fails only itself.
//!   Order does not matter: history sorts by `created_at` and `_id`.
//! - **Ids made here, chunks of one command each.** Every `_id` is chosen before the insert, so
//!   each document's fate can be told from the reply. The driver splits a large `insert_many`
//!   into several commands and, on a network error in a later one, reports the whole call as
//!   failed even though earlier commands were stored; sending chunks well below its split size
//!   keeps one call to one command, so nothing stored is reported as failed.
//! - **What a reply means for a document.** No write error and no write-concern error:
//!   acknowledged. Write error 11000 (duplicate key): resolved to the analysis holding the key,
//!   below. Any other write error: that document failed. A write-concern error (the `wtimeout`
//!   passed, or the concern cannot be met): the documents without write errors were applied on
//!   the primary but not confirmed on the members the concern asks for, and could still be
//!   rolled back, so they are not acknowledged: they fail (503). A retry with the same
//!   `Idempotency-Key` then replays the analysis once it is durable, or stores it anew if it
//!   was rolled back; without a key a retry may store it twice, which is the price of never
//!   acknowledging what is not durable. Any other error (network, timeout, no server) leaves
//!   the chunk unknown: its documents fail, and chunks not yet sent fail without being sent.
//! - **Duplicates.** The unique index decides who holds a key. A holder written earlier in this
//!   batch is known here; any other is read back with the replay read concern (majority under
//!   `w: majority`), so a replay only vouches for a durable analysis. A holder not visible yet
//!   (its own write is still waiting for replication) gives 409 `IdempotencyKeyInFlight`, which
//!   the client retries. A holder older than the window has its key released (`$unset`) and the
//!   analysis is inserted again, in at most one more round.

mod chunks;

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::TryStreamExt;
use mongodb::bson::{doc, oid::ObjectId};
use mongodb::error::{ErrorKind, InsertManyError};

use self::chunks::{DUPLICATE_KEY, Written, chunks, per_document};

use super::MongoStore;
use super::document::AnalysisDocument;
use crate::analysis::{Analysis, NewAnalysis};
use crate::store::{Outcome, Recorded, StoreError, Verdict, judge_repeat};

/// The first insert, and one more for analyses whose expired key was released.
const ROUNDS: usize = 2;

/// Why a chunk's insert did not simply succeed.
enum ChunkFailure {
    /// The server answered, with write errors or a write-concern error to read per document.
    PerDocument(InsertManyError),
    /// Nothing is known of the chunk's documents.
    Whole(StoreError),
}

/// The analysis holding an idempotency key.
struct Holder {
    id: ObjectId,
    analysis: Analysis,
}

pub struct Batch<'a> {
    store: &'a MongoStore,
    analyses: Vec<NewAnalysis>,
    documents: Arc<Vec<AnalysisDocument>>,
    outcomes: Vec<Option<Outcome>>,
}

impl<'a> Batch<'a> {
    pub fn new(store: &'a MongoStore, analyses: Vec<NewAnalysis>) -> Self {
        let documents = analyses.iter().map(AnalysisDocument::new).collect();
        let outcomes = analyses.iter().map(|_| None).collect();
        Self {
            store,
            analyses,
            documents: Arc::new(documents),
            outcomes,
        }
    }

    /// Writes the batch and returns one outcome per analysis, in order.
    pub async fn write(mut self) -> Vec<Outcome> {
        self.refuse_keys_without_their_index().await;
        let mut round: Vec<usize> = self.undecided().collect();
        for _ in 0..ROUNDS {
            if round.is_empty() {
                break;
            }
            let written = self.insert(&round).await;
            let mut duplicates = Vec::new();
            for (index, written) in round.into_iter().zip(written) {
                match written {
                    Written::Inserted => self.decide(
                        index,
                        Ok(Recorded::Inserted(self.documents[index].to_analysis())),
                    ),
                    Written::Failed(error) => self.decide(index, Err(error)),
                    Written::Duplicate => duplicates.push(index),
                }
            }
            round = self.resolve_duplicates(duplicates).await;
        }
        // Only analyses whose released key was taken again by someone else are left.
        self.outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or(Err(StoreError::IdempotencyKeyInFlight)))
            .collect()
    }

    fn decide(&mut self, index: usize, outcome: Outcome) {
        self.outcomes[index] = Some(outcome);
    }

    fn undecided(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.outcomes.len()).filter(|&index| self.outcomes[index].is_none())
    }

    fn key(&self, index: usize) -> Option<&str> {
        self.documents[index].idempotency_key.as_deref()
    }

    /// Keys are only written once their unique index exists; analyses without one go on.
    async fn refuse_keys_without_their_index(&mut self) {
        if !(0..self.documents.len()).any(|index| self.key(index).is_some()) {
            return;
        }
        if let Err(error) = self.store.indexes.ensure().await {
            let error = Arc::new(error);
            for index in 0..self.documents.len() {
                if self.key(index).is_some() {
                    self.decide(index, Err(StoreError::BatchFailed(Arc::clone(&error))));
                }
            }
        }
    }

    /// Inserts the given documents chunk by chunk; one `Written` per index, in order.
    async fn insert(&self, round: &[usize]) -> Vec<Written> {
        let mut written = Vec::with_capacity(round.len());
        let mut gave_up: Option<Arc<StoreError>> = None;
        for chunk in chunks(round, &self.documents) {
            let chunk = &round[chunk];
            if let Some(error) = &gave_up {
                written.extend(chunk.iter().map(|_| failed_with(error)));
                continue;
            }
            match self.insert_chunk(chunk).await {
                Ok(()) => written.extend(chunk.iter().map(|_| Written::Inserted)),
                Err(ChunkFailure::PerDocument(failure)) => {
                    written.extend(per_document(&failure, chunk.len()));
                }
                Err(ChunkFailure::Whole(error)) => {
                    let error = Arc::new(error);
                    written.extend(chunk.iter().map(|_| failed_with(&error)));
                    gave_up = Some(error);
                }
            }
        }
        written
    }

    async fn insert_chunk(&self, chunk: &[usize]) -> Result<(), ChunkFailure> {
        let collection = self.store.collection.clone();
        let write_concern = self.store.write_concern.clone();
        let documents = Arc::clone(&self.documents);
        let chunk = chunk.to_vec();
        let inserted = self
            .store
            .operations
            .run(async move {
                collection
                    .insert_many(chunk.iter().map(|&index| &documents[index]))
                    .ordered(false)
                    .write_concern(write_concern)
                    .await
            })
            .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(StoreError::Mongo(error)) => match error.kind.as_ref() {
                ErrorKind::InsertMany(failure) => Err(ChunkFailure::PerDocument(failure.clone())),
                _ => Err(ChunkFailure::Whole(StoreError::Mongo(error))),
            },
            Err(error) => Err(ChunkFailure::Whole(error)),
        }
    }

    /// Decides the analyses the unique index refused; returns those to insert again because
    /// the key they carry was released.
    async fn resolve_duplicates(&mut self, duplicates: Vec<usize>) -> Vec<usize> {
        if duplicates.is_empty() {
            return Vec::new();
        }
        let in_batch = self.holders_in_batch();
        let to_look_up: Vec<usize> = duplicates
            .iter()
            .copied()
            .filter(|&index| {
                self.key(index)
                    .is_none_or(|key| !in_batch.contains_key(key))
            })
            .collect();
        let found = match self.look_up(&to_look_up).await {
            Ok(found) => found,
            Err(error) => {
                let error = Arc::new(error);
                for &index in &to_look_up {
                    self.decide(index, Err(StoreError::BatchFailed(Arc::clone(&error))));
                }
                Vec::new()
            }
        };
        let mut again = Vec::new();
        for index in duplicates {
            if self.outcomes[index].is_some() {
                continue;
            }
            let document = &self.documents[index];
            if found.iter().any(|stored| stored.id == document.id) {
                // Its own `_id` is stored (a write that got through on an earlier attempt).
                let analysis = document.to_analysis();
                self.decide(index, Ok(Recorded::Inserted(analysis)));
                continue;
            }
            let Some(key) = document.idempotency_key.clone() else {
                self.decide(index, Err(duplicate_id_error()));
                continue;
            };
            let holder = in_batch
                .get(key.as_str())
                .map(|&holder| Holder {
                    id: self.documents[holder].id,
                    analysis: self.documents[holder].to_analysis(),
                })
                .or_else(|| {
                    found
                        .iter()
                        .find(|stored| stored.idempotency_key.as_ref() == Some(&key))
                        .map(|stored| Holder {
                            id: stored.id,
                            analysis: stored.to_analysis(),
                        })
                });
            let Some(holder) = holder else {
                self.decide(index, Err(StoreError::IdempotencyKeyInFlight));
                continue;
            };
            let window = self.store.idempotency_window;
            match judge_repeat(&holder.analysis, &self.analyses[index], window) {
                Verdict::Replay => self.decide(index, Ok(Recorded::Replayed(holder.analysis))),
                Verdict::Reused => self.decide(index, Err(StoreError::IdempotencyKeyReused)),
                Verdict::Expired => match self.release(holder.id, key).await {
                    Ok(()) => again.push(index),
                    Err(error) => self.decide(index, Err(error)),
                },
            }
        }
        again
    }

    /// Keys held by analyses this batch inserted, and where they are.
    fn holders_in_batch(&self) -> HashMap<String, usize> {
        (0..self.documents.len())
            .filter(|&index| matches!(self.outcomes[index], Some(Ok(Recorded::Inserted(_)))))
            .filter_map(|index| Some((self.key(index)?.to_owned(), index)))
            .collect()
    }

    /// The stored documents having the `_id` or the key of one of these analyses.
    async fn look_up(&self, indexes: &[usize]) -> Result<Vec<AnalysisDocument>, StoreError> {
        if indexes.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<ObjectId> = indexes.iter().map(|&i| self.documents[i].id).collect();
        let keys: Vec<&str> = indexes.iter().filter_map(|&i| self.key(i)).collect();
        let filter = doc! { "$or": [
            { "_id": { "$in": ids } },
            { "idempotency_key": { "$in": keys } },
        ] };
        let collection = self.store.collection.clone();
        let read_concern = self.store.replay_read_concern.clone();
        let max_time = self.store.operations.timeout();
        self.store
            .operations
            .run(async move {
                let mut find = collection.find(filter).max_time(max_time);
                if let Some(read_concern) = read_concern {
                    find = find.read_concern(read_concern);
                }
                find.await?.try_collect().await
            })
            .await
    }

    /// Frees a key whose first use is older than the window; the old analysis stays in history.
    async fn release(&self, holder: ObjectId, key: String) -> Result<(), StoreError> {
        let collection = self.store.collection.clone();
        let write_concern = self.store.write_concern.clone();
        self.store
            .operations
            .run(async move {
                collection
                    .update_one(
                        doc! { "_id": holder, "idempotency_key": key },
                        doc! { "$unset": { "idempotency_key": "" } },
                    )
                    .write_concern(write_concern)
                    .await
            })
            .await?;
        Ok(())
    }
}

fn failed_with(error: &Arc<StoreError>) -> Written {
    Written::Failed(StoreError::BatchFailed(Arc::clone(error)))
}

/// A duplicate `_id` whose document is not stored: ids are made unique here, so this is a
/// server or driver fault, reported as such.
fn duplicate_id_error() -> StoreError {
    StoreError::MongoWrite {
        code: DUPLICATE_KEY,
        message: "duplicate _id for a document that is not stored".to_owned(),
    }
}
