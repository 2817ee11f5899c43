//! The `backend` binary: see `backend --help`.

fn main() {
    if let Err(error) = backend::cli::run(std::env::args_os()) {
        eprintln!("backend: {error}");
        std::process::exit(1);
    }
}
