//! Layering of the real binary's configuration: a flag beats its environment variable, which
//! beats the config file, which beats the default. Each layer gives `listen` a different
//! invalid value, so the start-up error (exit 2) shows which one won; the binary exits at
//! once and binds nothing.

use std::process::Command;

/// Runs `balancer` with the given `--listen` flag, `BALANCER_LISTEN` and config-file `listen`
/// (each optional) and returns its exit code and standard error.
fn run(flag: Option<&str>, env: Option<&str>, file: Option<&str>) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = dir.path().join("balancer.toml");
    let text = file.map_or(String::new(), |value| format!("listen = \"{value}\"\n"));
    // Something every run refuses, so a run whose `listen` is valid stops too.
    let text = text + "[health]\ninterval_ms = 0\n";
    std::fs::write(&config, text).expect("config written");
    let mut command = Command::new(env!("CARGO_BIN_EXE_balancer"));
    command
        .arg("--config")
        .arg(&config)
        .env_remove("BALANCER_LISTEN");
    for name in ["BALANCER_HEALTH_INTERVAL_MS", "BALANCER_CONFIG"] {
        command.env_remove(name);
    }
    if let Some(value) = flag {
        command.args(["--listen", value]);
    }
    if let Some(value) = env {
        command.env("BALANCER_LISTEN", value);
    }
    let output = command.output().expect("balancer runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr)
}

#[test]
fn flag_beats_environment_beats_file_beats_default() {
    let cases = [
        (
            Some("from-flag"),
            Some("from-env"),
            Some("from-file"),
            "listen: `from-flag`",
        ),
        (
            None,
            Some("from-env"),
            Some("from-file"),
            "listen: `from-env`",
        ),
        (None, None, Some("from-file"), "listen: `from-file`"),
        // The default listen address is valid: the next error is the health interval's.
        (None, None, None, "health.interval_ms: must be > 0"),
    ];
    for (flag, env, file, expected) in cases {
        let (code, stderr) = run(flag, env, file);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("balancer: invalid configuration: {expected}")),
            "flag {flag:?}, env {env:?}, file {file:?}: {stderr}"
        );
    }
}

#[test]
fn the_deprecated_idle_pool_key_is_accepted_and_a_misspelt_one_refused() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = dir.path().join("balancer.toml");
    let run = |proxy_key: &str| {
        let text = format!("[proxy]\n{proxy_key} = 16\n[health]\ninterval_ms = 0\n");
        std::fs::write(&config, text).expect("config written");
        let output = Command::new(env!("CARGO_BIN_EXE_balancer"))
            .arg("--config")
            .arg(&config)
            .env_remove("BALANCER_HEALTH_INTERVAL_MS")
            .output()
            .expect("balancer runs");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    // Both names get past the file parser to validation; a key it does not know does not.
    for key in ["upstream_idle_per_backend", "upstream_connection_limit"] {
        let stderr = run(key);
        assert!(
            stderr.contains("health.interval_ms: must be > 0"),
            "{key}: {stderr}"
        );
    }
    let stderr = run("upstream_connection_limt");
    assert!(
        stderr.contains("unknown field `upstream_connection_limt`"),
        "{stderr}"
    );
}
