//! The embedded store: SQLite in WAL mode, shared safely by several worker processes.
//!
//! One writer connection per process takes the batches of the group committer; readers come from
//! a pool so history pages never wait behind a commit. WAL lets readers and the writer of every
//! process work at once, and writers of different processes take turns through an
//! advisory lock on a sidecar file. Idempotency keys live in a column under a unique index
//! (`schema`), which settles repeated keys within a batch and across processes (`insert`).

mod insert;
mod schema;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::DateTime;
use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags, params};
use vader::Scores;

use super::{BlockingWriter, HistoryPage, Outcome, Store, StoreError};
use crate::analysis::{Analysis, NewAnalysis};
use crate::configuration::{SqliteSynchronous, StoreSettings};

/// How long a connection waits on a lock held by a client outside this program (our own writers
/// queue on the write-lock file first, see `SqliteStore::insert_batch`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const READER_POOL_SIZE: u32 = 8;

pub struct SqliteStore {
    path: PathBuf,
    idempotency_window: Duration,
    writer: Arc<Mutex<Writer>>,
    readers: Pool<SqliteConnectionManager>,
}

impl SqliteStore {
    pub async fn open(settings: &StoreSettings) -> Result<Self, StoreError> {
        let path = settings.db_path.clone();
        let synchronous = settings.sqlite_synchronous;
        let writer = tokio::task::spawn_blocking({
            let path = path.clone();
            move || Writer::open(&path, synchronous)
        })
        .await??;
        let manager = SqliteConnectionManager::file(&path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(|connection| connection.busy_timeout(BUSY_TIMEOUT));
        let readers = Pool::builder()
            .max_size(READER_POOL_SIZE)
            .min_idle(Some(0))
            .build(manager)?;
        Ok(Self {
            path,
            idempotency_window: settings.idempotency_window,
            writer: Arc::new(Mutex::new(writer)),
            readers,
        })
    }

    /// Writes a batch on the calling thread: this process's writer connection, in turn with
    /// the writers of other processes.
    fn batch_writer(&self) -> BlockingWriter {
        let writer = Arc::clone(&self.writer);
        let window = self.idempotency_window;
        let lock_path = writer_lock_path(&self.path);
        Box::new(move |batch| {
            let mut writer = writer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let Writer { connection, turn } = &mut *writer;
            let lock_error = |source| StoreError::WriterLock {
                path: lock_path.clone(),
                source,
            };
            // The kernel releases the lock if this process dies while holding it.
            turn.lock().map_err(lock_error)?;
            let inserted = insert::insert_all(connection, batch, window);
            turn.unlock().map_err(lock_error)?;
            inserted
        })
    }

    /// Runs blocking SQLite work off the async threads.
    async fn blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    {
        tokio::task::spawn_blocking(work).await?
    }
}

/// The write connection of this process, and the lock file through which the writers of all
/// processes sharing the store take turns.
///
/// SQLite's own busy handling polls: it sleeps in steps that grow to 100 ms while another process
/// holds the write lock for one commit (about a millisecond), so with several workers on one
/// file, writes waited far longer than the lock was held. An exclusive `flock` queues the waiters
/// in the kernel instead, which wakes the next one as soon as the holder is done.
struct Writer {
    connection: Connection,
    turn: File,
}

impl Writer {
    fn open(path: &Path, synchronous: SqliteSynchronous) -> Result<Self, StoreError> {
        let connection = open_writer(path, synchronous)?;
        let lock_path = writer_lock_path(path);
        let turn = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| StoreError::WriterLock {
                path: lock_path,
                source,
            })?;
        Ok(Self { connection, turn })
    }
}

fn writer_lock_path(store: &Path) -> PathBuf {
    let mut path = store.as_os_str().to_owned();
    path.push("-writer.lock");
    path.into()
}

fn open_writer(path: &Path, synchronous: SqliteSynchronous) -> Result<Connection, StoreError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        // A missing folder would otherwise surface as SQLite's vaguer "unable to open".
        std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateFolder {
            path: parent.to_owned(),
            source,
        })?;
    }
    let mut connection = Connection::open(path)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    let synchronous = match synchronous {
        SqliteSynchronous::Full => "FULL",
        SqliteSynchronous::Normal => "NORMAL",
    };
    connection.pragma_update(None, "synchronous", synchronous)?;
    schema::migrate(&mut connection)?;
    Ok(connection)
}

fn parse_cursor(before: &str) -> Result<i64, StoreError> {
    match before.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(StoreError::InvalidCursor(before.to_owned())),
    }
}

fn row_to_analysis(row: &rusqlite::Row<'_>) -> rusqlite::Result<Analysis> {
    let created_at_ms: i64 = row.get(6)?;
    Ok(Analysis {
        id: row.get::<_, i64>(0)?.to_string(),
        text: row.get(1)?,
        scores: Scores {
            neg: row.get(2)?,
            neu: row.get(3)?,
            pos: row.get(4)?,
            compound: row.get(5)?,
        },
        created_at: DateTime::from_timestamp_millis(created_at_ms).unwrap_or_default(),
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_batch(&self, batch: Vec<NewAnalysis>) -> Result<Vec<Outcome>, StoreError> {
        let mut write = self.batch_writer();
        self.blocking(move || write(batch)).await
    }

    fn blocking_writer(&self) -> Option<BlockingWriter> {
        Some(self.batch_writer())
    }

    async fn history(&self, page: HistoryPage<'_>) -> Result<Vec<Analysis>, StoreError> {
        let before = page
            .before
            .map(parse_cursor)
            .transpose()?
            .unwrap_or(i64::MAX);
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        let readers = self.readers.clone();
        self.blocking(move || {
            let connection = readers.get()?;
            let mut select = connection.prepare_cached(
                "SELECT id, text, neg, neu, pos, compound, created_at_ms FROM analyses
                 WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = select.query_map(params![before, limit], row_to_analysis)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let readers = self.readers.clone();
        self.blocking(move || {
            let connection = readers.get()?;
            connection.query_row("SELECT count(*) FROM analyses WHERE id < 0", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    fn describe(&self) -> String {
        format!("embedded SQLite store at {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_positive_integers() {
        assert_eq!(parse_cursor("42").unwrap(), 42);
        for bad in ["0", "-3", "abc", "", "1.5", "99999999999999999999"] {
            assert!(
                matches!(parse_cursor(bad), Err(StoreError::InvalidCursor(_))),
                "{bad}"
            );
        }
    }
}
