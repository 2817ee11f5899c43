//! Every setting, once: its key, flag and environment variable, default, doc and validation,
//! section by section, plus the checks that compare two settings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::acme_convert::{domain_names, fraction, https_url, mailto, optional_path, path};
use super::convert::{
    address, keep, millis, networks, non_blank, optional_address, parsed, positive, positive_ms,
    positive_secs, prefix, private_paths, purge_rules, secs, static_backends, threads, ttl_rules,
    worker_count,
};
use super::section::section;
use super::{
    BackendEntry, ConfigError, ExposeUpstream, PurgeRule, PurgeRuleFile, StaticBackend,
    TtlRuleFile, invalid,
};
use crate::proxy::{PrivatePaths, TrustedProxies};
use crate::selection::{Algorithm, HashKey};

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
        /// Proxy worker threads (0 = one per CPU).
        #[arg(long, env = "BALANCER_THREADS")]
        threads: usize = 0 => threads: usize = threads,
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
    check check_certificate_source
}

section! {
    /// `[workers]`: the managed backend worker processes (ignored with static backends).
    WorkersLayer => WorkerSettings, "workers." {
        /// Number of managed backend worker processes (ignored with static backends).
        #[arg(long = "workers", env = "BALANCER_WORKERS", value_name = "N")]
        count: usize = 2 => count: usize = worker_count,
        /// Program run for each managed worker (default: this executable with `worker`).
        #[arg(long = "worker-command", env = "BALANCER_WORKER_COMMAND", num_args = 1)]
        command: Option<String> = None => command: Option<String> = non_blank,
        /// The worker's arguments: only what the balancer decides (loopback, a free port, the
        /// store every worker shares); the backend's own defaults apply to everything else.
        #[arg(skip)]
        args: Vec<String> = ["--host", "127.0.0.1", "--port", "0", "--db-path", "data/sentiment.db"]
            .map(String::from).to_vec() => args: Vec<String> = keep,
        /// Extra argument appended to the worker command (repeatable); a flag given here
        /// replaces the default of the same name.
        #[arg(long = "worker-arg", allow_hyphen_values = true, value_name = "ARG")]
        extra_args: Vec<String> = Vec::new() => extra_args: Vec<String> = keep,
        /// How long a worker may take to print `backend listening on http://...`.
        #[arg(skip)]
        startup_timeout_ms: u64 = 60_000 => startup_timeout: Duration = positive_ms,
        /// Back-off before restarting a crashed worker; doubles per crash, reset after 30 s up.
        #[arg(skip)]
        restart_backoff_min_ms: u64 = 200 => restart_backoff_min: Duration = positive_ms,
        #[arg(skip)]
        restart_backoff_max_ms: u64 = 10_000 => restart_backoff_max: Duration = positive_ms,
        /// Drain + SIGTERM, then SIGKILL after this.
        #[arg(skip)]
        stop_timeout_ms: u64 = 10_000 => stop_timeout: Duration = positive_ms,
    }
    check check_workers
}

section! {
    /// `[health]`: active checks and passive ejection.
    HealthLayer => HealthSettings, "health." {
        #[arg(skip)]
        path: String = "/readyz".into() => path: String = prefix,
        /// Active health check interval in milliseconds.
        #[arg(long = "health-interval-ms", env = "BALANCER_HEALTH_INTERVAL_MS", value_name = "MS")]
        interval_ms: u64 = 1000 => interval: Duration = positive_ms,
        #[arg(skip)]
        timeout_ms: u64 = 1000 => timeout: Duration = positive_ms,
        /// Down after this many failed checks.
        #[arg(skip)]
        fall: u32 = 2 => fall: u32 = positive,
        /// Up after this many good checks (a new backend: after its first).
        #[arg(skip)]
        rise: u32 = 2 => rise: u32 = positive,
        /// Backend faults in a row that eject it until `rise` good active checks.
        #[arg(skip)]
        passive_failures: u32 = 3 => passive_failures: u32 = positive,
        /// Also count 5xx answers as backend faults.
        #[arg(skip)]
        passive_5xx: bool = false => passive_5xx: bool = keep,
    }
}

