//! Configuration: the TOML file format, the command-line flags (each with an environment
//! variable) that override it, and validation into typed [`Settings`] whose errors name the
//! offending field.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

use crate::backends::BackendAddress;
use crate::limits;
use crate::proxy::{PrivatePaths, TrustedProxies};
use crate::selection::{Algorithm, HashKey};

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

/// Command-line flags; every flag except `--worker-arg` also reads an environment variable.
/// Flags win over the environment, which wins over the config file.
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
    /// Public listener address (port 0 = any free port).
    #[arg(long, env = "BALANCER_LISTEN")]
    pub listen: Option<String>,
    /// Admin listener address (loopback by default).
    #[arg(long, env = "BALANCER_ADMIN_LISTEN")]
    pub admin_listen: Option<String>,
    /// Bearer token for the admin API; generated and printed when absent.
    #[arg(long, env = "BALANCER_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Proxy worker threads (0 = one per CPU).
    #[arg(long, env = "BALANCER_THREADS")]
    pub threads: Option<usize>,
    /// Number of managed backend worker processes (ignored with static backends).
    #[arg(long, env = "BALANCER_WORKERS")]
    pub workers: Option<usize>,
    /// Program run for each managed worker (default: this executable with `worker`).
    #[arg(long, env = "BALANCER_WORKER_COMMAND")]
    pub worker_command: Option<String>,
    /// Extra argument appended to the worker command (repeatable).
    #[arg(long = "worker-arg", allow_hyphen_values = true)]
    pub worker_args: Vec<String>,
    /// Static upstream `http://host:port`, optionally `#weight=N` (repeatable; disables managed workers).
    #[arg(long = "backend", env = "BALANCER_BACKENDS", value_delimiter = ',')]
    pub backends: Vec<String>,
    /// round-robin | least-connections | weighted | consistent-hash
    #[arg(long, env = "BALANCER_ALGORITHM")]
    pub algorithm: Option<String>,
    /// Consistent-hash key: `client-ip` or `header:NAME`.
    #[arg(long, env = "BALANCER_HASH_KEY")]
    pub hash_key: Option<String>,
    /// Active health check interval in milliseconds.
    #[arg(long, env = "BALANCER_HEALTH_INTERVAL_MS")]
    pub health_interval_ms: Option<u64>,
    /// Cache size bound in bytes (0 disables the cache).
    #[arg(long, env = "BALANCER_CACHE_MAX_BYTES")]
    pub cache_max_bytes: Option<u64>,
}

/// The file format. Every key is optional; unknown keys are refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    pub listen: String,
    pub admin_listen: String,
    pub admin_token: Option<String>,
    pub threads: usize,
    pub algorithm: String,
    pub hash_key: String,
    pub backends: Vec<BackendEntry>,
    pub workers: WorkersFile,
    pub health: HealthFile,
    pub proxy: ProxyFile,
    pub cache: CacheFile,
}

/// A static backend: a bare URL or a table with a weight and a name for `X-Upstream`.
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

