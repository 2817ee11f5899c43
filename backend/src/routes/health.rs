//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the store answers too;
//! when it does not, the body only says so and the reason goes to the log).

use std::time::Duration;

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::store::{Store, StoreError, report_recovery};

/// A readiness probe must answer before the prober gives up, even if the store hangs.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

fn no_store() -> CacheControl {
    CacheControl(vec![CacheDirective::NoStore])
}

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(no_store())
        .json(json!({ "status": "ok" }))
}

pub async fn readyz(store: web::Data<dyn Store>) -> Result<HttpResponse, ApiError> {
    tokio::time::timeout(READINESS_TIMEOUT, store.ping())
        .await
        .map_err(|_| StoreError::TimedOut(READINESS_TIMEOUT))??;
    report_recovery();
    Ok(HttpResponse::Ok()
        .insert_header(no_store())
        .json(json!({ "status": "ready" })))
}
