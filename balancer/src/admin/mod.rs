//! The admin API, on its own listener (loopback by default) and guarded by a bearer token:
//! backends (list, add, remove, drain), managed worker scaling, cache purge and Prometheus
//! metrics.

mod auth;
mod error;
mod metrics;
mod routes;

use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::web;

pub use error::AdminError;

use crate::backends::BackendSet;
use crate::cache::HttpCache;
use crate::workers::Supervisor;

/// What the admin handlers act on.
pub struct AdminState {
    pub backends: Arc<BackendSet>,
    pub cache: Option<Arc<HttpCache>>,
    pub workers: Option<Supervisor>,
    pub token: String,
}

/// Registers every admin route behind the bearer-token check.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .app_data(
            web::JsonConfig::default()
                .error_handler(|error, _| AdminError::BadRequest(error.to_string()).into()),
        )
        .service(
            web::scope("")
                .wrap(from_fn(auth::require_token))
                .route("/backends", web::get().to(routes::list_backends))
                .route("/backends", web::post().to(routes::add_backend))
                .route(
                    "/backends/{address}",
                    web::delete().to(routes::remove_backend),
                )
                .route(
                    "/backends/{address}/drain",
                    web::post().to(routes::drain_backend),
                )
                .route("/workers", web::get().to(routes::list_workers))
                .route("/workers", web::post().to(routes::scale_workers))
                .route("/cache/purge", web::post().to(routes::purge_cache))
                .route("/metrics", web::get().to(metrics::render))
                .default_service(web::to(|| async { Err::<&str, _>(AdminError::NotFound) })),
        );
}
