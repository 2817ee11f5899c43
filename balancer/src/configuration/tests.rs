//! Unit tests of the configuration: defaults, validation errors, layering and the alias.
//! Environment-variable precedence is tested black-box in `tests/configuration.rs`, since
//! setting the environment here would leak into other tests of this process.

use std::io::Write;
use std::time::Duration;

use clap::Parser;

use super::*;

fn parse(text: &str) -> Result<Settings, ConfigError> {
    let layer: Layer = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: "test.toml".into(),
        source: Box::new(e),
    })?;
    layer.validate()
}

/// Loads `balancer [flags] --config FILE` where FILE holds `file`.
fn load(file: &str, flags: &[&str]) -> Result<Settings, ConfigError> {
    let mut config = tempfile::NamedTempFile::new().expect("a temp file");
    config.write_all(file.as_bytes()).expect("written");
    let path = config.path().to_str().expect("a UTF-8 path").to_owned();
    let args = ["balancer", "--config", path.as_str()].into_iter();
    Settings::load(Flags::try_parse_from(args.chain(flags.iter().copied())).expect("flags"))
}

#[test]
fn defaults_are_the_local_stack() {
    let settings = Layer::default().validate().unwrap();
    assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(settings.admin_listen.to_string(), "127.0.0.1:8081");
    assert!(settings.managed_workers());
    assert_eq!(settings.workers.count, 2);
    assert_eq!(
        settings.workers.args,
        [
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--db-path",
            "data/sentiment.db"
        ]
    );
    assert_eq!(settings.proxy.upstream_idle_per_backend, 4096);
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
    let err = parse("[[cache.purge]]\nmethod = \"GET\"\nprefix = \"/a\"\npurges = [\"/b\"]");
    assert!(
        err.unwrap_err()
            .to_string()
            .starts_with("cache.purge[0].method: ")
    );
    let err = parse("[proxy]\nmax_connections_per_ip = 0").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("proxy.max_connections_per_ip: "),
        "{err}"
    );
    let err = parse("[proxy]\nmax_streams_per_ip = 0").unwrap_err();
    assert!(
        err.to_string().starts_with("proxy.max_streams_per_ip: "),
        "{err}"
    );
    let err = parse("admin_token = \" \"").unwrap_err();
    assert_eq!(err.to_string(), "admin_token: must not be empty");
}

#[test]
fn unknown_keys_are_refused() {
    let err = parse("[health]\nintervall_ms = 5").unwrap_err();
    assert!(err.to_string().contains("intervall_ms"), "{err}");
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
    let flags = [
        "--backend",
        "http://127.0.0.1:3#weight=4,http://127.0.0.1:4",
    ];
    let settings = load("", &flags).unwrap();
    let weights: Vec<u32> = settings.backends.iter().map(|b| b.weight).collect();
    assert_eq!(weights, [4, 1]);
}

#[test]
fn a_flag_beats_the_file_which_beats_the_default() {
    let file = "threads = 3\n[workers]\ncount = 5\nstop_timeout_ms = 7\n[cache]\nmax_bytes = 9";
    let settings = load(file, &["--workers", "4", "--cache-max-bytes", "0"]).unwrap();
    assert_eq!(settings.workers.count, 4, "flag over file");
    assert_eq!(settings.cache.max_bytes, 0, "flag over file");
    assert_eq!(settings.threads, 3, "file over default");
    assert_eq!(settings.workers.stop_timeout, Duration::from_millis(7));
    assert_eq!(
        settings.workers.startup_timeout,
        Duration::from_secs(60),
        "default"
    );
    assert_eq!(settings.health.interval, Duration::from_secs(1), "default");
}

#[test]
fn proxy_threads_leave_managed_workers_their_share_of_the_cpus() {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    assert_eq!(load("", &[]).unwrap().proxy_threads(), (cpus / 2).max(1));
    let static_backend = ["--backend", "http://127.0.0.1:1"];
    assert_eq!(load("", &static_backend).unwrap().proxy_threads(), cpus);
    assert_eq!(load("threads = 3", &[]).unwrap().proxy_threads(), 3);
}

#[test]
fn a_repeated_flag_takes_the_last_value() {
    let settings = load("", &["--listen", "127.0.0.1:1", "--listen", "127.0.0.1:2"]).unwrap();
    assert_eq!(settings.listen.to_string(), "127.0.0.1:2");
}

#[test]
fn worker_arg_flags_add_to_the_files_extra_args() {
    let file = "[workers]\nextra_args = [\"--threads\", \"1\"]";
    let settings = load(file, &["--worker-arg", "--batch-max", "--worker-arg", "8"]).unwrap();
    assert_eq!(
        settings.workers.extra_args,
        ["--threads", "1", "--batch-max", "8"]
    );
}