fn one() -> u64 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkersFile {
    pub count: usize,
    pub command: Option<String>,
    pub args: Vec<String>,
    pub extra_args: Vec<String>,
    pub startup_timeout_ms: u64,
    pub restart_backoff_min_ms: u64,
    pub restart_backoff_max_ms: u64,
    pub stop_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthFile {
    pub path: String,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub fall: u32,
    pub rise: u32,
    pub passive_failures: u32,
    pub passive_5xx: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyFile {
    pub connect_timeout_ms: u64,
    pub upstream_timeout_ms: u64,
    pub client_request_timeout_ms: u64,
    pub keep_alive_s: u64,
    pub max_body_bytes: u64,
    pub retry_buffer_bytes: u64,
    pub upstream_connection_limit: usize,
    pub upstream_idle_timeout_ms: u64,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub trusted_proxies: Vec<String>,
    pub private_paths: Vec<String>,
    pub expose_upstream: String,
    pub shutdown_timeout_s: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheFile {
    pub max_bytes: u64,
    pub max_entry_bytes: u64,
    pub default_ttl_ms: u64,
    pub stale_ms: u64,
    pub lock_timeout_ms: u64,
    pub rules: Vec<TtlRuleFile>,
    pub purge: Vec<PurgeRuleFile>,
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

impl Default for FileConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            admin_listen: "127.0.0.1:8081".into(),
            admin_token: None,
            threads: 0,
            algorithm: "round-robin".into(),
            hash_key: "client-ip".into(),
            backends: Vec::new(),
            workers: WorkersFile::default(),
            health: HealthFile::default(),
            proxy: ProxyFile::default(),
            cache: CacheFile::default(),
        }
    }
}

impl Default for WorkersFile {
    fn default() -> Self {
        Self {
            count: 2,
            command: None,
            args: [
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--db-path",
                "data/sentiment.db",
                "--static-dir",
                "frontend",
            ]
            .map(String::from)
            .to_vec(),
            extra_args: Vec::new(),
            startup_timeout_ms: 60_000,
            restart_backoff_min_ms: 200,
            restart_backoff_max_ms: 10_000,
            stop_timeout_ms: 10_000,
        }
    }
}

impl Default for HealthFile {
    fn default() -> Self {
        Self {
            path: "/readyz".into(),
            interval_ms: 1000,
            timeout_ms: 1000,
            fall: 2,
            rise: 2,
            passive_failures: 3,
            passive_5xx: false,
        }
    }
}

impl Default for ProxyFile {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 2000,
            upstream_timeout_ms: 30_000,
            client_request_timeout_ms: 5000,
            keep_alive_s: 65,
            max_body_bytes: 1 << 20,
            retry_buffer_bytes: 64 << 10,
            upstream_connection_limit: 4096,
            // Under actix-web's 5 s keep-alive, so we rarely reuse a connection it is closing.
            upstream_idle_timeout_ms: 4000,
            max_connections: 20_000,
            max_connections_per_ip: 256,
            trusted_proxies: Vec::new(),
            private_paths: vec!["/readyz".into()],
            expose_upstream: "auto".into(),
            shutdown_timeout_s: 5,
        }
    }
}

impl Default for CacheFile {
    fn default() -> Self {
        Self {
            max_bytes: 64 << 20,
            max_entry_bytes: 1 << 20,
            default_ttl_ms: 0,
            stale_ms: 30_000,
            lock_timeout_ms: 5000,
            rules: vec![TtlRuleFile {
                prefix: "/history".into(),
                ttl_ms: 2000,
            }],
            purge: vec![PurgeRuleFile {
                method: "POST".into(),
                prefix: "/analyze".into(),
                purges: vec!["/history".into()],
            }],
        }
    }
}

/// Validated, typed configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    /// `None` means: generate one at start-up and print it.
    pub admin_token: Option<String>,
    pub threads: usize,
    pub algorithm: Algorithm,
    pub hash_key: HashKey,
    pub backends: Vec<StaticBackend>,
    pub workers: WorkerSettings,
    pub health: HealthSettings,
    pub proxy: ProxySettings,
    pub cache: CacheSettings,
}

