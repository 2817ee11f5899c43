//! The environment variables the backend read before they took the `BACKEND_` prefix. They are
//! still read, so old environment files keep working; the new name wins when both are set, and
//! a flag wins over both.

use std::ffi::OsString;

use clap::Command;

/// Each new name with the old one it replaces.
pub const LEGACY_ENV: &[(&str, &str)] = &[
    ("BACKEND_HOST", "HOST"),
    ("BACKEND_PORT", "PORT"),
    ("BACKEND_THREADS", "WORKERS"),
    ("BACKEND_STATIC_DIR", "STATIC_DIR"),
    ("BACKEND_STATIC_MAX_AGE", "STATIC_MAX_AGE"),
    ("BACKEND_HISTORY_MAX_AGE", "HISTORY_MAX_AGE"),
    ("BACKEND_SHUTDOWN_TIMEOUT", "SHUTDOWN_TIMEOUT"),
    ("BACKEND_MAX_TEXT_CHARS", "MAX_TEXT_CHARS"),
    ("BACKEND_MAX_BODY_BYTES", "MAX_BODY_BYTES"),
    ("BACKEND_MONGODB_URI", "MONGODB_URI"),
    ("BACKEND_MONGODB_DATABASE", "MONGODB_DATABASE"),
    ("BACKEND_MONGODB_COLLECTION", "MONGODB_COLLECTION"),
    ("BACKEND_MONGODB_WRITE_CONCERN", "MONGODB_WRITE_CONCERN"),
    ("BACKEND_MONGODB_WTIMEOUT_MS", "MONGODB_WTIMEOUT_MS"),
    (
        "BACKEND_MONGODB_OPERATION_TIMEOUT_MS",
        "MONGODB_OPERATION_TIMEOUT_MS",
    ),
    ("BACKEND_IDEMPOTENCY_WINDOW", "IDEMPOTENCY_WINDOW"),
    ("BACKEND_DB_PATH", "SQLITE_PATH"),
    ("BACKEND_SQLITE_SYNCHRONOUS", "SQLITE_SYNCHRONOUS"),
    ("BACKEND_BATCH_MAX", "BATCH_MAX"),
];

/// `command` (and its subcommands) reading the old names from the process environment.
pub fn accept_legacy_env(command: Command) -> Command {
    accept_legacy_env_from(command, &|name| std::env::var_os(name))
}

/// An old name's value becomes its argument's default, which clap ranks below the flag and the
/// new variable. A default shows in `--help`, so it stays hidden where the value would.
fn accept_legacy_env_from(
    mut command: Command,
    lookup: &dyn Fn(&str) -> Option<OsString>,
) -> Command {
    let mut values = Vec::new();
    for arg in command.get_arguments() {
        let Some(new) = arg.get_env() else { continue };
        let old = LEGACY_ENV
            .iter()
            .find(|(name, _)| new == *name)
            .and_then(|(_, old)| lookup(old));
        if let Some(value) = old {
            values.push((arg.get_id().clone(), value, arg.is_hide_env_values_set()));
        }
    }
    for (id, value, hidden) in values {
        command = command.mut_arg(id, |arg| {
            arg.default_value(value).hide_default_value(hidden)
        });
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    for name in names {
        command = command.mut_subcommand(name, |sub| accept_legacy_env_from(sub, lookup));
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, CommandFactory};

    use crate::configuration::Settings;

    fn port(environment: &[(&str, &str)], args: &[&str]) -> String {
        let lookup = |name: &str| {
            environment
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        };
        let command = Command::new("t").arg(Arg::new("port").long("port").env("BACKEND_PORT"));
        // The new name comes from the real environment in clap; only the old is looked up here.
        let matches = accept_legacy_env_from(command, &lookup)
            .try_get_matches_from(std::iter::once("t").chain(args.iter().copied()))
            .unwrap();
        matches
            .get_one::<String>("port")
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn an_old_name_is_read_and_a_flag_wins_over_it() {
        assert_eq!(port(&[("PORT", "9000")], &[]), "9000");
        assert_eq!(port(&[("PORT", "9000")], &["--port", "9100"]), "9100");
        assert_eq!(port(&[], &[]), "");
    }

    #[test]
    fn every_setting_has_a_prefixed_name_and_its_old_one() {
        let command = Settings::command();
        let names: Vec<String> = command
            .get_arguments()
            .filter_map(|arg| arg.get_env())
            .map(|name| name.to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), LEGACY_ENV.len(), "{names:?}");
        for name in names {
            assert!(name.starts_with("BACKEND_"), "{name}");
            assert!(LEGACY_ENV.iter().any(|(new, _)| *new == name), "{name}");
        }
    }

    #[test]
    fn a_hidden_value_stays_hidden_when_read_from_an_old_name() {
        let lookup =
            |name: &str| (name == "MONGODB_URI").then(|| OsString::from("mongodb://u:s3cret@h/"));
        let mut command = accept_legacy_env_from(Settings::command(), &lookup);
        let help = command.render_long_help().to_string();
        assert!(!help.contains("s3cret"), "{help}");
    }
}
