//! Command-line and environment configuration of the backend.
//!
//! Every flag has an environment-variable equivalent so the same binary is configured by flags
//! locally and by an environment file under systemd.

use std::convert::Infallible;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::{Args, Parser, ValueEnum};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "backend",
    version,
    about = "Sentiment analysis service: VADER scores over HTTP, stored in MongoDB or an embedded SQLite store",
    // A supervisor appends its own flags to defaults it was given: the last value wins.
    args_override_self = true
)]
pub struct Settings {
    /// Address to bind.
    #[arg(long, env = "BACKEND_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to bind; 0 picks a free port (printed on stdout).
    #[arg(long, env = "BACKEND_PORT", default_value_t = 8080)]
    pub port: u16,

    /// HTTP threads serving requests [default: number of CPUs]. `--workers` is the old name.
    #[arg(long, visible_alias = "workers", env = "BACKEND_THREADS")]
    pub threads: Option<usize>,

    /// Folder of static files served at `/` (the frontend).
    #[arg(long, env = "BACKEND_STATIC_DIR", default_value = "frontend")]
    pub static_dir: PathBuf,

    /// Seconds browsers and caches may keep static files before revalidating them.
    #[arg(long, env = "BACKEND_STATIC_MAX_AGE", default_value_t = 300)]
    pub static_max_age: u32,

    /// Seconds caches may keep a page of `/history`; kept short so new analyses show quickly.
    #[arg(long, env = "BACKEND_HISTORY_MAX_AGE", default_value_t = 2)]
    pub history_max_age: u32,

    /// Seconds to finish in-flight requests after SIGTERM or Ctrl-C.
    #[arg(long, env = "BACKEND_SHUTDOWN_TIMEOUT", default_value_t = 30)]
    pub shutdown_timeout: u64,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub store: StoreSettings,
}

/// Sizes above which input is refused.
#[derive(Debug, Clone, Copy, Args)]
pub struct Limits {
    /// Longest text accepted by `POST /analyze`, in characters.
    #[arg(long, env = "BACKEND_MAX_TEXT_CHARS", default_value_t = 10_000)]
    pub max_text_chars: usize,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "BACKEND_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Args)]
pub struct StoreSettings {
    /// MongoDB connection string; when set, MongoDB is the store instead of the embedded one.
    /// It usually holds a password, so `--help` never shows its value.
    #[arg(long, env = "BACKEND_MONGODB_URI", hide_env_values = true)]
    pub mongodb_uri: Option<Secret>,

    /// MongoDB database name.
    #[arg(long, env = "BACKEND_MONGODB_DATABASE", default_value = "sentiment")]
    pub mongodb_database: String,

    /// MongoDB collection name.
    #[arg(long, env = "BACKEND_MONGODB_COLLECTION", default_value = "analyses")]
    pub mongodb_collection: String,

    /// MongoDB write concern: `majority` or a number of acknowledging members.
    #[arg(long, env = "BACKEND_MONGODB_WRITE_CONCERN", default_value = "majority", value_parser = parse_write_concern)]
    pub mongodb_write_concern: WriteConcernSetting,

    /// Milliseconds MongoDB may take to replicate a write to the write concern's members before
    /// it reports a write-concern error (`wtimeout`), so a replica set in trouble cannot hold
    /// the writer forever.
    #[arg(long, env = "BACKEND_MONGODB_WTIMEOUT_MS", default_value = "5000", value_parser = parse_millis)]
    pub mongodb_wtimeout_ms: Duration,

    /// Milliseconds any one MongoDB operation may take in all (choosing a server, connecting,
    /// the write concern); must be longer than the `wtimeout`.
    #[arg(long, env = "BACKEND_MONGODB_OPERATION_TIMEOUT_MS", default_value = "10000", value_parser = parse_millis)]
    pub mongodb_operation_timeout_ms: Duration,

    /// Seconds during which a repeated `Idempotency-Key` returns the analysis stored the first
    /// time; after that the key may be used for a new analysis.
    #[arg(long, env = "BACKEND_IDEMPOTENCY_WINDOW", default_value = "86400", value_parser = parse_seconds)]
    pub idempotency_window: Duration,

    /// Embedded store file (SQLite, WAL mode); several processes may share it.
    #[arg(long, env = "BACKEND_DB_PATH", default_value = "data/sentiment.db")]
    pub db_path: PathBuf,

