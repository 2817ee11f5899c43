//! Cutting a round of documents into chunks of one `insert_many` command each, and reading
//! an insert's reply as the fate of each document (the parent module says why).

use std::ops::Range;

use mongodb::error::InsertManyError;

use crate::store::StoreError;
use crate::store::mongo::document::AnalysisDocument;

/// MongoDB's duplicate-key error code.
pub(super) const DUPLICATE_KEY: i32 = 11000;
/// Chunk size, well below the driver's split at 48 MB per command.
const CHUNK_BYTES: usize = 8 * 1024 * 1024;
/// Field names, numbers and the ObjectId of one document, over-estimated.
const DOCUMENT_OVERHEAD_BYTES: usize = 256;

/// What the server did with one document of an insert.
pub(super) enum Written {
    Inserted,
    Duplicate,
    Failed(StoreError),
}

/// Ranges of `round` whose documents add up to at most `CHUNK_BYTES` (a single document larger
/// than that gets a chunk of its own).
pub(super) fn chunks(round: &[usize], documents: &[AnalysisDocument]) -> Vec<Range<usize>> {
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
pub(super) fn per_document(failure: &InsertManyError, count: usize) -> Vec<Written> {
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

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use mongodb::bson::{self, doc, oid::ObjectId};
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