#[test]
fn the_old_idle_pool_key_is_an_alias() {
    let old = parse("[proxy]\nupstream_connection_limit = 7").unwrap();
    assert_eq!(old.proxy.upstream_idle_per_backend, 7);
    let new = parse("[proxy]\nupstream_idle_per_backend = 8").unwrap();
    assert_eq!(new.proxy.upstream_idle_per_backend, 8);
    let both = "[proxy]\nupstream_idle_per_backend = 8\nupstream_connection_limit = 7";
    assert!(
        parse(both).is_err(),
        "two names for one setting are refused"
    );
}

#[test]
fn tls_settings_come_from_flags_or_the_file_and_need_a_listener() {
    let flags = [
        "--tls-listen",
        "127.0.0.1:8443",
        "--tls-cert",
        "c.pem",
        "--tls-key",
        "k.pem",
        "--redirect-http",
        "--hsts",
        "600",
    ];
    let settings = load("", &flags).unwrap();
    assert_eq!(settings.tls.listen, Some("127.0.0.1:8443".parse().unwrap()));
    assert_eq!(
        settings.tls.cert.as_deref(),
        Some(std::path::Path::new("c.pem"))
    );
    assert!(settings.tls.redirect_http);
    assert_eq!(settings.tls.hsts, Some(600));
    let file = "[tls]\nlisten = \"0.0.0.0:443\"\nredirect_http = true\n";
    let settings = parse(file).unwrap();
    assert_eq!(settings.tls.listen, Some("0.0.0.0:443".parse().unwrap()));
    assert!(settings.tls.redirect_http && settings.tls.cert.is_none());
    assert!(!parse("").unwrap().tls.redirect_http);

    let refused = |text: &str| parse(text).unwrap_err().to_string();
    assert!(
        refused("[tls]\nredirect_http = true").starts_with("tls.redirect_http: needs tls.listen")
    );
    assert!(refused("[tls]\nhsts = 60").starts_with("tls.hsts: needs tls.listen"));
    let half = "[tls]\nlisten = \"127.0.0.1:0\"\ncert = \"c.pem\"";
    assert!(refused(half).contains("tls.cert and tls.key go together"));
    assert!(refused("[tls]\nlisten = \"nowhere\"").starts_with("tls.listen:"));
}

#[test]
fn acme_flags_and_file_keys_meet_in_one_section() {
    let settings = load(
        "[acme]\ndomains = [\"file.example\"]\nrenew_before = 0.5\n",
        &[
            "--acme-domain",
            "a.example",
            "--acme-domain",
            "B.example",
            "--acme-staging",
            "--acme-contact",
            "mailto:ops@example.com",
            "--tls-listen",
            "127.0.0.1:0",
        ],
    )
    .unwrap();
    let acme = &settings.acme;
    assert!(acme.enabled());
    assert_eq!(acme.domains, ["a.example", "b.example"]);
    assert_eq!(acme.renew_before, 0.5);
    assert_eq!(
        acme.directory_url(),
        "https://acme-staging-v02.api.letsencrypt.org/directory"
    );
    assert_eq!(acme.state_dir, std::path::Path::new("data/acme"));
    let defaults = Layer::default().validate().unwrap().acme;
    assert!(!defaults.enabled());
    assert!((defaults.renew_before - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(
        defaults.directory_url(),
        "https://acme-v02.api.letsencrypt.org/directory"
    );
}

#[test]
fn acme_staging_and_a_directory_are_refused_together() {
    let error = load(
        "",
        &[
            "--acme-staging",
            "--acme-directory",
            "https://ca.example/dir",
        ],
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "acme.staging: cannot be combined with acme.directory"
    );
    let error = load("", &["--acme-renew-before", "0"]).unwrap_err();
    assert!(
        error.to_string().starts_with("acme.renew_before: "),
        "{error}"
    );
}

#[test]
fn acme_needs_the_tls_listener_and_excludes_a_static_certificate() {
    let error = load("", &["--acme-domain", "a.example"]).unwrap_err();
    assert_eq!(error.to_string(), "acme.domains: needs tls.listen");
    let static_files = [
        "--acme-domain",
        "a.example",
        "--tls-listen",
        "127.0.0.1:0",
        "--tls-cert",
        "chain.pem",
        "--tls-key",
        "key.pem",
    ];
    let error = load("", &static_files).unwrap_err().to_string();
    assert!(
        error.starts_with("acme.domains: cannot be combined with tls.cert"),
        "{error}"
    );
    let settings = load(
        "",
        &["--acme-domain", "a.example", "--tls-listen", "127.0.0.1:0"],
    );
    assert!(settings.unwrap().acme.enabled());
}
