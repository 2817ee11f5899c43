//! Reading the `POST /analyze` body by hand, so that every way it can be wrong gets its own
//! precise error (actix's `Json` extractor folds several of them into plain-text answers).

use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web::{self, BytesMut};
use futures_util::StreamExt;
use serde_json::Value;

use crate::configuration::Limits;
use crate::error::ApiError;

/// Accepts `application/json` and any `+json` type, with or without parameters.
pub fn require_json(request: &HttpRequest) -> Result<(), ApiError> {
    let mime = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<mime::Mime>().ok())
        .ok_or(ApiError::UnsupportedMediaType)?;
    let is_json = mime.type_() == mime::APPLICATION
        && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON));
    is_json.then_some(()).ok_or(ApiError::UnsupportedMediaType)
}

/// Reads the whole body, refusing it as soon as it passes the limit.
pub async fn read_bounded(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<BytesMut, ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| ApiError::IncompleteBody(error.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Extracts the text to analyse from `{"text": "..."}`, checking it against the limits.
pub fn text_to_analyse(body: &[u8], limits: &Limits) -> Result<String, ApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|error| ApiError::InvalidJson(error.to_string()))?;
    let text = match value {
        Value::Object(mut fields) => match fields.remove("text") {
            Some(Value::String(text)) => text,
            Some(_) => return Err(ApiError::InvalidText),
            None => return Err(ApiError::MissingText),
        },
        _ => return Err(ApiError::MissingText),
    };
    if text.trim().is_empty() {
        return Err(ApiError::EmptyText);
    }
    // Counting characters is only needed when the byte length could exceed the limit.
    if text.len() > limits.max_text_chars {
        let chars = text.chars().count();
        if chars > limits.max_text_chars {
            return Err(ApiError::TextTooLong {
                chars,
                limit: limits.max_text_chars,
            });
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_text_chars: 5,
        max_body_bytes: 100,
    };

    fn code(body: &str) -> &'static str {
        text_to_analyse(body.as_bytes(), &LIMITS)
            .unwrap_err()
            .code()
    }

    #[test]
    fn accepts_a_text_within_limits() {
        assert_eq!(
            text_to_analyse(r#"{"text":"héllo"}"#.as_bytes(), &LIMITS).unwrap(),
            "héllo"
        );
        assert_eq!(
            text_to_analyse(br#"{"text":"ok","extra":1}"#, &LIMITS).unwrap(),
            "ok"
        );
    }

    #[test]
    fn names_each_way_the_body_is_wrong() {
        assert_eq!(code("{"), "invalid_json");
        assert_eq!(code(""), "invalid_json");
        assert_eq!(code("{}"), "missing_text");
        assert_eq!(code("[\"text\"]"), "missing_text");
        assert_eq!(code(r#"{"text":5}"#), "invalid_text");
        assert_eq!(code(r#"{"text":null}"#), "invalid_text");
        assert_eq!(code(r#"{"text":" \n\t "}"#), "empty_text");
        assert_eq!(code(r#"{"text":"toolong"}"#), "text_too_long");
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(text_to_analyse(r#"{"text":"ééééé"}"#.as_bytes(), &LIMITS).is_ok());
        assert_eq!(code(r#"{"text":"éééééé"}"#), "text_too_long");
    }
}
