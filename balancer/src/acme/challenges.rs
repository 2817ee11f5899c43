//! HTTP-01 challenge tokens: the in-memory map from token to key authorization that the plain
//! listener answers at `/.well-known/acme-challenge/{token}` while an order is being
//! validated. A token is published for as long as its [`Published`] guard lives, so a failed
//! or abandoned order never leaves one behind.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use backend::contract::ErrorBody;

/// The path prefix every HTTP-01 validation request uses (RFC 8555 section 8.3).
pub const CHALLENGE_PATH: &str = "/.well-known/acme-challenge/";

/// The published tokens; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ChallengeTokens {
    tokens: Arc<RwLock<HashMap<String, String>>>,
}

impl ChallengeTokens {
    /// Publishes `token` with its key authorization until the guard is dropped.
    pub fn publish(&self, token: &str, key_authorization: &str) -> Published {
        self.tokens
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token.to_owned(), key_authorization.to_owned());
        Published {
            tokens: self.clone(),
            token: token.to_owned(),
        }
    }

    pub fn key_authorization(&self, token: &str) -> Option<String> {
        let tokens = self.tokens.read().unwrap_or_else(PoisonError::into_inner);
        tokens.get(token).cloned()
    }

    /// Registers the challenge route on an `App` (the plain listener's only): every path under
    /// the prefix, so an unknown one is refused here rather than proxied.
    pub fn configure(&self, config: &mut web::ServiceConfig) {
        config.app_data(web::Data::new(self.clone())).route(
            &format!("{CHALLENGE_PATH}{{token:.*}}"),
            web::get().to(answer),
        );
    }
}

/// Removes its token from the map when dropped.
#[must_use = "the token is withdrawn as soon as the guard is dropped"]
pub struct Published {
    tokens: ChallengeTokens,
    token: String,
}

impl Drop for Published {
    fn drop(&mut self) {
        let mut tokens = self
            .tokens
            .tokens
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        tokens.remove(&self.token);
    }
}

/// `GET /.well-known/acme-challenge/{token}`: the key authorization, or a JSON 404.
async fn answer(tokens: web::Data<ChallengeTokens>, token: web::Path<String>) -> HttpResponse {
    match tokens.key_authorization(&token) {
        Some(key_authorization) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, "application/octet-stream"))
            .insert_header((CACHE_CONTROL, "no-store"))
            .body(key_authorization),
        None => ErrorBody::new(
            "unknown_challenge",
            "No ACME challenge with this token is pending here.",
        )
        .respond(
            HttpResponse::build(StatusCode::NOT_FOUND).insert_header((CACHE_CONTROL, "no-store")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{App, test};

    #[actix_web::test]
    async fn a_published_token_is_answered_until_its_guard_drops() {
        let tokens = ChallengeTokens::default();
        let app = test::init_service(App::new().configure(|c| tokens.configure(c))).await;
        let published = tokens.publish("tok-1", "tok-1.thumbprint");
        let request = test::TestRequest::get()
            .uri("/.well-known/acme-challenge/tok-1")
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(test::read_body(response).await, "tok-1.thumbprint");

        drop(published);
        let request = test::TestRequest::get()
            .uri("/.well-known/acme-challenge/tok-1")
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body: ErrorBody = test::read_body_json(response).await;
        assert_eq!(body.error, "unknown_challenge");
    }

    #[actix_web::test]
    async fn an_unknown_token_is_a_json_404() {
        let tokens = ChallengeTokens::default();
        let _other = tokens.publish("known", "known.thumbprint");
        let app = test::init_service(App::new().configure(|c| tokens.configure(c))).await;
        let request = test::TestRequest::get()
            .uri("/.well-known/acme-challenge/unknown")
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            response.headers().get(CONTENT_TYPE).unwrap(),
            "application/json"
        );
    }
}
