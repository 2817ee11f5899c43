//! `backend backup` and `backend restore`: a consistent copy of the embedded store, taken while
//! the workers keep writing, and the way back from such a copy into a store.
//!
//! Both go through SQLite's online backup API. A backup copies every page in one step, inside one
//! read transaction, so it is a snapshot of one instant: in WAL mode the writers carry on
//! meanwhile. The copy is a self-contained file (rollback journal, no `-wal`), checked with
//! `PRAGMA integrity_check` and renamed into place only once complete, so a failed backup never
//! leaves something that looks like one. (MongoDB deployments back up with `mongodump`, see
//! `deploy/backup`.)

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::legacy_env::accept_legacy_env;

/// How often, and how long apart, a backup step is retried while another connection holds a
/// lock it needs (a checkpoint, or a writer of a store in rollback-journal mode).
const BUSY_RETRIES: u32 = 200;
const BUSY_PAUSE: Duration = Duration::from_millis(25);

/// The subcommands, as `backend <command> ...` (and `balancer worker <command> ...`).
pub const COMMANDS: [&str; 2] = ["backup", "restore"];

#[derive(Debug, Parser)]
#[command(name = "backend", about = "Backup and restore of the embedded store")]
struct StoreCommand {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Copies the embedded store, while it is in use, into a new file.
    Backup {
        /// The store to copy (the file the workers use).
        #[arg(long, env = "BACKEND_DB_PATH", default_value = "data/sentiment.db")]
        db_path: PathBuf,
        /// The backup file to write; it must not exist yet.
        #[arg(long)]
        to: PathBuf,
    },
    /// Loads a backup into a store; stop the processes using that store first.
    Restore {
        /// The backup file (written by `backend backup`).
        #[arg(long)]
        from: PathBuf,
        /// The store to restore into; created when missing.
        #[arg(long, env = "BACKEND_DB_PATH", default_value = "data/sentiment.db")]
        db_path: PathBuf,
        /// Overwrite a store that already holds analyses (they are lost).
        #[arg(long)]
        replace: bool,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("no store at {0}")]
    NoStore(PathBuf),
    #[error("{0} already exists: choose a new file for the backup")]
    TargetExists(PathBuf),
    #[error("{path} is not a sentiment store: {reason}")]
    NotAStore { path: PathBuf, reason: String },
    #[error(
        "{path} already holds {count} analyses: restore into a fresh store, or pass --replace to overwrite them"
    )]
    NotEmpty { path: PathBuf, count: i64 },
    #[error("{path} holds {restored} after the restore, but the backup holds {expected}")]
    Mismatch {
        path: PathBuf,
        restored: Contents,
        expected: Contents,
    },
    #[error("the store stayed locked through {BUSY_RETRIES} attempts; try again")]
    Busy,
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// What a backup or a restore holds, as printed on success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contents {
    pub analyses: i64,
    pub newest_id: Option<i64>,
}

impl std::fmt::Display for Contents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.newest_id {
            Some(id) => write!(f, "{} analyses (newest id {id})", self.analyses),
            None => write!(f, "{} analyses", self.analyses),
        }
    }
}

/// Parses `backend backup|restore ...` (exiting with usage on bad flags) and runs it; prints one
/// line saying what was copied.
pub fn run(args: Vec<OsString>) -> Result<(), BackupError> {
    let matches = accept_legacy_env(StoreCommand::command()).get_matches_from(args);
    let parsed = StoreCommand::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    let line = match parsed.command {
        Command::Backup { db_path, to } => {
            let contents = backup(&db_path, &to)?;
            format!(
                "backed up {contents} from {} to {}",
                db_path.display(),
                to.display()
            )
        }
        Command::Restore {
            from,
            db_path,
            replace,
        } => {
            let contents = restore(&from, &db_path, replace)?;
            format!(
                "restored {contents} from {} into {}",
                from.display(),
                db_path.display()
            )
        }
    };
    writeln!(io::stdout(), "{line}").map_err(|source| BackupError::Io {
        path: PathBuf::from("<stdout>"),
        source,
    })
}

