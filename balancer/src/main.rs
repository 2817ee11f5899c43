//! `balancer [flags]` runs the balancer; `balancer worker [backend flags]` runs one backend
//! worker in this executable (how managed workers are started).

use std::process::ExitCode;

use balancer::configuration::{Flags, Settings};
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == "worker")
    {
        // args[0] of the worker is "worker", as a program name.
        return match backend::cli::run(std::env::args_os().skip(1)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("balancer worker: {error}");
                ExitCode::FAILURE
            }
        };
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let settings = match Settings::load(Flags::parse()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("balancer: invalid configuration: {error}");
            return ExitCode::from(2);
        }
    };
    match actix_web::rt::System::new().block_on(balancer::startup::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("balancer: {error}");
            ExitCode::FAILURE
        }
    }
}
