//! Storage of analyses: one small trait, an embedded SQLite implementation (the default) and a
//! MongoDB one (production), plus the group committer that batches concurrent writes.

mod group_commit;
mod mongo;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

pub use group_commit::GroupCommitter;
pub use mongo::MongoStore;
pub use sqlite::SqliteStore;

use crate::analysis::{Analysis, NewAnalysis};
use crate::configuration::StoreSettings;

/// One page of history: at most `limit` analyses older than `before`, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryPage<'a> {
    pub limit: usize,
    pub before: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("`{0}` is not an id from this history")]
    InvalidCursor(String),
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
    #[error("the storage task stopped: {0}")]
    TaskFailed(#[from] tokio::task::JoinError),
    #[error("the write batch failed: {0}")]
    BatchFailed(Arc<StoreError>),
    #[error("the store is shutting down")]
    ShuttingDown,
    #[error("the store did not answer within {0:?}")]
    TimedOut(std::time::Duration),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores every analysis durably in one transaction, returning them with their ids in the
    /// same order, or fails them all.
    async fn insert_batch(&self, batch: Vec<NewAnalysis>) -> Result<Vec<Analysis>, StoreError>;

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
        Some(uri) => Arc::new(MongoStore::connect(uri, settings).await?),
        None => Arc::new(SqliteStore::open(settings).await?),
    })
}
