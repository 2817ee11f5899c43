//! A caching reverse proxy and worker supervisor for the sentiment service: selection
//! algorithms, active and passive health, an HTTP cache with purge-on-write, an admin API, and
//! managed local worker processes.

pub mod acme;
pub mod address;
pub mod admin;
pub mod backends;
pub mod cache;
pub mod configuration;
pub mod header_names;
pub mod health;
pub mod http_types;
pub mod interim;
pub mod limits;
pub mod listener;
pub mod origin;
pub mod proxy;
pub mod selection;
pub mod startup;
pub mod tls;
pub mod upstream;
pub mod workers;
