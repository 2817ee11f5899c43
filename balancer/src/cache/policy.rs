//! What may be cached and for how long: request bypass rules, `Cache-Control` (`no-store`,
//! `private`, `no-cache`, `max-age`, `s-maxage`), cacheable statuses, and per-path default TTLs.

use std::time::Duration;

use actix_web::http::header::{self, HeaderMap, HeaderName};
use actix_web::http::{Method, StatusCode};

use crate::configuration::CacheSettings;

/// Cache-Control directives that matter to a shared cache.
#[derive(Debug, Default, PartialEq, Eq)]
struct Directives {
    no_store: bool,
    no_cache: bool,
    private: bool,
    max_age: Option<u64>,
    s_maxage: Option<u64>,
}

fn directives(headers: &HeaderMap) -> Directives {
    let mut found = Directives::default();
    let values = headers
        .get_all(header::CACHE_CONTROL)
        .filter_map(|v| v.to_str().ok());
    for directive in values.flat_map(|v| v.split(',')) {
        let (name, value) = match directive.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
            None => (directive.trim(), None),
        };
        let seconds = || value.and_then(|v| v.parse().ok());
        match name.to_ascii_lowercase().as_str() {
            "no-store" => found.no_store = true,
            "no-cache" => found.no_cache = true,
            "private" => found.private = true,
            "max-age" => found.max_age = seconds(),
            "s-maxage" => found.s_maxage = seconds(),
            _ => {}
        }
    }
    found
}

/// Freshness decisions, built once from configuration.
#[derive(Debug)]
pub struct CachePolicy {
    default_ttl: Duration,
    /// (path prefix, TTL), longest prefix first.
    rules: Vec<(String, Duration)>,
    max_entry_bytes: u64,
}

impl CachePolicy {
    pub fn new(settings: &CacheSettings) -> Self {
        let mut rules = settings.rules.clone();
        rules.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        Self {
            default_ttl: settings.default_ttl,
            rules,
            max_entry_bytes: settings.max_entry_bytes,
        }
    }

    /// A request the cache must not answer: credentials, or an explicit no-cache from the client.
    pub fn request_bypasses(&self, headers: &HeaderMap) -> bool {
        if headers.contains_key(header::AUTHORIZATION) {
            return true;
        }
        let pragma_no_cache = headers
            .get(header::PRAGMA)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"no-cache"));
        if pragma_no_cache {
            return true;
        }
        let cc = directives(headers);
        cc.no_cache || cc.no_store
    }

    /// How long a response may be served from cache, or `None` if it must not be stored.
    pub fn ttl(
        &self,
        method: &Method,
        status: StatusCode,
        path: &str,
        headers: &HeaderMap,
    ) -> Option<Duration> {
        let cacheable_status = matches!(status.as_u16(), 200 | 301 | 302 | 404);
        if !(cacheable_status && matches!(*method, Method::GET | Method::HEAD)) {
            return None;
        }
        if headers.contains_key(header::SET_COOKIE) || self.vary_names(headers).is_none() {
            return None;
        }
        let too_big = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|len| len > self.max_entry_bytes);
        if too_big {
            return None;
        }
        let cc = directives(headers);
        if cc.no_store || cc.no_cache || cc.private {
            return None;
        }
        let ttl = match cc.s_maxage.or(cc.max_age) {
            Some(seconds) => Duration::from_secs(seconds),
            None => self.default_ttl_for(path),
        };
        (!ttl.is_zero()).then_some(ttl)
    }

    fn default_ttl_for(&self, path: &str) -> Duration {
        self.rules
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix.as_str()))
            .map_or(self.default_ttl, |(_, ttl)| *ttl)
    }

    /// Header names listed by `Vary`; `None` for `Vary: *` (never cacheable).
    pub fn vary_names(&self, headers: &HeaderMap) -> Option<Vec<HeaderName>> {
        let mut names = Vec::new();
        for value in headers.get_all(header::VARY) {
            for name in value.to_str().ok()?.split(',') {
                let name = name.trim();
                if name == "*" {
                    return None;
                }
                if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                    names.push(name);
                }
            }
        }
        names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        names.dedup();
        Some(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::{FileConfig, Settings};
    use actix_web::http::header::HeaderValue;

    fn policy() -> CachePolicy {
        CachePolicy::new(&Settings::validate(FileConfig::default()).unwrap().cache)
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    fn ttl(path: &str, pairs: &[(&'static str, &'static str)]) -> Option<u64> {
        policy()
            .ttl(&Method::GET, StatusCode::OK, path, &headers(pairs))
            .map(|d| d.as_secs())
    }

    #[test]
    fn cache_control_is_honoured() {
        assert_eq!(
            ttl("/a", &[("cache-control", "public, max-age=60")]),
            Some(60)
        );
        assert_eq!(
            ttl("/a", &[("cache-control", "max-age=60, s-maxage=5")]),
            Some(5)
        );
        assert_eq!(ttl("/a", &[("cache-control", "no-store")]), None);
        assert_eq!(ttl("/a", &[("cache-control", "private, max-age=60")]), None);
        assert_eq!(ttl("/a", &[("cache-control", "max-age=0")]), None);
        assert_eq!(
            ttl(
                "/a",
                &[("cache-control", "max-age=9"), ("set-cookie", "a=b")]
            ),
            None
        );
        assert_eq!(
            ttl("/a", &[("cache-control", "max-age=9"), ("vary", "*")]),
            None
        );
    }

    #[test]
    fn per_path_defaults_apply_without_headers() {
        assert_eq!(ttl("/history?limit=3", &[]), Some(2));
        assert_eq!(ttl("/other", &[]), None);
    }

    #[test]
    fn only_some_statuses_and_methods_are_stored() {
        let p = policy();
        let h = headers(&[("cache-control", "max-age=60")]);
        assert!(
            p.ttl(&Method::GET, StatusCode::NOT_FOUND, "/", &h)
                .is_some()
        );
        assert!(
            p.ttl(&Method::GET, StatusCode::INTERNAL_SERVER_ERROR, "/", &h)
                .is_none()
        );
        assert!(p.ttl(&Method::POST, StatusCode::OK, "/", &h).is_none());
    }

    #[test]
    fn requests_with_credentials_or_no_cache_bypass() {
        let p = policy();
        assert!(p.request_bypasses(&headers(&[("authorization", "Bearer x")])));
        assert!(p.request_bypasses(&headers(&[("cache-control", "no-cache")])));
        assert!(p.request_bypasses(&headers(&[("pragma", "no-cache")])));
        assert!(!p.request_bypasses(&headers(&[("cache-control", "max-age=0")])));
    }
}
