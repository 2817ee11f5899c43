//! Heads between the two `http` crates in the tree: actix-http 3 speaks `http` 0.2, h2 0.4 (our
//! HTTP/2, `listener::http2`) speaks `http` 1.x. The types are the same grammar in two crates,
//! so a conversion re-reads bytes that are already valid; a value the other side refuses (none
//! should) is reported, never guessed at.

use actix_web::http::header::HeaderMap;
use actix_web::http::{Method, StatusCode, Uri};

/// A part of a head the other `http` crate refused.
#[derive(Debug, thiserror::Error)]
#[error("HTTP/2 request {0} not representable")]
pub struct Unrepresentable(&'static str);

/// A request head from h2 as actix-http's types.
pub fn request_head(
    parts: &http::request::Parts,
) -> Result<(Method, Uri, HeaderMap), Unrepresentable> {
    let method = Method::from_bytes(parts.method.as_str().as_bytes())
        .map_err(|_| Unrepresentable("method"))?;
    let mut uri = Uri::builder();
    if let (Some(scheme), Some(authority)) = (parts.uri.scheme_str(), parts.uri.authority()) {
        uri = uri.scheme(scheme).authority(authority.as_str());
    }
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let uri = uri
        .path_and_query(path)
        .build()
        .map_err(|_| Unrepresentable("target"))?;
    let mut headers = HeaderMap::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        if name == http::header::COOKIE {
            continue;
        }
        let name = actix_web::http::header::HeaderName::from_bytes(name.as_str().as_bytes())
            .map_err(|_| Unrepresentable("field name"))?;
        let value = actix_web::http::header::HeaderValue::from_bytes(value.as_bytes())
            .map_err(|_| Unrepresentable("field value"))?;
        headers.append(name, value);
    }
    if let Some(cookie) = joined_cookies(&parts.headers)? {
        headers.insert(actix_web::http::header::COOKIE, cookie);
    }
    Ok((method, uri, headers))
}

/// HTTP/2 clients may split `Cookie` into one field per pair (for HPACK's sake); the request
/// goes on as HTTP/1.1, where they must be one field joined with "; " (RFC 9113 section
/// 8.2.3): most servers read only the first of several.
fn joined_cookies(
    fields: &http::HeaderMap,
) -> Result<Option<actix_web::http::header::HeaderValue>, Unrepresentable> {
    let mut crumbs = fields.get_all(http::header::COOKIE).iter();
    let Some(first) = crumbs.next() else {
        return Ok(None);
    };
    let mut joined = first.as_bytes().to_vec();
    for crumb in crumbs {
        joined.extend_from_slice(b"; ");
        joined.extend_from_slice(crumb.as_bytes());
    }
    actix_web::http::header::HeaderValue::from_bytes(&joined)
        .map(Some)
        .map_err(|_| Unrepresentable("cookie"))
}

/// A status for h2.
pub fn status(status: StatusCode) -> http::StatusCode {
    http::StatusCode::from_u16(status.as_u16()).expect("a valid status is valid in both crates")
}

/// Appends a field to a head for h2, still marked sensitive if it was (HPACK then never
/// indexes it: `X-Request-Id`, see `proxy::response_filter`). Returns false, appending nothing,
/// when h2's types refuse it (they share actix-http's grammar, so no valid field is refused).
pub fn append_field(
    headers: &mut http::HeaderMap,
    name: &actix_web::http::header::HeaderName,
    value: &actix_web::http::header::HeaderValue,
) -> bool {
    let converted = http::HeaderName::from_bytes(name.as_str().as_bytes());
    let sensitive = value.is_sensitive();
    match (converted, http::HeaderValue::from_bytes(value.as_bytes())) {
        (Ok(name), Ok(mut value)) => {
            value.set_sensitive(sensitive);
            headers.append(name, value);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http2_request_head_keeps_its_target_and_fields_and_joins_its_cookies() {
        let request = http::Request::builder()
            .method("PATCH")
            .uri("https://example.test:8443/a/b?c=d")
            .header("accept", "text/html")
            .header("cookie", "a=1")
            .header("via", "1.1 one")
            .header("cookie", "b=2")
            .header("via", "1.1 two")
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let (method, uri, headers) = request_head(&parts).unwrap();
        assert_eq!(method, Method::PATCH);
        assert_eq!(uri.to_string(), "https://example.test:8443/a/b?c=d");
        let cookies: Vec<_> = headers
            .get_all("cookie")
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(cookies, ["a=1; b=2"]);
        let vias: Vec<_> = headers
            .get_all("via")
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(vias, ["1.1 one", "1.1 two"]);
        assert_eq!(headers.get("accept").unwrap(), "text/html");
    }

    #[test]
    fn a_target_without_authority_stays_origin_form() {
        let request = http::Request::builder().uri("/x?y").body(()).unwrap();
        let (parts, ()) = request.into_parts();
        let (_, uri, _) = request_head(&parts).unwrap();
        assert_eq!(uri.to_string(), "/x?y");
    }

    #[test]
    fn response_fields_cross_over_unchanged_sensitive_ones_still_sensitive() {
        let mut headers = http::HeaderMap::new();
        let name = actix_web::http::header::HeaderName::from_static("link");
        let value = actix_web::http::header::HeaderValue::from_static("</a.css>; rel=preload");
        let mut secret = value.clone();
        secret.set_sensitive(true);
        assert!(append_field(&mut headers, &name, &value));
        assert!(append_field(&mut headers, &name, &secret));
        let sensitive: Vec<_> = headers
            .get_all("link")
            .iter()
            .map(|v| v.is_sensitive())
            .collect();
        assert_eq!(sensitive, [false, true]);
        assert_eq!(status(StatusCode::from_u16(103).unwrap()).as_u16(), 103);
    }
}