/// A configured upstream.
#[derive(Debug, Clone)]
pub struct StaticBackend {
    pub address: BackendAddress,
    pub weight: u32,
    pub name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub count: usize,
    /// Program and its leading arguments; `None` = this executable with `worker`.
    pub command: Option<String>,
    pub args: Vec<String>,
    pub startup_timeout: Duration,
    pub restart_backoff_min: Duration,
    pub restart_backoff_max: Duration,
    pub stop_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct HealthSettings {
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub fall: u32,
    pub rise: u32,
    pub passive_failures: u32,
    pub passive_5xx: bool,
}

#[derive(Debug, Clone)]
pub struct ProxySettings {
    pub connect_timeout: Duration,
    pub upstream_timeout: Duration,
    pub client_request_timeout: Duration,
    pub keep_alive: Duration,
    pub max_body_bytes: u64,
    pub retry_buffer_bytes: u64,
    pub upstream_connection_limit: usize,
    pub upstream_idle_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub trusted_proxies: TrustedProxies,
    pub private_paths: PrivatePaths,
    pub expose_upstream: ExposeUpstream,
    pub shutdown_timeout: Duration,
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
    pub fn resolve(self, listen: SocketAddr) -> bool {
        match self {
            Self::Auto => listen.ip().is_loopback(),
            Self::Always => true,
            Self::Never => false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CacheSettings {
    pub max_bytes: u64,
    pub max_entry_bytes: u64,
    pub default_ttl: Duration,
    pub stale: Duration,
    pub lock_timeout: Duration,
    pub rules: Vec<(String, Duration)>,
    pub purge: Vec<PurgeRule>,
}

/// A validated invalidation-on-write rule.
#[derive(Debug, Clone)]
pub struct PurgeRule {
    pub method: actix_web::http::Method,
    pub prefix: String,
    pub purges: Vec<String>,
}

impl Settings {
    /// Reads the file named by `--config` (if any), applies flag/env overrides and validates.
    pub fn load(flags: Flags) -> Result<Self, ConfigError> {
        let mut file = match &flags.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        apply_flags(&mut file, flags);
        Self::validate(file)
    }

    /// Validates a file configuration (after overrides); errors name the field.
    pub fn validate(file: FileConfig) -> Result<Self, ConfigError> {
        let backends = file
            .backends
            .iter()
            .enumerate()
            .map(|(i, entry)| validate_backend(i, entry))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            listen: parse_addr("listen", &file.listen)?,
            admin_listen: parse_addr("admin_listen", &file.admin_listen)?,
            admin_token: match file.admin_token {
                Some(token) if token.trim().is_empty() => {
                    return Err(invalid("admin_token", "must not be empty"));
                }
                other => other,
            },
            threads: match file.threads {
                0 => std::thread::available_parallelism().map_or(1, usize::from),
                n => n,
            },
            algorithm: file
                .algorithm
                .parse()
                .map_err(|reason: String| invalid("algorithm", reason))?,
            hash_key: file
                .hash_key
                .parse()
                .map_err(|reason: String| invalid("hash_key", reason))?,
            backends,
            workers: validate_workers(file.workers)?,
            health: validate_health(file.health)?,
            proxy: validate_proxy(file.proxy)?,
            cache: validate_cache(file.cache)?,
        })
    }

    /// Managed workers run only when no static backend is configured.
    pub fn managed_workers(&self) -> bool {
        self.backends.is_empty()
    }
}

fn read_file(path: &PathBuf) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.clone(),
        source: Box::new(source),
    })
}

