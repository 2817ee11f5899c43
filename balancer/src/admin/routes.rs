//! Admin handlers for backends, workers and the cache.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{AdminError, AdminState};
use crate::backends::{Backend, BackendAddress, CheckResult, MembershipError};
use crate::limits;

#[derive(Serialize)]
struct BackendView {
    address: String,
    /// What `X-Upstream` calls it.
    name: String,
    healthy: bool,
    /// Up by active checks, whatever passive health says.
    up: bool,
    /// Taken out by passive health until active checks pass again.
    ejected: bool,
    last_check: Option<CheckResult>,
    draining: bool,
    managed: bool,
    weight: u32,
    in_flight: usize,
    requests: u64,
    errors: u64,
    latency: LatencyView,
}

#[derive(Serialize)]
struct LatencyView {
    mean_ms: f64,
    count: u64,
}

impl From<&Backend> for BackendView {
    fn from(b: &Backend) -> Self {
        Self {
            address: b.address().to_string(),
            name: String::from_utf8_lossy(b.upstream_header().as_bytes()).into_owned(),
            healthy: b.is_healthy(),
            up: b.is_up(),
            ejected: b.is_ejected(),
            last_check: b.last_check(),
            draining: b.is_draining(),
            managed: b.is_managed(),
            weight: b.weight(),
            in_flight: b.in_flight(),
            requests: b.requests(),
            errors: b.errors(),
            latency: LatencyView {
                mean_ms: b.latency().mean_ms(),
                count: b.latency().count(),
            },
        }
    }
}

fn membership(error: MembershipError) -> AdminError {
    match error {
        MembershipError::Duplicate(_) => AdminError::Conflict(error.to_string()),
        MembershipError::Unknown(_) => AdminError::UnknownBackend(error.to_string()),
    }
}

pub async fn list_backends(state: web::Data<AdminState>) -> HttpResponse {
    let snapshot = state.backends.peek();
    let views: Vec<BackendView> = snapshot
        .backends
        .iter()
        .map(|b| b.as_ref().into())
        .collect();
    HttpResponse::Ok().json(views)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewBackend {
    address: String,
    #[serde(default = "one")]
    weight: u64,
    name: Option<String>,
}

fn one() -> u64 {
    1
}

/// Adds a backend, checked by the same rules as the configuration's `backends`.
pub async fn add_backend(
    state: web::Data<AdminState>,
    body: web::Json<NewBackend>,
) -> Result<HttpResponse, AdminError> {
    let NewBackend {
        address,
        weight,
        name,
    } = body.into_inner();
    let bad = |field: &str, reason: String| AdminError::BadRequest(format!("{field}: {reason}"));
    let weight = limits::check_weight(weight).map_err(|e| bad("weight", e.to_string()))?;
    if let Some(name) = &name {
        limits::check_name(name).map_err(|e| bad("name", e.to_string()))?;
    }
    let address = BackendAddress::parse(&address).map_err(|e| bad("address", e.to_string()))?;
    let backend = state
        .backends
        .add(Backend::new(address, weight, false, name.as_deref()))
        .map_err(membership)?;
    Ok(HttpResponse::Created().json(BackendView::from(backend.as_ref())))
}

fn find(state: &AdminState, address: &str) -> Result<std::sync::Arc<Backend>, AdminError> {
    state
        .backends
        .get(address)
        .ok_or_else(|| membership(MembershipError::Unknown(address.into())))
}

pub async fn remove_backend(
    state: web::Data<AdminState>,
    address: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    if find(&state, &address)?.is_managed() {
        return Err(AdminError::Conflict(
            "a managed worker is removed by scaling: POST /workers".into(),
        ));
    }
    let removed = state.backends.remove(&address).map_err(membership)?;
    Ok(HttpResponse::Ok().json(BackendView::from(removed.as_ref())))
}

pub async fn drain_backend(
    state: web::Data<AdminState>,
    address: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let backend = find(&state, &address)?;
    backend.start_draining();
    Ok(HttpResponse::Ok().json(BackendView::from(backend.as_ref())))
}

#[derive(Serialize)]
struct WorkersView {
    count: usize,
    workers: Vec<crate::workers::WorkerStatus>,
}

pub async fn list_workers(state: web::Data<AdminState>) -> Result<HttpResponse, AdminError> {
    let workers = state.workers.as_ref().ok_or(AdminError::NotManaged)?;
    let workers = workers.list().await.map_err(|_| AdminError::Stopping)?;
    Ok(HttpResponse::Ok().json(WorkersView {
        count: workers.len(),
        workers,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    count: usize,
}

pub async fn scale_workers(
    state: web::Data<AdminState>,
    body: web::Json<Scale>,
) -> Result<HttpResponse, AdminError> {
    let supervisor = state.workers.as_ref().ok_or(AdminError::NotManaged)?;
    limits::check_workers(body.count).map_err(|e| AdminError::BadRequest(format!("count: {e}")))?;
    let workers = supervisor
        .scale(body.count)
        .await
        .map_err(|_| AdminError::Stopping)?;
    Ok(HttpResponse::Ok().json(WorkersView {
        count: workers.len(),
        workers,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Purge {
    prefix: String,
}

/// Purges everything, or only paths under `{"prefix": "/..."}` when a body is given.
pub async fn purge_cache(
    state: web::Data<AdminState>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let prefix = if body.is_empty() {
        None
    } else {
        let purge: Purge =
            serde_json::from_slice(&body).map_err(|e| AdminError::BadRequest(e.to_string()))?;
        limits::check_prefix(&purge.prefix)
            .map_err(|e| AdminError::BadRequest(format!("prefix: {e}")))?;
        Some(purge.prefix)
    };
    if let Some(cache) = &state.cache {
        match &prefix {
            Some(prefix) => cache.purge_prefix(prefix),
            None => cache.purge_all(),
        }
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "purged": prefix.as_deref().unwrap_or("*") })))
}
