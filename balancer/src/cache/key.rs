//! Cache keys: method (GET or HEAD), scheme, host, path and query, plus the values of the request
//! headers named by the response's `Vary` (learnt per primary key), normalised where the field
//! allows it.

use actix_web::HttpRequest;
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::origin::{ListenerScheme, request_host};

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
        Some(Self::for_uri(head, ListenerScheme::of(req), host, path))
    }

    /// The key without `Vary` values of a GET (or, with `head`, HEAD) of `path` on `host`.
    pub fn for_uri(head: bool, scheme: ListenerScheme, host: &str, path: &str) -> Self {
        let mut text = String::with_capacity(host.len() + path.len());
        text.push_str(host);
        text.push_str(path);
        Self {
            head,
            scheme,
            text: text.into_boxed_str(),
            path_start: host.len(),
            vary: Box::default(),
        }
    }

    /// This key refined with the request's values of the `Vary` header names.
    pub fn with_vary(&self, names: &[HeaderName], req: &HttpRequest) -> Self {
        let vary = names
            .iter()
            .map(|name| (name.clone(), selecting_value(name, req.headers())))
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

    /// Host, path and query: the URI, whatever the method and variant.
    pub fn uri(&self) -> &str {
        &self.text
    }

    /// Path and query, as used by purge prefixes.
    pub fn path(&self) -> &str {
        &self.text[self.path_start..]
    }

    /// Whether this key names one variant of a URI whose responses vary.
    pub fn is_varied(&self) -> bool {
        !self.vary.is_empty()
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

/// Fields whose members are case-insensitive tokens (with parameters) in an order that carries
/// no meaning, their weights being in `q` (RFC 9110 sections 12.5.2-12.5.4).
const UNORDERED_TOKEN_LISTS: [HeaderName; 3] = [
    header::ACCEPT_CHARSET,
    header::ACCEPT_ENCODING,
    header::ACCEPT_LANGUAGE,
];

/// A request's value of a `Vary` field, normalised as RFC 9111 section 4.1 allows, so that
/// requests meaning the same select the same response: field lines combined, whitespace
/// around list members dropped, empty members ignored (RFC 9110 section 5.6.1); for the
/// unordered token lists also case and member order, and whitespace inside members.
fn selecting_value(name: &HeaderName, headers: &HeaderMap) -> Option<HeaderValue> {
    let mut lines = headers.get_all(name).peekable();
    lines.peek()?;
    let unordered = UNORDERED_TOKEN_LISTS.contains(name);
    let mut members: Vec<Vec<u8>> = lines
        .flat_map(|line| line.as_bytes().split(|b| *b == b','))
        .map(|member| {
            if unordered {
                member
                    .iter()
                    .filter(|b| !b.is_ascii_whitespace())
                    .map(u8::to_ascii_lowercase)
                    .collect()
            } else {
                member.trim_ascii().to_vec()
            }
        })
        .filter(|member| !member.is_empty())
        .collect();
    if unordered {
        members.sort_unstable();
    }
    HeaderValue::from_bytes(&members.join(&b',')).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn selecting(name: HeaderName, lines: &[&'static str]) -> Option<HeaderValue> {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(name.clone(), HeaderValue::from_static(line));
        }
        selecting_value(&name, &headers)
    }

    // RFC 9111 section 4.1: whitespace, combined field lines, case and order where allowed.
    #[test]
    fn vary_values_that_mean_the_same_select_the_same_response() {
        let language = |lines: &[&'static str]| selecting(header::ACCEPT_LANGUAGE, lines);
        let stored = language(&["en, de"]);
        for same in [
            &["de, en"][..],
            &["eN, De"],
            &[" en ,   de"],
            &["en", "de"],
            &["en,,de"],
        ] {
            assert_eq!(language(same), stored, "{same:?}");
        }
        assert_ne!(language(&["en, fr"]), stored);
        assert_eq!(
            selecting(header::ACCEPT_ENCODING, &["GZIP ; q=0.5, br"]),
            selecting(header::ACCEPT_ENCODING, &["br,gzip;q=0.5"])
        );

        let other = |lines: &[&'static str]| selecting(HeaderName::from_static("foo"), lines);
        assert_eq!(other(&[" 1, 2 "]), other(&["1,2"]));
        assert_eq!(other(&["1", "2"]), other(&["1, 2"]));
        // Elsewhere case and order may matter.
        assert_ne!(other(&["A"]), other(&["a"]));
        assert_ne!(other(&["1, 2"]), other(&["2, 1"]));
        // An empty field is not an absent one.
        assert_eq!(other(&[]), None);
        assert_eq!(other(&[""]), Some(HeaderValue::from_static("")));
    }
}
