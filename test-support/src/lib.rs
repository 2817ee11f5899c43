//! The harness of both crates' black-box tests (dev-only): start a real binary on port 0 and
//! learn its address from its start-up line, stop it with SIGTERM and wait (bounded), capture
//! its logs, poll until something holds; plus the HTTP helpers of the backend's tests and the
//! fake upstreams of the balancer's. Every wait is bounded.

pub mod backend;
pub mod balancer;
pub mod poll;
pub mod process;

pub use poll::eventually;
pub use process::{Logs, Process, cargo_binary, process_alive, send_signal};
