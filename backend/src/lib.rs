//! The sentiment-analysis service: `POST /analyze` scores a text with VADER and stores it,
//! `GET /history` pages through what was stored, and the frontend is served from a folder.

pub mod analysis;
pub mod backup;
pub mod cli;
pub mod configuration;
pub mod contract;
pub mod error;
pub mod idempotency;
pub mod legacy_env;
pub mod middleware;
pub mod routes;
pub mod sentiment;
pub mod startup;
pub mod store;
