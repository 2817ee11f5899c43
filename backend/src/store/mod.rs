//! Storage of analyses: one small trait, an embedded SQLite implementation (the default) and a
//! MongoDB one (production), plus the group committer that batches concurrent writes.

mod group_commit;
mod idempotency;
mod mongo;
mod outage_log;
mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use group_commit::GroupCommitter;
use idempotency::{Verdict, judge_repeat};
pub use mongo::MongoStore;
pub use outage_log::{report_recovery, report_unavailable};
pub use sqlite::SqliteStore;

use crate::analysis::{Analysis, NewAnalysis};
use crate::configuration::StoreSettings;

/// One page of history: at most `limit` analyses older than `before`, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryPage<'a> {
    pub limit: usize,
    pub before: Option<&'a str>,
}

/// What became of one analysis of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// Stored now, under a new id.
    Inserted(Analysis),
    /// Its idempotency key came with the same text within the window: the analysis stored the
    /// first time, unchanged.
    Replayed(Analysis),
}

impl Recorded {
    pub fn analysis(&self) -> &Analysis {
        match self {
            Recorded::Inserted(analysis) | Recorded::Replayed(analysis) => analysis,
        }
    }
}

/// The outcome of one analysis of a batch: each succeeds or fails on its own.
pub type Outcome = Result<Recorded, StoreError>;

/// Stores a batch on the calling thread, blocking it until the batch is durable, with the
/// contract of [`Store::insert_batch`].
pub type BlockingWriter =
    Box<dyn FnMut(Vec<NewAnalysis>) -> Result<Vec<Outcome>, StoreError> + Send>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("`{0}` is not an id from this history")]
    InvalidCursor(String),
    #[error("the idempotency key was first used for another text")]
    IdempotencyKeyReused,
    #[error("the first request with this idempotency key is not durably stored yet")]
    IdempotencyKeyInFlight,
    #[error("cannot create the store folder {path}: {source}")]
    CreateFolder {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot use the writers' lock file {path}: {source}")]
    WriterLock {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("SQLite connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("MongoDB: {0}")]
    Mongo(#[from] mongodb::error::Error),
    #[error("MongoDB refused the document (code {code}): {message}")]
    MongoWrite { code: i32, message: String },
    #[error(
        "MongoDB applied the write but could not confirm the write concern (code {code}): {message}"
    )]
    MongoWriteConcern { code: i32, message: String },
    #[error(
        "the MongoDB operation timeout ({operation:?}) must be longer than the wtimeout \
         ({wtimeout:?})"
    )]
    TimeoutsOutOfOrder {
        operation: Duration,
        wtimeout: Duration,
    },
    #[error("{0} MongoDB operations that timed out are still running: not starting more")]
    TooManyStalled(usize),
    #[error("the storage task stopped: {0}")]
    TaskFailed(#[from] tokio::task::JoinError),
    #[error("the write batch failed: {0}")]
    BatchFailed(Arc<StoreError>),
    #[error("the store answered {outcomes} outcomes for a batch of {batch}")]
    OutcomeCountMismatch { batch: usize, outcomes: usize },
    #[error("the store is shutting down")]
    ShuttingDown,
    #[error("the store did not answer within {0:?}")]
    TimedOut(Duration),
}

impl StoreError {
    /// What failed, without the volatile parts of the text: a batch failure is its inner cause,
    /// a MongoDB error its kind (server selection, I/O, command...), anything else its text.
    /// The outage log says each cause once.
    pub fn cause(&self) -> String {
        match self {
            StoreError::BatchFailed(inner) => inner.cause(),
            StoreError::Mongo(error) => {
                format!("MongoDB {:?}", std::mem::discriminant(&*error.kind))
            }
            other => other.to_string(),
        }
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a batch of analyses, with one outcome per analysis in the order given. An
    /// `Inserted` or `Replayed` outcome is durable when this returns; one analysis failing (a
    /// reused idempotency key, a document the store refuses) leaves the others alone. `Err` means
    /// nothing of the batch can be vouched for.
    ///
    /// Analyses carrying an idempotency key are matched against the store's unique index on
    /// keys, including two in the same batch and those written by other processes: a key seen
    /// within the idempotency window gives `Replayed` for the same text and
    /// `IdempotencyKeyReused` for another; an older one is released for the new analysis.
    async fn insert_batch(&self, batch: Vec<NewAnalysis>) -> Result<Vec<Outcome>, StoreError>;

    /// For a store whose writes are blocking work anyway (SQLite), the same writes as a
    /// [`BlockingWriter`], which the group committer runs on a thread of its own. Through
    /// `insert_batch`, every batch went from the committer's task to the blocking pool and back,
    /// two thread hand-overs more; with batches of one or two at 5,000 POST/s, those wake-ups
    /// cost the workers 14 % of their task-clock and 23 % of their context switches
    /// (`perf stat -e context-switches,task-clock` on both, back-to-back runs).
    fn blocking_writer(&self) -> Option<BlockingWriter> {
        None
    }

    /// Reads one page of history, newest first.
    async fn history(&self, page: HistoryPage<'_>) -> Result<Vec<Analysis>, StoreError>;

    /// Checks the store answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Says which store this is, for logs.
    fn describe(&self) -> String;
}

/// Opens the store the settings choose: MongoDB when a URI is given, SQLite otherwise.
pub async fn open(settings: &StoreSettings) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match &settings.mongodb_uri {
        Some(uri) => Arc::new(MongoStore::connect(uri.expose(), settings).await?),
        None => Arc::new(SqliteStore::open(settings).await?),
    })
}