/// Copies the store at `store` into the new file `target`.
pub fn backup(store: &Path, target: &Path) -> Result<Contents, BackupError> {
    if !store.is_file() {
        return Err(BackupError::NoStore(store.to_owned()));
    }
    if target.exists() {
        return Err(BackupError::TargetExists(target.to_owned()));
    }
    let source = Connection::open_with_flags(store, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let partial = with_suffix(target, ".partial");
    remove_if_present(&partial)?;
    let written = (|| {
        let mut copy = Connection::open(&partial)?;
        copy_all(&source, &mut copy)?;
        // One self-contained file: no -wal beside it when it is moved or opened elsewhere.
        copy.pragma_update(None, "journal_mode", "DELETE")?;
        let contents = check(&copy, store)?;
        copy.close().map_err(|(_, error)| error)?;
        sync_file(&partial)?;
        rename(&partial, target)?;
        Ok(contents)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// Loads the backup `backup_file` into the store at `store`, refusing to overwrite analyses
/// unless `replace`.
pub fn restore(backup_file: &Path, store: &Path, replace: bool) -> Result<Contents, BackupError> {
    if !backup_file.is_file() {
        return Err(BackupError::NoStore(backup_file.to_owned()));
    }
    let source = Connection::open_with_flags(backup_file, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let expected = check(&source, backup_file)?;
    if let Some(parent) = store.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| BackupError::Io {
            path: parent.to_owned(),
            source,
        })?;
    }
    let mut target = Connection::open(store)?;
    if !replace {
        let count = analyses_in(&target)?.unwrap_or(0);
        if count > 0 {
            return Err(BackupError::NotEmpty {
                path: store.to_owned(),
                count,
            });
        }
    }
    // A WAL-mode destination cannot take pages of another page size: copy in rollback mode,
    // then hand the store back in the WAL mode the workers use.
    target.pragma_update(None, "journal_mode", "DELETE")?;
    copy_all(&source, &mut target)?;
    target.pragma_update(None, "journal_mode", "WAL")?;
    let restored = check(&target, store)?;
    if restored != expected {
        return Err(BackupError::Mismatch {
            path: store.to_owned(),
            restored,
            expected,
        });
    }
    Ok(restored)
}

/// Every page in one step: one read transaction, so one consistent instant.
fn copy_all(source: &Connection, target: &mut Connection) -> Result<(), BackupError> {
    let backup = Backup::new(source, target)?;
    for _ in 0..BUSY_RETRIES {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            // More (cannot happen with -1), Busy, Locked, and anything a later SQLite adds to
            // this non-exhaustive enum: wait and retry.
            _ => thread::sleep(BUSY_PAUSE),
        }
    }
    Err(BackupError::Busy)
}

/// Integrity, the analyses table, and what it holds.
fn check(connection: &Connection, path: &Path) -> Result<Contents, BackupError> {
    let not_a_store = |reason: String| BackupError::NotAStore {
        path: path.to_owned(),
        reason,
    };
    let integrity: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(|error| not_a_store(error.to_string()))?;
    if integrity != "ok" {
        return Err(not_a_store(format!("integrity check: {integrity}")));
    }
    let analyses = analyses_in(connection)?
        .ok_or_else(|| not_a_store("it has no `analyses` table".to_owned()))?;
    let newest_id = connection.query_row("SELECT MAX(id) FROM analyses", [], |row| row.get(0))?;
    Ok(Contents {
        analyses,
        newest_id,
    })
}

/// The number of analyses, or `None` when the file has no analyses table (a new, empty file).
fn analyses_in(connection: &Connection) -> Result<Option<i64>, BackupError> {
    let tables: i64 = connection.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'analyses'",
        [],
        |row| row.get(0),
    )?;
    if tables == 0 {
        return Ok(None);
    }
    Ok(Some(connection.query_row(
        "SELECT COUNT(*) FROM analyses",
        [],
        |row| row.get(0),
    )?))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

fn remove_if_present(path: &Path) -> Result<(), BackupError> {
    match std::fs::remove_file(path) {
        Err(source) if source.kind() != io::ErrorKind::NotFound => Err(BackupError::Io {
            path: path.to_owned(),
            source,
        }),
        _ => Ok(()),
    }
}

fn sync_file(path: &Path) -> Result<(), BackupError> {
    File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(|source| BackupError::Io {
            path: path.to_owned(),
            source,
        })
}

/// Renames, then makes the rename durable by syncing the folder.
fn rename(from: &Path, to: &Path) -> Result<(), BackupError> {
    std::fs::rename(from, to).map_err(|source| BackupError::Io {
        path: to.to_owned(),
        source,
    })?;
    let folder = to
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    sync_file(folder)
}