section! {
    /// `[proxy]`: timeouts, sizes, connection bounds and header policy.
    ProxyLayer => ProxySettings, "proxy." {
        #[arg(skip)]
        connect_timeout_ms: u64 = 2000 => connect_timeout: Duration = positive_ms,
        /// Until the response head.
        #[arg(skip)]
        upstream_timeout_ms: u64 = 30_000 => upstream_timeout: Duration = positive_ms,
        /// Slow request heads and bodies get 408.
        #[arg(skip)]
        client_request_timeout_ms: u64 = 5000 => client_request_timeout: Duration = positive_ms,
        #[arg(skip)]
        keep_alive_s: u64 = 65 => keep_alive: Duration = positive_secs,
        #[arg(skip)]
        max_body_bytes: u64 = 1 << 20 => max_body_bytes: u64 = keep,
        /// Bodies up to this are buffered so a failed connect can be retried.
        #[arg(skip)]
        retry_buffer_bytes: u64 = 64 << 10 => retry_buffer_bytes: u64 = keep,
        /// Idle keep-alive connections kept per backend, per proxy thread
        /// (`upstream_connection_limit` is its deprecated alias).
        #[arg(skip)]
        #[serde(alias = "upstream_connection_limit")]
        upstream_idle_per_backend: usize = 4096 => upstream_idle_per_backend: usize = keep,
        /// Under actix-web's 5 s keep-alive, so we rarely reuse a connection it is closing.
        #[arg(skip)]
        upstream_idle_timeout_ms: u64 = 4000 => upstream_idle_timeout: Duration = positive_ms,
        #[arg(skip)]
        max_connections: usize = 20_000 => max_connections: usize = positive,
        #[arg(skip)]
        max_connections_per_ip: usize = 256 => max_connections_per_ip: usize = keep,
        #[arg(skip)]
        trusted_proxies: Vec<String> = Vec::new() => trusted_proxies: TrustedProxies = networks,
        #[arg(skip)]
        private_paths: Vec<String> = vec!["/readyz".into()] => private_paths: PrivatePaths = private_paths,
        #[arg(skip)]
        expose_upstream: String = "auto".into() => expose_upstream: ExposeUpstream = parsed,
        #[arg(skip)]
        shutdown_timeout_s: u64 = 5 => shutdown_timeout: Duration = secs,
    }
    check check_proxy
}

section! {
    /// `[cache]`: bounds, freshness and invalidation rules.
    CacheLayer => CacheSettings, "cache." {
        /// Cache size bound in bytes (0 disables the cache).
        #[arg(long = "cache-max-bytes", env = "BALANCER_CACHE_MAX_BYTES", value_name = "BYTES")]
        max_bytes: u64 = 64 << 20 => max_bytes: u64 = keep,
        #[arg(skip)]
        max_entry_bytes: u64 = 1 << 20 => max_entry_bytes: u64 = keep,
        /// TTL when neither the response nor a rule gives one.
        #[arg(skip)]
        default_ttl_ms: u64 = 0 => default_ttl: Duration = millis,
        /// How long past its TTL an entry may be served STALE.
        #[arg(skip)]
        stale_ms: u64 = 30_000 => stale: Duration = millis,
        /// How long concurrent misses wait for the first fetch.
        #[arg(skip)]
        lock_timeout_ms: u64 = 5000 => lock_timeout: Duration = positive_ms,
        #[arg(skip)]
        rules: Vec<TtlRuleFile> = vec![TtlRuleFile { prefix: "/history".into(), ttl_ms: 2000 }]
            => rules: Vec<(String, Duration)> = ttl_rules,
        #[arg(skip)]
        purge: Vec<PurgeRuleFile> = vec![PurgeRuleFile {
            method: "POST".into(), prefix: "/analyze".into(), purges: vec!["/history".into()],
        }] => purge: Vec<PurgeRule> = purge_rules,
    }
    check check_cache
}

section! {
    /// `[tls]`: the HTTPS listener, its static certificate, and what the plain listener does
    /// about HTTPS.
    TlsLayer => TlsSettings, "tls." {
        /// HTTPS listener address (no HTTPS listener when unset).
        #[arg(id = "tls_listen", long = "tls-listen", env = "BALANCER_TLS_LISTEN", num_args = 1, value_name = "ADDR")]
        listen: Option<String> = None => listen: Option<SocketAddr> = optional_address,
        /// PEM certificate chain, leaf first (reloaded with the key on SIGHUP).
        #[arg(long = "tls-cert", env = "BALANCER_TLS_CERT", num_args = 1, value_name = "FILE")]
        cert: Option<PathBuf> = None => cert: Option<PathBuf> = keep,
        /// PEM private key of the certificate.
        #[arg(long = "tls-key", env = "BALANCER_TLS_KEY", num_args = 1, value_name = "FILE")]
        key: Option<PathBuf> = None => key: Option<PathBuf> = keep,
        /// Answer plain requests with a 308 redirect to HTTPS (except ACME HTTP-01 challenges).
        #[arg(long = "redirect-http", env = "BALANCER_REDIRECT_HTTP", num_args = 0..=1,
              default_missing_value = "true", value_name = "BOOL")]
        redirect_http: bool = false => redirect_http: bool = keep,
        /// Strict-Transport-Security max-age in seconds on HTTPS responses (off when unset).
        #[arg(long = "hsts", env = "BALANCER_HSTS", num_args = 1, value_name = "SECONDS")]
        hsts: Option<u64> = None => hsts: Option<u64> = keep,
    }
    check check_tls
}

