//! Configuration: every setting is defined once in [`sections`] (key, flag, environment
//! variable, default, doc, validation); sources stack as flags > environment > TOML file >
//! defaults and are validated into typed [`Settings`] whose errors name the offending key.

mod acme_convert;
mod convert;
mod section;
mod sections;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use clap::Parser;
use serde::Deserialize;

use crate::backends::BackendAddress;

pub use sections::{
    AcmeLayer, AcmeSettings, CacheLayer, CacheSettings, HealthLayer, HealthSettings, Layer,
    ProxyLayer, ProxySettings, Settings, WorkerSettings, WorkersLayer,
};

/// The root layer under the name the file format had before flags shared it.
pub type FileConfig = Layer;

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

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
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

    /// Validates one layer, defaults filling what it leaves unset.
    pub fn validate(layer: Layer) -> Result<Self, ConfigError> {
        layer.validate()
    }

    /// Managed workers run only when no static backend is configured.
    pub fn managed_workers(&self) -> bool {
        self.backends.is_empty()
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

/// A static backend in the file: a bare URL (as `--backend` gives it, `#weight=N` allowed) or
/// a table with a weight and a name for `X-Upstream`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum BackendEntry {
    Url(String),
    Table {
        address: String,
        #[serde(default = "one")]
        weight: u64,
        name: Option<String>,
    },
}

impl From<String> for BackendEntry {
    fn from(url: String) -> Self {
        Self::Url(url)
    }
}

fn one() -> u64 {
    1
}

/// A configured upstream.
#[derive(Debug, Clone)]
pub struct StaticBackend {
    pub address: BackendAddress,
    pub weight: u32,
    pub name: Option<String>,
}

/// Default TTL for responses under `prefix` that carry no freshness header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TtlRuleFile {
    pub prefix: String,
    pub ttl_ms: u64,
}

/// After a successful `method` request to a path under `prefix`, purge entries under `purges`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeRuleFile {
    #[serde(default = "default_purge_method")]
    pub method: String,
    pub prefix: String,
    pub purges: Vec<String>,
}

fn default_purge_method() -> String {
    "POST".into()
}

/// A validated invalidation-on-write rule.
#[derive(Debug, Clone)]
pub struct PurgeRule {
    pub method: actix_web::http::Method,
    pub prefix: String,
    pub purges: Vec<String>,
}

/// Whether responses carry `X-Upstream`: `auto` shows it on a loopback listener (the local
/// stack, where it helps) and hides it on a public one, where it would disclose private
/// addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExposeUpstream {
    Auto,
    Always,
    Never,
}

impl ExposeUpstream {
    pub fn resolve(self, listen: std::net::SocketAddr) -> bool {
        match self {
            Self::Auto => listen.ip().is_loopback(),
            Self::Always => true,
            Self::Never => false,
        }
    }
}

impl FromStr for ExposeUpstream {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "auto" => Ok(Self::Auto),
            "always" => Ok(Self::Always),
            "never" => Ok(Self::Never),
            other => Err(format!("`{other}` is not one of auto, always, never")),
        }
    }
}

#[cfg(test)]
mod tests;
