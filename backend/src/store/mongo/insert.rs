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

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use futures_util::TryStreamExt;
use mongodb::bson::{doc, oid::ObjectId};
use mongodb::error::{ErrorKind, InsertManyError};

use super::MongoStore;
use super::document::AnalysisDocument;
use crate::analysis::{Analysis, NewAnalysis};
use crate::store::{Outcome, Recorded, StoreError, Verdict, judge_repeat};

/// MongoDB's duplicate-key error code.
const DUPLICATE_KEY: i32 = 11000;
/// Chunk size, well below the driver's split at 48 MB per command.
const CHUNK_BYTES: usize = 8 * 1024 * 1024;
/// Field names, numbers and the ObjectId of one document, over-estimated.
const DOCUMENT_OVERHEAD_BYTES: usize = 256;
/// The first insert, and one more for analyses whose expired key was released.
const ROUNDS: usize = 2;

/// What the server did with one document of an insert.
enum Written {
    Inserted,
    Duplicate,
    Failed(StoreError),
}

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

/// Ranges of `round` whose documents add up to at most `CHUNK_BYTES` (a single document larger
/// than that gets a chunk of its own).
fn chunks(round: &[usize], documents: &[AnalysisDocument]) -> Vec<Range<usize>> {
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (position, &index) in round.iter().enumerate() {
        let document = &documents[index];
        let size = DOCUMENT_OVERHEAD_BYTES
            + document.text.len()
            + document.idempotency_key.as_ref().map_or(0, String::len);
        if position > start && bytes + size > CHUNK_BYTES {
            chunks.push(start..position);
            (start, bytes) = (position, 0);
        }
        bytes += size;
    }
    if start < round.len() {
        chunks.push(start..round.len());
    }
    chunks
}

/// The fate of each of the `count` documents of a chunk whose insert reported failures.
fn per_document(failure: &InsertManyError, count: usize) -> Vec<Written> {
    let mut written: Vec<Written> = (0..count)
        .map(|_| match &failure.write_concern_error {
            None => Written::Inserted,
            Some(concern) => Written::Failed(StoreError::MongoWriteConcern {
                code: concern.code,
                message: concern.message.clone(),
            }),
        })
        .collect();
    for error in failure.write_errors.iter().flatten() {
        if let Some(slot) = written.get_mut(error.index) {
            *slot = if error.code == DUPLICATE_KEY {
                Written::Duplicate
            } else {
                Written::Failed(StoreError::MongoWrite {
                    code: error.code,
                    message: error.message.clone(),
                })
            };
        }
    }
    written
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

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use mongodb::bson;
    use mongodb::error::{IndexedWriteError, WriteConcernError};

    use super::*;

    fn document(text_bytes: usize) -> AnalysisDocument {
        AnalysisDocument {
            id: ObjectId::new(),
            text: "x".repeat(text_bytes),
            neg: 0.0,
            neu: 1.0,
            pos: 0.0,
            compound: 0.0,
            created_at: bson::DateTime::from_millis(Utc::now().timestamp_millis()),
            idempotency_key: None,
        }
    }

    #[test]
    fn chunks_stay_under_the_size_and_cover_every_document_once() {
        let documents: Vec<_> = (0..1000).map(|_| document(40_000)).collect();
        let round: Vec<usize> = (0..1000).collect();
        let ranges = chunks(&round, &documents);
        assert!(ranges.len() > 1);
        assert_eq!(ranges.first().unwrap().start, 0);
        assert_eq!(ranges.last().unwrap().end, 1000);
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        for range in &ranges {
            let bytes: usize = range
                .clone()
                .map(|_| 40_000 + DOCUMENT_OVERHEAD_BYTES)
                .sum();
            assert!(bytes <= CHUNK_BYTES, "{range:?}: {bytes}");
        }
        let small: Vec<_> = (0..3).map(|_| document(10)).collect();
        assert_eq!(chunks(&[0, 1, 2], &small), vec![0..3]);
        assert!(chunks(&[], &small).is_empty());
    }

    fn failure(write_errors: &[(usize, i32)], concern: Option<i32>) -> InsertManyError {
        // The driver's types are not constructible outside it; they are deserialisable.
        let errors: Vec<IndexedWriteError> = write_errors
            .iter()
            .map(|&(index, code)| {
                bson::from_document(doc! { "index": index as i64, "code": code, "errmsg": "e" })
                    .unwrap()
            })
            .collect();
        let concern: Option<WriteConcernError> = concern.map(|code| {
            bson::from_document(
                doc! { "code": code, "codeName": "WriteConcernFailed", "errmsg": "wtimeout" },
            )
            .unwrap()
        });
        bson::from_document(doc! {
            "writeErrors": bson::to_bson(&errors).unwrap(),
            "writeConcernError": bson::to_bson(&concern).unwrap(),
        })
        .unwrap()
    }

    fn kinds(written: &[Written]) -> Vec<&'static str> {
        written
            .iter()
            .map(|written| match written {
                Written::Inserted => "inserted",
                Written::Duplicate => "duplicate",
                Written::Failed(StoreError::MongoWrite { .. }) => "refused",
                Written::Failed(StoreError::MongoWriteConcern { .. }) => "unconfirmed",
                Written::Failed(_) => "other",
            })
            .collect()
    }

    #[test]
    fn write_errors_fail_only_their_documents() {
        let written = per_document(&failure(&[(1, DUPLICATE_KEY), (3, 121)], None), 4);
        assert_eq!(
            kinds(&written),
            ["inserted", "duplicate", "inserted", "refused"]
        );
    }

    #[test]
    fn a_write_concern_error_leaves_the_written_documents_unconfirmed() {
        let written = per_document(&failure(&[(0, DUPLICATE_KEY)], Some(64)), 3);
        assert_eq!(kinds(&written), ["duplicate", "unconfirmed", "unconfirmed"]);
    }
}
