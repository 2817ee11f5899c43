//! The JSON body of every error answer, from either binary: `{"error": code, "message":
//! sentence}`, where the code is a stable snake_case word for programs and the message a
//! sentence for people.

use actix_web::{HttpResponse, HttpResponseBuilder};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: code.into(),
            message: message.into(),
        }
    }

    /// Finishes `response` (status and headers already set) with this body as
    /// `application/json`.
    pub fn respond(self, response: &mut HttpResponseBuilder) -> HttpResponse {
        response.json(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;
    use actix_web::http::{StatusCode, header};

    #[actix_web::test]
    async fn the_body_has_exactly_error_and_message() {
        let response = ErrorBody::new("text_too_long", "The text is too long.")
            .respond(&mut HttpResponse::build(StatusCode::UNPROCESSABLE_ENTITY));
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        let bytes = to_bytes(response.into_body()).await.unwrap();
        assert_eq!(
            &bytes[..],
            br#"{"error":"text_too_long","message":"The text is too long."}"#
        );
        let parsed: ErrorBody = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            parsed,
            ErrorBody::new("text_too_long", "The text is too long.")
        );
    }

    #[test]
    fn a_body_with_another_shape_is_not_an_error_body() {
        assert!(serde_json::from_str::<ErrorBody>(r#"{"error":"x"}"#).is_err());
        assert!(serde_json::from_str::<ErrorBody>(r#"{"code":"x","message":"y"}"#).is_err());
    }
}
