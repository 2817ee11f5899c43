//! `POST /analyze`: scores a text with VADER and stores the analysis before answering. With an
//! `Idempotency-Key`, a repeat of the same request answers the analysis stored the first time.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;

use super::analyze_body::{read_bounded, require_json, text_to_analyse};
use crate::analysis::NewAnalysis;
use crate::configuration::Limits;
use crate::error::ApiError;
use crate::idempotency::{IDEMPOTENT_REPLAYED, IdempotencyKey};
use crate::sentiment;
use crate::store::{GroupCommitter, Recorded};

pub async fn analyze(
    request: HttpRequest,
    payload: web::Payload,
    limits: web::Data<Limits>,
    committer: web::Data<GroupCommitter>,
) -> Result<HttpResponse, ApiError> {
    let idempotency_key = IdempotencyKey::from_headers(request.headers())?;
    require_json(&request)?;
    let body = read_bounded(&request, payload, limits.max_body_bytes).await?;
    let text = text_to_analyse(&body, &limits)?;
    let scores = sentiment::score(&text);
    let recorded = committer
        .record(NewAnalysis {
            text,
            scores,
            created_at: Utc::now(),
            idempotency_key,
        })
        .await?;
    let mut response = HttpResponse::Ok();
    response.insert_header(CacheControl(vec![CacheDirective::NoStore]));
    if matches!(recorded, Recorded::Replayed(_)) {
        response.insert_header((IDEMPOTENT_REPLAYED, "true"));
    }
    Ok(response.json(recorded.analysis()))
}
