//! The HTTP routes, one file per resource.

mod analyze;
mod analyze_body;
mod health;
mod history;
mod limits;

use actix_web::web;

use crate::error::ApiError;

/// Registers the API routes. Static files are mounted after these by the caller.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .app_data(
            web::QueryConfig::default()
                .error_handler(|error, _| ApiError::InvalidQuery(error.to_string()).into()),
        )
        .service(web::resource("/analyze").route(web::post().to(analyze::analyze)))
        .service(
            web::resource("/history")
                .route(web::get().to(history::history))
                .route(web::head().to(history::history)),
        )
        .route("/limits", web::get().to(limits::limits))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz));
}
