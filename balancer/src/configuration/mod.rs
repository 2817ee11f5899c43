//! Configuration: sources stack as flags > environment > TOML file > defaults and are
//! validated into typed [`Settings`] whose errors name the offending key. Every setting is
//! defined once (key, flag, environment variable, default, doc, validation) by the
//! [`section!`] macro, in the room that uses it: `[workers]` in `workers`, `[health]` in
//! `health`, `[proxy]` in `proxy`, `[cache]` in `cache`, `[tls]` in `tls`, `[acme]` in
//! `acme`. This module holds the root section, the loading and the shared conversions.

pub(crate) mod convert;
mod section;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;

pub use crate::acme::{AcmeLayer, AcmeSettings};
use crate::backends::{BackendEntry, StaticBackend, static_backends};
pub use crate::cache::{CacheLayer, CacheSettings};
pub use crate::health::{HealthLayer, HealthSettings};
pub use crate::proxy::{ProxyLayer, ProxySettings};
use crate::selection::{Algorithm, HashKey};
pub use crate::tls::{TlsLayer, TlsSettings};
use crate::workers::cpu_share;
pub use crate::workers::{WorkerSettings, WorkersLayer};
use convert::{address, keep, non_blank, parsed};
pub(crate) use convert::{prefix as checked_prefix, prefixes as checked_prefixes};
pub(crate) use section::section;

section! {
    /// The whole configuration as one source (file, flags or environment) sets it.
    Layer => Settings, "" {
        /// Public listener address (port 0 = any free port).
        #[arg(long, env = "BALANCER_LISTEN")]
        listen: String = "127.0.0.1:8080".into() => listen: SocketAddr = address,
        /// Admin listener address (loopback by default).
        #[arg(long, env = "BALANCER_ADMIN_LISTEN")]
        admin_listen: String = "127.0.0.1:8081".into() => admin_listen: SocketAddr = address,
        /// Bearer token for the admin API; generated and printed when absent.
        #[arg(long, env = "BALANCER_ADMIN_TOKEN", hide_env_values = true, num_args = 1)]
        admin_token: Option<String> = None => admin_token: Option<String> = non_blank,
        /// Proxy worker threads (0 = one per CPU, or half the CPUs beside managed workers).
        #[arg(long, env = "BALANCER_THREADS")]
        threads: usize = 0 => threads: usize = keep,
        /// round-robin | least-connections | weighted | consistent-hash
        #[arg(long, env = "BALANCER_ALGORITHM")]
        algorithm: String = "round-robin".into() => algorithm: Algorithm = parsed,
        /// Consistent-hash key: `client-ip` or `header:NAME`.
        #[arg(long, env = "BALANCER_HASH_KEY")]
        hash_key: String = "client-ip".into() => hash_key: HashKey = parsed,
        /// Static upstream `http://host:port`, optionally `#weight=N` (repeatable; disables managed workers).
        #[arg(long = "backend", env = "BALANCER_BACKENDS", value_delimiter = ',')]
        backends: Vec<BackendEntry> = Vec::new() => backends: Vec<StaticBackend> = static_backends,
    }
    sections {
        workers: WorkersLayer => WorkerSettings,
        health: HealthLayer => HealthSettings,
        proxy: ProxyLayer => ProxySettings,
        cache: CacheLayer => CacheSettings,
        tls: TlsLayer => TlsSettings,
        acme: AcmeLayer => AcmeSettings,
    }
    check crate::acme::check_certificate_source
}

/// Why the configuration was refused at start-up.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
}

pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The command line: `--config` and the settings that have a flag (each also read from its
/// environment variable, except `--worker-arg`).
#[derive(Debug, Default, Parser)]
#[command(
    name = "balancer",
    version,
    args_override_self = true,
    about = "Caching reverse proxy and worker supervisor for the sentiment service",
    after_help = "Run `balancer worker [backend flags]` to run one backend worker in this process."
)]
pub struct Flags {
    /// TOML configuration file.
    #[arg(long, env = "BALANCER_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub settings: Layer,
}

impl Settings {
    /// Stacks the flags and environment over the file named by `--config` (if any) over the
    /// defaults, and validates.
    pub fn load(flags: Flags) -> Result<Self, ConfigError> {
        let file = match &flags.config {
            Some(path) => read_file(path)?,
            None => Layer::default(),
        };
        let mut overrides = flags.settings;
        // `--worker-arg` adds to the file's `extra_args` rather than replacing them.
        if let Some(file_args) = file.workers.extra_args.clone() {
            let flag_args = overrides.workers.extra_args.take().unwrap_or_default();
            overrides.workers.extra_args = Some([file_args, flag_args].concat());
        }
        overrides.layered_on(file).validate()
    }

    /// Managed workers run only when no static backend is configured.
    pub fn managed_workers(&self) -> bool {
        self.backends.is_empty()
    }

    /// The proxy threads to run: `threads`, or when 0 a thread per CPU, or beside managed
    /// workers the balancer's share of the CPUs.
    pub fn proxy_threads(&self) -> usize {
        match self.threads {
            0 if self.managed_workers() => cpu_share::balancer_threads(cpu_share::available_cpus()),
            0 => cpu_share::available_cpus(),
            chosen => chosen,
        }
    }
}

fn read_file(path: &Path) -> Result<Layer, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests;
