//! `POST /analyze`: scores a text with VADER and stores the analysis before answering.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;

use crate::analysis::NewAnalysis;
use crate::configuration::Limits;
use crate::error::ApiError;
use crate::json_body::{read_bounded, require_json, text_to_analyse};
use crate::sentiment;
use crate::store::GroupCommitter;

pub async fn analyze(
    request: HttpRequest,
    payload: web::Payload,
    limits: web::Data<Limits>,
    committer: web::Data<GroupCommitter>,
) -> Result<HttpResponse, ApiError> {
    require_json(&request)?;
    let body = read_bounded(&request, payload, limits.max_body_bytes).await?;
    let text = text_to_analyse(&body, &limits)?;
    let scores = sentiment::score(&text);
    let stored = committer
        .record(NewAnalysis {
            text,
            scores,
            created_at: Utc::now(),
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(stored))
}
