//! How to start one worker: the `[workers]` settings, and each worker's command line (the
//! configured defaults merged with `--worker-arg`, and the worker's share of the CPUs unless
//! something already sets its threads).

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::configuration::convert::{Checked, keep, non_blank, positive_ms, worker_count};
use crate::configuration::{invalid, section};
use crate::workers::cpu_share;

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
        /// store every worker shares); the backend's own defaults apply to everything else but
        /// its threads, `--threads` CPUs / `count` (see `cpu_share`) unless set here, in
        /// `extra_args` or by `BACKEND_THREADS`.
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

fn check_workers(w: &WorkerSettings) -> Checked<()> {
    if w.restart_backoff_max < w.restart_backoff_min {
        return Err(invalid(
            "workers.restart_backoff_max_ms",
            "must be >= workers.restart_backoff_min_ms",
        ));
    }
    Ok(())
}

/// How to start one worker.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    pub(super) program: PathBuf,
    pub(super) args: Vec<String>,
    pub(super) startup_timeout: Duration,
    pub(super) backoff_min: Duration,
    pub(super) backoff_max: Duration,
    pub(super) stop_timeout: Duration,
}

impl WorkerSpec {
    /// Without a configured command, a worker is this executable run as `balancer worker ...`.
    pub fn new(settings: &WorkerSettings) -> io::Result<Self> {
        let (program, mut args) = match &settings.command {
            Some(command) => (PathBuf::from(command), Vec::new()),
            None => (std::env::current_exe()?, vec!["worker".to_owned()]),
        };
        let mut defaults = settings.args.clone();
        if !threads_in_args(&settings.args, &settings.extra_args) && !threads_in_environment() {
            let threads = cpu_share::worker_threads(cpu_share::available_cpus(), settings.count);
            defaults.extend(["--threads".to_owned(), threads.to_string()]);
        }
        args.extend(worker_args(&defaults, &settings.extra_args));
        Ok(Self {
            program,
            args,
            startup_timeout: settings.startup_timeout,
            backoff_min: settings.restart_backoff_min,
            backoff_max: settings.restart_backoff_max,
            stop_timeout: settings.stop_timeout,
        })
    }
}

/// Whether the worker's arguments set its threads: the backend's `--threads`, or `--workers`,
/// its old name.
fn threads_in_args(args: &[String], extra: &[String]) -> bool {
    args.iter()
        .chain(extra)
        .any(|arg| matches!(flag_name(arg), "--threads" | "--workers"))
}

/// Whether the environment the workers inherit sets their threads (`BACKEND_THREADS`, or its
/// old name), which a flag from us would override.
fn threads_in_environment() -> bool {
    const NAME: &str = "BACKEND_THREADS";
    let old_name = backend::legacy_env::LEGACY_ENV
        .iter()
        .find(|(new, _)| *new == NAME)
        .map(|(_, old)| *old);
    std::iter::once(NAME)
        .chain(old_name)
        .any(|name| std::env::var_os(name).is_some())
}

/// A `--flag` or `--flag=value` argument's flag.
fn flag_name(arg: &str) -> &str {
    arg.split('=').next().unwrap_or(arg)
}

/// The default arguments, minus each `--flag [value]` that `extra` sets again, then `extra`:
/// an explicit `--worker-arg` wins over the default of the same name. The backend would take
/// the last of a repeated flag anyway; dropping the default keeps the command line (and
/// `ps`) unambiguous, and serves a `--worker-command` whose parser refuses repeats.
fn worker_args(defaults: &[String], extra: &[String]) -> Vec<String> {
    let overridden: Vec<&str> = extra
        .iter()
        .filter(|arg| arg.starts_with("--"))
        .map(|arg| flag_name(arg))
        .collect();
    let mut kept = Vec::with_capacity(defaults.len() + extra.len());
    let mut args = defaults.iter().peekable();
    while let Some(arg) = args.next() {
        if arg.starts_with("--") && overridden.contains(&flag_name(arg)) {
            if !arg.contains('=') && args.peek().is_some_and(|next| !next.starts_with("--")) {
                args.next();
            }
            continue;
        }
        kept.push(arg.clone());
    }
    kept.extend(extra.iter().cloned());
    kept
}

#[cfg(test)]
mod tests {
    use super::{threads_in_args, worker_args};

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn worker_args_replace_defaults_of_the_same_flag() {
        let defaults = strings(&[
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--db-path",
            "data/s.db",
        ]);
        let extra = strings(&["--db-path", "/tmp/x.db", "--threads=1", "--port=9"]);
        assert_eq!(
            worker_args(&defaults, &extra),
            [
                "--host",
                "127.0.0.1",
                "--db-path",
                "/tmp/x.db",
                "--threads=1",
                "--port=9"
            ]
        );
        assert_eq!(worker_args(&defaults, &[]), defaults);
    }

    #[test]
    fn a_threads_flag_in_either_list_sets_the_workers_threads() {
        let none = strings(&["--port", "0"]);
        assert!(threads_in_args(&none, &strings(&["--threads", "3"])));
        assert!(threads_in_args(&strings(&["--threads=3"]), &none));
        assert!(threads_in_args(&none, &strings(&["--workers", "3"])));
        assert!(!threads_in_args(&none, &strings(&["--batch-max", "8"])));
    }
}
