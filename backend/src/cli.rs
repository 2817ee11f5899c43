//! The command-line entry point, shared by the `backend` binary and the balancer's `worker`
//! subcommand (which runs the same service from the balancer's own executable).

use std::ffi::OsString;
use std::io;

use clap::{CommandFactory, FromArgMatches};

use crate::backup;
use crate::configuration::Settings;
use crate::contract::startup_line;
use crate::legacy_env::accept_legacy_env;
use crate::startup::Application;

/// `backend backup|restore ...` maintains the embedded store (see `backup`); anything else
/// parses the flags (exiting with a usage message when they are wrong), then serves until
/// stopped. Once bound it prints the contract's start-up line on stdout
/// (`contract::startup_line`), the line a supervisor waits for.
pub fn run<I, T>(args: I) -> io::Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if args
        .get(1)
        .is_some_and(|command| backup::COMMANDS.iter().any(|name| command == *name))
    {
        return backup::run(args).map_err(io::Error::other);
    }
    let matches = accept_legacy_env(Settings::command())
        .after_help(
            "Each variable's name from before the BACKEND_ prefix (HOST, PORT, WORKERS, \
             SQLITE_PATH, ...) is still read; the BACKEND_ name wins when both are set.\n\
             Backup of the embedded store: `backend backup --help`, `backend restore --help`.",
        )
        .get_matches_from(args);
    let settings = Settings::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    // A host process (the balancer) may have set up logging already.
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .try_init();
    actix_web::rt::System::new().block_on(async move {
        let application = Application::build(settings)
            .await
            .map_err(io::Error::other)?;
        startup_line::write(&mut io::stdout().lock(), application.address())?;
        application.run_until_stopped().await
    })
}