fn check_tls(t: &TlsSettings) -> Result<(), ConfigError> {
    if t.cert.is_some() != t.key.is_some() {
        return Err(invalid("tls.cert", "tls.cert and tls.key go together"));
    }
    if t.listen.is_none() {
        let without_listener = [
            ("tls.cert", t.cert.is_some()),
            ("tls.redirect_http", t.redirect_http),
            ("tls.hsts", t.hsts.is_some()),
        ];
        if let Some((field, _)) = without_listener.iter().find(|(_, set)| *set) {
            return Err(invalid(*field, "needs tls.listen"));
        }
    }
    Ok(())
}

section! {
    /// `[acme]`: automatic certificates (RFC 8555) for the TLS listener, validated over HTTP-01
    /// on the plain listener.
    AcmeLayer => AcmeSettings, "acme." {
        /// Domain to get a certificate for (repeatable); any domain turns ACME on.
        #[arg(long = "acme-domain", env = "BALANCER_ACME_DOMAINS", value_delimiter = ',', value_name = "NAME")]
        domains: Vec<String> = Vec::new() => domains: Vec<String> = domain_names,
        /// Contact for the ACME account, `mailto:you@example.com`.
        #[arg(long = "acme-contact", env = "BALANCER_ACME_CONTACT", value_name = "URL")]
        contact: Option<String> = None => contact: Option<String> = mailto,
        /// ACME directory URL (default: Let's Encrypt production).
        #[arg(long = "acme-directory", env = "BALANCER_ACME_DIRECTORY", value_name = "URL")]
        directory: Option<String> = None => directory: Option<String> = https_url,
        /// Use Let's Encrypt's staging directory (untrusted certificates, generous limits).
        #[arg(long = "acme-staging", env = "BALANCER_ACME_STAGING", num_args = 0..=1,
              default_missing_value = "true", value_name = "BOOL")]
        staging: bool = false => staging: bool = keep,
        /// Extra root certificate (PEM) trusted for the ACME server's own HTTPS, for test CAs.
        #[arg(long = "acme-ca-root", env = "BALANCER_ACME_CA_ROOT", value_name = "FILE")]
        ca_root: Option<String> = None => ca_root: Option<PathBuf> = optional_path,
        /// Directory (made 0700) for the ACME account key and the certificate, kept across restarts.
        #[arg(long = "acme-state-dir", env = "BALANCER_ACME_STATE_DIR", value_name = "DIR")]
        state_dir: String = "data/acme".into() => state_dir: PathBuf = path,
        /// Renew when this fraction of the certificate's lifetime is left (0 < f <= 1).
        #[arg(long = "acme-renew-before", env = "BALANCER_ACME_RENEW_BEFORE", value_name = "FRACTION")]
        renew_before: f64 = 1.0 / 3.0 => renew_before: f64 = fraction,
    }
    check check_acme
}

/// ACME certifies the TLS listener, which must exist and have no static certificate.
fn check_certificate_source(s: &Settings) -> Result<(), ConfigError> {
    if !s.acme.enabled() {
        return Ok(());
    }
    if s.tls.listen.is_none() {
        return Err(invalid("acme.domains", "needs tls.listen"));
    }
    if s.tls.cert.is_some() {
        let reason =
            "cannot be combined with tls.cert: the certificate comes from ACME or from files";
        return Err(invalid("acme.domains", reason));
    }
    Ok(())
}

fn check_workers(w: &WorkerSettings) -> Result<(), ConfigError> {
    if w.restart_backoff_max < w.restart_backoff_min {
        return Err(invalid(
            "workers.restart_backoff_max_ms",
            "must be >= workers.restart_backoff_min_ms",
        ));
    }
    Ok(())
}

fn check_proxy(p: &ProxySettings) -> Result<(), ConfigError> {
    if p.retry_buffer_bytes > p.max_body_bytes {
        return Err(invalid(
            "proxy.retry_buffer_bytes",
            "must be <= proxy.max_body_bytes",
        ));
    }
    if !(1..=p.max_connections).contains(&p.max_connections_per_ip) {
        let reason = "must be from 1 to proxy.max_connections";
        return Err(invalid("proxy.max_connections_per_ip", reason));
    }
    Ok(())
}

fn check_acme(a: &AcmeSettings) -> Result<(), ConfigError> {
    if a.staging && a.directory.is_some() {
        return Err(invalid(
            "acme.staging",
            "cannot be combined with acme.directory",
        ));
    }
    Ok(())
}

fn check_cache(c: &CacheSettings) -> Result<(), ConfigError> {
    if c.max_bytes > 0 && c.max_entry_bytes > c.max_bytes {
        return Err(invalid(
            "cache.max_entry_bytes",
            "must be <= cache.max_bytes",
        ));
    }
    if c.max_entry_bytes > u64::from(u32::MAX) {
        return Err(invalid("cache.max_entry_bytes", "must fit in 32 bits"));
    }
    Ok(())
}
