//! Writing one group-commit batch into the embedded store, one transaction for the batch and an
//! outcome for each analysis.
//!
//! An analysis with an idempotency key is inserted with `ON CONFLICT DO NOTHING` on the unique
//! key index, so the index, not a prior look-up, decides who was first: a row written earlier
//! in the same transaction (two requests with one key in one batch) or committed by any process
//! sharing the file (writers take turns, so a committed row is always visible here). When the
//! index says the key is taken, the row holding it decides the outcome (`judge_repeat`).
//!
//! A statement that fails alone (SQLite rolls back just that statement) fails only its analysis;
//! an error after which SQLite has rolled the whole transaction back fails the batch.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::row_to_analysis;
use crate::analysis::{Analysis, NewAnalysis};
use crate::store::{Outcome, Recorded, StoreError, Verdict, judge_repeat};

const INSERT: &str = "
INSERT INTO analyses (text, neg, neu, pos, compound, created_at_ms, idempotency_key)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING";

const HOLDER_OF_KEY: &str = "
SELECT id, text, neg, neu, pos, compound, created_at_ms FROM analyses
WHERE idempotency_key = ?1";

const RELEASE_KEY: &str = "UPDATE analyses SET idempotency_key = NULL WHERE id = ?1";

/// Inserts the batch in one transaction. IMMEDIATE takes SQLite's write lock up front, so a wait
/// on a client outside our lock happens under `busy_timeout`, not halfway through the batch.
pub fn insert_all(
    connection: &mut Connection,
    batch: Vec<NewAnalysis>,
    window: Duration,
) -> Result<Vec<Outcome>, StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for analysis in batch {
        match insert_one(&transaction, analysis, window) {
            // SQLite rolled the whole transaction back (disk full, I/O error): nothing holds.
            Err(error) if transaction.is_autocommit() => return Err(error),
            outcome => outcomes.push(outcome),
        }
    }
    transaction.commit()?;
    Ok(outcomes)
}

fn insert_one(transaction: &Transaction<'_>, analysis: NewAnalysis, window: Duration) -> Outcome {
    // A first try, and one more after releasing an expired key.
    for _ in 0..2 {
        if let Some(id) = try_insert(transaction, &analysis)? {
            return Ok(Recorded::Inserted(analysis.stored_as(id.to_string())));
        }
        let Some((holder_id, holder)) = holder_of_key(transaction, &analysis)? else {
            // Unreachable while we hold the write lock; answer as if another writer held it.
            return Err(StoreError::IdempotencyKeyInFlight);
        };
        match judge_repeat(&holder, &analysis, window) {
            Verdict::Replay => return Ok(Recorded::Replayed(holder)),
            Verdict::Reused => return Err(StoreError::IdempotencyKeyReused),
            Verdict::Expired => {
                transaction
                    .prepare_cached(RELEASE_KEY)?
                    .execute(params![holder_id])?;
            }
        }
    }
    Err(StoreError::IdempotencyKeyInFlight)
}

/// The new row's id, or `None` when the index found its key taken.
fn try_insert(
    transaction: &Transaction<'_>,
    analysis: &NewAnalysis,
) -> Result<Option<i64>, StoreError> {
    let scores = analysis.scores;
    let inserted = transaction.prepare_cached(INSERT)?.execute(params![
        analysis.text,
        scores.neg,
        scores.neu,
        scores.pos,
        scores.compound,
        analysis.created_at.timestamp_millis(),
        analysis.idempotency_key.as_ref().map(|key| key.as_str()),
    ])?;
    Ok((inserted == 1).then(|| transaction.last_insert_rowid()))
}

/// The row holding the analysis's key, with its row id.
fn holder_of_key(
    transaction: &Transaction<'_>,
    analysis: &NewAnalysis,
) -> Result<Option<(i64, Analysis)>, StoreError> {
    let Some(key) = &analysis.idempotency_key else {
        return Ok(None);
    };
    Ok(transaction
        .prepare_cached(HOLDER_OF_KEY)?
        .query_row(params![key.as_str()], |row| {
            Ok((row.get(0)?, row_to_analysis(row)?))
        })
        .optional()?)
}
