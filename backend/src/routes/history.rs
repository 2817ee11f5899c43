//! `GET /history`: stored analyses, newest first, a page at a time with a `before` cursor.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::error::ApiError;
use crate::startup::CachePolicy;
use crate::store::{HistoryPage, Store};

pub const HISTORY_DEFAULT_LIMIT: usize = 50;
pub const HISTORY_MAX_LIMIT: usize = 500;

/// Raw query values, validated below so each gets its own error.
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    limit: Option<String>,
    before: Option<String>,
}

fn parse_limit(raw: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = raw else {
        return Ok(HISTORY_DEFAULT_LIMIT);
    };
    match raw.parse::<usize>() {
        Ok(limit) if (1..=HISTORY_MAX_LIMIT).contains(&limit) => Ok(limit),
        _ => Err(ApiError::InvalidLimit {
            max: HISTORY_MAX_LIMIT,
        }),
    }
}

pub async fn history(
    query: web::Query<HistoryQuery>,
    store: web::Data<dyn Store>,
    cache: web::Data<CachePolicy>,
) -> Result<HttpResponse, ApiError> {
    let limit = parse_limit(query.limit.as_deref())?;
    let page = store
        .history(HistoryPage {
            limit,
            before: query.before.as_deref(),
        })
        .await?;
    let mut response = HttpResponse::Ok();
    response.insert_header(CacheControl(vec![
        CacheDirective::Public,
        CacheDirective::MaxAge(cache.history_max_age),
    ]));
    if let Some(last) = page.last().filter(|_| page.len() == limit) {
        // Ids are digits or hex, so they need no escaping in the URL.
        response.insert_header((
            header::LINK,
            format!("</history?limit={limit}&before={}>; rel=\"next\"", last.id),
        ));
    }
    Ok(response.json(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_and_bounds() {
        assert_eq!(parse_limit(None).unwrap(), HISTORY_DEFAULT_LIMIT);
        assert_eq!(parse_limit(Some("500")).unwrap(), 500);
        for bad in ["0", "501", "-1", "ten", "", "1e2"] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad}");
        }
    }
}