fn apply_flags(file: &mut FileConfig, flags: Flags) {
    let Flags {
        config: _,
        listen,
        admin_listen,
        admin_token,
        threads,
        workers,
        worker_command,
        worker_args,
        backends,
        algorithm,
        hash_key,
        health_interval_ms,
        cache_max_bytes,
    } = flags;
    set(&mut file.listen, listen);
    set(&mut file.admin_listen, admin_listen);
    if admin_token.is_some() {
        file.admin_token = admin_token;
    }
    set(&mut file.threads, threads);
    set(&mut file.workers.count, workers);
    if worker_command.is_some() {
        file.workers.command = worker_command;
    }
    file.workers.extra_args.extend(worker_args);
    if !backends.is_empty() {
        file.backends = backends.into_iter().map(BackendEntry::Url).collect();
    }
    set(&mut file.algorithm, algorithm);
    set(&mut file.hash_key, hash_key);
    set(&mut file.health.interval_ms, health_interval_ms);
    set(&mut file.cache.max_bytes, cache_max_bytes);
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

fn parse_addr(field: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse()
        .map_err(|_| invalid(field, format!("`{text}` is not an IP:PORT socket address")))
}

fn validate_backend(index: usize, entry: &BackendEntry) -> Result<StaticBackend, ConfigError> {
    let field = format!("backends[{index}]");
    let (url, weight, name) = match entry {
        BackendEntry::Url(text) => match text.split_once("#weight=") {
            Some((url, weight)) => {
                let weight = weight
                    .parse()
                    .map_err(|_| invalid(&field, format!("weight `{weight}` is not a number")))?;
                (url, weight, None)
            }
            None => (text.as_str(), 1, None),
        },
        BackendEntry::Table {
            address,
            weight,
            name,
        } => (address.as_str(), *weight, name.clone()),
    };
    let weight = limits::check_weight(weight)
        .map_err(|e| invalid(format!("{field}.weight"), e.to_string()))?;
    if let Some(name) = &name {
        limits::check_name(name).map_err(|e| invalid(format!("{field}.name"), e.to_string()))?;
    }
    let address = BackendAddress::parse(url).map_err(|e| invalid(&field, e.to_string()))?;
    Ok(StaticBackend {
        address,
        weight,
        name,
    })
}

fn positive_ms(field: &str, ms: u64) -> Result<Duration, ConfigError> {
    if ms == 0 {
        return Err(invalid(field, "must be > 0"));
    }
    Ok(Duration::from_millis(ms))
}

fn validate_workers(w: WorkersFile) -> Result<WorkerSettings, ConfigError> {
    limits::check_workers(w.count).map_err(|e| invalid("workers.count", e.to_string()))?;
    if w.command.as_deref().is_some_and(|c| c.trim().is_empty()) {
        return Err(invalid("workers.command", "must not be empty"));
    }
    if w.restart_backoff_max_ms < w.restart_backoff_min_ms {
        return Err(invalid(
            "workers.restart_backoff_max_ms",
            "must be >= workers.restart_backoff_min_ms",
        ));
    }
    let mut args = without_overridden(w.args, &w.extra_args);
    args.extend(w.extra_args);
    Ok(WorkerSettings {
        count: w.count,
        command: w.command,
        args,
        startup_timeout: positive_ms("workers.startup_timeout_ms", w.startup_timeout_ms)?,
        restart_backoff_min: positive_ms(
            "workers.restart_backoff_min_ms",
            w.restart_backoff_min_ms,
        )?,
        restart_backoff_max: positive_ms(
            "workers.restart_backoff_max_ms",
            w.restart_backoff_max_ms,
        )?,
        stop_timeout: positive_ms("workers.stop_timeout_ms", w.stop_timeout_ms)?,
    })
}

/// `base` minus each `--flag [value]` that `extra` sets again: the worker's flag parser refuses
/// repeated flags, and an explicit `--worker-arg` should win over the default.
fn without_overridden(base: Vec<String>, extra: &[String]) -> Vec<String> {
    let flag_name = |arg: &str| arg.split('=').next().unwrap_or(arg).to_owned();
    let overridden: Vec<String> = extra
        .iter()
        .filter(|arg| arg.starts_with("--"))
        .map(|arg| flag_name(arg))
        .collect();
    let mut kept = Vec::with_capacity(base.len());
    let mut args = base.into_iter().peekable();
    while let Some(arg) = args.next() {
        if arg.starts_with("--") && overridden.contains(&flag_name(&arg)) {
            if !arg.contains('=') && args.peek().is_some_and(|next| !next.starts_with("--")) {
                args.next();
            }
            continue;
        }
        kept.push(arg);
    }
    kept
}

fn validate_health(h: HealthFile) -> Result<HealthSettings, ConfigError> {
    if !h.path.starts_with('/') {
        return Err(invalid("health.path", "must start with `/`"));
    }
    for (field, value) in [
        ("health.fall", h.fall),
        ("health.rise", h.rise),
        ("health.passive_failures", h.passive_failures),
    ] {
        if value == 0 {
            return Err(invalid(field, "must be > 0"));
        }
    }
    Ok(HealthSettings {
        path: h.path,
        interval: positive_ms("health.interval_ms", h.interval_ms)?,
        timeout: positive_ms("health.timeout_ms", h.timeout_ms)?,
        fall: h.fall,
        rise: h.rise,
        passive_failures: h.passive_failures,
        passive_5xx: h.passive_5xx,
    })
}

fn validate_proxy(p: ProxyFile) -> Result<ProxySettings, ConfigError> {
    if p.retry_buffer_bytes > p.max_body_bytes {
        return Err(invalid(
            "proxy.retry_buffer_bytes",
            "must be <= proxy.max_body_bytes",
        ));
    }
    if p.keep_alive_s == 0 {
        return Err(invalid("proxy.keep_alive_s", "must be > 0"));
    }
    if p.max_connections == 0 {
        return Err(invalid("proxy.max_connections", "must be > 0"));
    }
    if p.max_connections_per_ip == 0 || p.max_connections_per_ip > p.max_connections {
        return Err(invalid(
            "proxy.max_connections_per_ip",
            "must be from 1 to proxy.max_connections",
        ));
    }
    let trusted_proxies = p
        .trusted_proxies
        .iter()
        .enumerate()
        .map(|(i, text)| {
            parse_network(text)
                .map_err(|reason| invalid(format!("proxy.trusted_proxies[{i}]"), reason))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (i, path) in p.private_paths.iter().enumerate() {
        check_prefix(&format!("proxy.private_paths[{i}]"), path)?;
    }
    let expose_upstream = match p.expose_upstream.as_str() {
        "auto" => ExposeUpstream::Auto,
        "always" => ExposeUpstream::Always,
        "never" => ExposeUpstream::Never,
        other => {
            return Err(invalid(
                "proxy.expose_upstream",
                format!("`{other}` is not one of auto, always, never"),
            ));
        }
    };
    Ok(ProxySettings {
        connect_timeout: positive_ms("proxy.connect_timeout_ms", p.connect_timeout_ms)?,
        upstream_timeout: positive_ms("proxy.upstream_timeout_ms", p.upstream_timeout_ms)?,
        client_request_timeout: positive_ms(
            "proxy.client_request_timeout_ms",
            p.client_request_timeout_ms,
        )?,
        keep_alive: Duration::from_secs(p.keep_alive_s),
        max_body_bytes: p.max_body_bytes,
        retry_buffer_bytes: p.retry_buffer_bytes,
        upstream_connection_limit: p.upstream_connection_limit,
        upstream_idle_timeout: positive_ms(
            "proxy.upstream_idle_timeout_ms",
            p.upstream_idle_timeout_ms,
        )?,
        max_connections: p.max_connections,
        max_connections_per_ip: p.max_connections_per_ip,
        trusted_proxies: TrustedProxies::new(trusted_proxies),
        private_paths: PrivatePaths::new(p.private_paths),
        expose_upstream,
        shutdown_timeout: Duration::from_secs(p.shutdown_timeout_s),
    })
}

/// `10.0.0.0/8`, or a bare address meaning just itself.
fn parse_network(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{text}` is not an address or CIDR network"))
}

fn validate_cache(c: CacheFile) -> Result<CacheSettings, ConfigError> {
    if c.max_bytes > 0 && c.max_entry_bytes > c.max_bytes {
        return Err(invalid(
            "cache.max_entry_bytes",
            "must be <= cache.max_bytes",
        ));
    }
    if c.max_entry_bytes > u64::from(u32::MAX) {
        return Err(invalid("cache.max_entry_bytes", "must fit in 32 bits"));
    }
    let rules = c
        .rules
        .into_iter()
        .enumerate()
        .map(|(i, rule)| {
            check_prefix(&format!("cache.rules[{i}].prefix"), &rule.prefix)?;
            Ok((rule.prefix, Duration::from_millis(rule.ttl_ms)))
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let purge = c
        .purge
        .into_iter()
        .enumerate()
        .map(|(i, rule)| validate_purge(i, rule))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CacheSettings {
        max_bytes: c.max_bytes,
        max_entry_bytes: c.max_entry_bytes,
        default_ttl: Duration::from_millis(c.default_ttl_ms),
        stale: Duration::from_millis(c.stale_ms),
        lock_timeout: positive_ms("cache.lock_timeout_ms", c.lock_timeout_ms)?,
        rules,
        purge,
    })
}

fn validate_purge(index: usize, rule: PurgeRuleFile) -> Result<PurgeRule, ConfigError> {
    let method: actix_web::http::Method = rule
        .method
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| invalid(format!("cache.purge[{index}].method"), "not an HTTP method"))?;
    if method.is_safe() {
        return Err(invalid(
            format!("cache.purge[{index}].method"),
            "must be an unsafe method (POST, PUT, PATCH, DELETE)",
        ));
    }
    check_prefix(&format!("cache.purge[{index}].prefix"), &rule.prefix)?;
    if rule.purges.is_empty() {
        return Err(invalid(
            format!("cache.purge[{index}].purges"),
            "must not be empty",
        ));
    }
    for (j, prefix) in rule.purges.iter().enumerate() {
        check_prefix(&format!("cache.purge[{index}].purges[{j}]"), prefix)?;
    }
    Ok(PurgeRule {
        method,
        prefix: rule.prefix,
        purges: rule.purges,
    })
}

fn check_prefix(field: &str, prefix: &str) -> Result<(), ConfigError> {
    limits::check_prefix(prefix).map_err(|e| invalid(field, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, ConfigError> {
        Settings::validate(toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: "test.toml".into(),
            source: Box::new(e),
        })?)
    }

    #[test]
    fn defaults_are_the_local_stack() {
        let settings = Settings::validate(FileConfig::default()).unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.admin_listen.to_string(), "127.0.0.1:8081");
        assert!(settings.managed_workers());
        assert_eq!(settings.workers.count, 2);
    }

    #[test]
    fn errors_name_the_field() {
        let err = parse("[health]\ninterval_ms = 0").unwrap_err();
        assert_eq!(err.to_string(), "health.interval_ms: must be > 0");
        let err = parse("listen = \"nowhere\"").unwrap_err();
        assert!(err.to_string().starts_with("listen: "), "{err}");
        let err = parse("backends = [\"ftp://x:1\"]").unwrap_err();
        assert!(err.to_string().starts_with("backends[0]: "), "{err}");
        let err = parse("algorithm = \"random\"").unwrap_err();
        assert!(err.to_string().starts_with("algorithm: "), "{err}");
        let err = parse("[cache]\nmax_bytes = 10\nmax_entry_bytes = 20").unwrap_err();
        assert!(
            err.to_string().starts_with("cache.max_entry_bytes: "),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = parse("[health]\nintervall_ms = 5").unwrap_err();
        assert!(err.to_string().contains("intervall_ms"), "{err}");
    }

    #[test]
    fn worker_args_replace_defaults_of_the_same_flag() {
        let mut file = FileConfig::default();
        file.workers.extra_args = ["--db-path", "/tmp/x.db", "--workers=1"]
            .map(String::from)
            .to_vec();
        let args = Settings::validate(file).unwrap().workers.args;
        assert_eq!(
            args,
            [
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--static-dir",
                "frontend",
                "--db-path",
                "/tmp/x.db",
                "--workers=1"
            ]
        );
    }

    #[test]
    fn weighted_backends_parse_from_file_and_flag_syntax() {
        let settings = parse(
            "backends = [\"http://127.0.0.1:1#weight=3\", { address = \"127.0.0.1:2\", weight = 2 }]",
        )
        .unwrap();
        let weights: Vec<u32> = settings.backends.iter().map(|b| b.weight).collect();
        assert_eq!(weights, [3, 2]);
        assert_eq!(settings.backends[1].address.to_string(), "127.0.0.1:2");
    }
}
