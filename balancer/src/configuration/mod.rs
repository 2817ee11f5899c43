//! Configuration: every setting is defined once in [`sections`] (key, flag, environment
//! variable, default, doc, validation); sources stack as flags > environment > TOML file >
//! defaults and are validated into typed [`Settings`] whose errors name the offending key.
//! Types that belong to one room are parsed there: static backends in `backends`, the
//! cache's TTL and purge rules in `cache`, `expose_upstream` in `proxy`.

mod acme_convert;
mod convert;
mod section;
mod sections;

use std::path::{Path, PathBuf};

use clap::Parser;

pub(crate) use convert::{prefix as checked_prefix, prefixes as checked_prefixes};
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

#[cfg(test)]
mod tests;
