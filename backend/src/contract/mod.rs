//! The contract the backend and the balancer share, so each rule is written once: the JSON
//! error body, the request-id rule, the header names both sides read or write, and the start-up
//! line a supervisor waits for. Scripts outside Rust (frontend/tests, loadtest/harness,
//! loadtest/bench-backend) parse the start-up line too and point here.

pub mod error_body;
pub mod headers;
pub mod request_id;
pub mod startup_line;

pub use error_body::ErrorBody;
