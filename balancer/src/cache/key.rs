//! Cache keys: method (GET or HEAD), scheme, host, path and query, plus the values of the
//! request headers named by the response's `Vary` (learnt per primary key).

use actix_web::HttpRequest;
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};

use crate::proxy::{ListenerScheme, request_host};

/// One cache entry's identity. Host, path and query share one allocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    head: bool,
    /// An https page may differ from the http one (links, redirects), so they never share.
    scheme: ListenerScheme,
    /// `host` followed by the path and query.
    text: Box<str>,
    path_start: usize,
    vary: Box<[(HeaderName, Option<HeaderValue>)]>,
}

impl CacheKey {
    /// The key without `Vary` values, or `None` for methods that are never cached.
    pub fn primary(req: &HttpRequest) -> Option<Self> {
        let head = match *req.method() {
            Method::GET => false,
            Method::HEAD => true,
            _ => return None,
        };
        let host = request_host(req)
            .and_then(|h| std::str::from_utf8(h).ok())
            .unwrap_or_default();
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let mut text = String::with_capacity(host.len() + path.len());
        text.push_str(host);
        text.push_str(path);
        Some(Self {
            head,
            scheme: ListenerScheme::of(req),
            text: text.into_boxed_str(),
            path_start: host.len(),
            vary: Box::default(),
        })
    }

    /// This key refined with the request's values of the `Vary` header names.
    pub fn with_vary(&self, names: &[HeaderName], req: &HttpRequest) -> Self {
        let vary = names
            .iter()
            .map(|name| (name.clone(), req.headers().get(name).cloned()))
            .collect();
        Self {
            vary,
            ..self.clone()
        }
    }

    /// The same key without the `Vary` part.
    pub fn to_primary(&self) -> Self {
        Self {
            vary: Box::default(),
            ..self.clone()
        }
    }

    /// Path and query, as used by purge prefixes.
    pub fn path(&self) -> &str {
        &self.text[self.path_start..]
    }

    pub fn is_head(&self) -> bool {
        self.head
    }

    /// Approximate heap bytes, for the size bound.
    pub fn weight(&self) -> usize {
        self.text.len()
            + self
                .vary
                .iter()
                .map(|(n, v)| n.as_str().len() + v.as_ref().map_or(0, |v| v.len()))
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header;
    use actix_web::test::TestRequest;

    #[test]
    fn key_separates_method_host_path_query_and_vary() {
        let get = TestRequest::get()
            .uri("/history?limit=5")
            .insert_header((header::HOST, "a"))
            .to_http_request();
        let key = CacheKey::primary(&get).unwrap();
        assert_eq!(key.path(), "/history?limit=5");
        let other_query = TestRequest::get()
            .uri("/history?limit=6")
            .insert_header((header::HOST, "a"))
            .to_http_request();
        assert_ne!(key, CacheKey::primary(&other_query).unwrap());
        let other_host = TestRequest::get()
            .uri("/history?limit=5")
            .insert_header((header::HOST, "b"))
            .to_http_request();
        assert_ne!(key, CacheKey::primary(&other_host).unwrap());
        let head = TestRequest::default()
            .method(Method::HEAD)
            .uri("/history?limit=5")
            .insert_header((header::HOST, "a"))
            .to_http_request();
        assert_ne!(key, CacheKey::primary(&head).unwrap());
        assert!(CacheKey::primary(&TestRequest::post().to_http_request()).is_none());

        let gzip = TestRequest::get()
            .uri("/history?limit=5")
            .insert_header((header::HOST, "a"))
            .insert_header((header::ACCEPT_ENCODING, "gzip"))
            .to_http_request();
        let names = [header::ACCEPT_ENCODING];
        let varied = key.with_vary(&names, &gzip);
        assert_ne!(varied, key.with_vary(&names, &get));
        assert_eq!(varied.to_primary(), key);
    }
}