    /// When the embedded store forces a commit to disk (`full`: every commit survives power
    /// loss; `normal`: commits survive a crash of the process, not of the machine).
    #[arg(long, env = "BACKEND_SQLITE_SYNCHRONOUS", value_enum, default_value_t = SqliteSynchronous::Full)]
    pub sqlite_synchronous: SqliteSynchronous,

    /// Most analyses written in one group commit.
    #[arg(long, env = "BACKEND_BATCH_MAX", default_value_t = 1024, value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
    pub batch_max: usize,
}

/// A setting that must never reach a log: its `Debug` form says only that it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Secret(<hidden>)")
    }
}

impl FromStr for Secret {
    type Err = Infallible;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Self(value.to_owned()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqliteSynchronous {
    Full,
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteConcernSetting {
    Majority,
    Nodes(u32),
}

fn parse_write_concern(value: &str) -> Result<WriteConcernSetting, String> {
    if value.eq_ignore_ascii_case("majority") {
        return Ok(WriteConcernSetting::Majority);
    }
    match value.parse::<u32>() {
        Ok(nodes) if nodes > 0 => Ok(WriteConcernSetting::Nodes(nodes)),
        _ => Err(format!(
            "`{value}` is not a write concern: use `majority` or a number of members from 1 up"
        )),
    }
}

fn parse_positive(value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(number) if number > 0 => Ok(number),
        _ => Err(format!("`{value}` is not a whole number from 1 up")),
    }
}

fn parse_millis(value: &str) -> Result<Duration, String> {
    parse_positive(value).map(Duration::from_millis)
}

fn parse_seconds(value: &str) -> Result<Duration, String> {
    parse_positive(value).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_concern_accepts_majority_and_counts() {
        assert_eq!(
            parse_write_concern("Majority"),
            Ok(WriteConcernSetting::Majority)
        );
        assert_eq!(parse_write_concern("2"), Ok(WriteConcernSetting::Nodes(2)));
        assert!(parse_write_concern("0").is_err());
        assert!(parse_write_concern("all").is_err());
    }

    #[test]
    fn defaults_parse() {
        let settings = Settings::try_parse_from(["backend"]).expect("defaults are valid");
        assert_eq!(settings.port, 8080);
        assert_eq!(settings.limits.max_text_chars, 10_000);
        assert_eq!(settings.limits.max_body_bytes, 65_536);
        assert_eq!(settings.store.batch_max, 1024);
        assert_eq!(settings.store.mongodb_wtimeout_ms, Duration::from_secs(5));
        assert_eq!(
            settings.store.mongodb_operation_timeout_ms,
            Duration::from_secs(10)
        );
        assert_eq!(
            settings.store.idempotency_window,
            Duration::from_secs(24 * 60 * 60)
        );
    }

    #[test]
    fn durations_are_positive_whole_numbers() {
        for flag in [
            "--mongodb-wtimeout-ms",
            "--mongodb-operation-timeout-ms",
            "--idempotency-window",
        ] {
            for bad in ["0", "-1", "1.5", "soon"] {
                assert!(
                    Settings::try_parse_from(["backend", flag, bad]).is_err(),
                    "{flag} {bad}"
                );
            }
        }
        let settings = Settings::try_parse_from(["backend", "--idempotency-window", "60"])
            .expect("a positive window");
        assert_eq!(settings.store.idempotency_window, Duration::from_secs(60));
    }

    #[test]
    fn the_mongodb_uri_never_shows_in_debug_output() {
        let settings =
            Settings::try_parse_from(["backend", "--mongodb-uri", "mongodb://app:s3cret@db/"])
                .expect("a URI");
        assert_eq!(
            settings.store.mongodb_uri.as_ref().map(Secret::expose),
            Some("mongodb://app:s3cret@db/")
        );
        assert!(!format!("{settings:?}").contains("s3cret"));
    }

    #[test]
    fn a_repeated_flag_takes_the_last_value() {
        let settings =
            Settings::try_parse_from(["backend", "--db-path", "a.db", "--db-path", "b.db"])
                .expect("repeats are allowed");
        assert_eq!(settings.store.db_path, PathBuf::from("b.db"));
    }

    #[test]
    fn zero_batch_is_refused() {
        assert!(Settings::try_parse_from(["backend", "--batch-max", "0"]).is_err());
    }
}
