//! `GET /limits`: the input limits, so the page can count characters against the real one.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::configuration::Limits;

pub async fn limits(limits: web::Data<Limits>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(60),
        ]))
        .json(json!({
            "max_text_chars": limits.max_text_chars,
            "max_body_bytes": limits.max_body_bytes,
        }))
}
