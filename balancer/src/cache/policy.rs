//! What may be stored and for how long (RFC 9111 section 3 and 4.2): request bypass rules,
//! storable methods and statuses, the directives that forbid storing, and the freshness sources
//! in order: explicit, the per-path rules, the heuristic, the configured default.

use std::time::Duration;

use actix_web::http::header::{self, HeaderMap, HeaderName};
use actix_web::http::{Method, StatusCode};

use super::CacheSettings;
use super::directives::Directives;
use super::freshness::Expiry;

/// Statuses that may be given a heuristic (or configured) lifetime (RFC 9110 section 15.1);
/// 302 keeps the per-path rules it always had.
fn heuristically_cacheable(status: StatusCode) -> bool {
    matches!(
        status.as_u16(),
        200 | 203 | 204 | 300 | 301 | 302 | 308 | 404 | 405 | 410 | 414 | 501
    )
}

/// Freshness decisions, built once from configuration.
#[derive(Debug)]
pub struct CachePolicy {
    default_ttl: Duration,
    /// (path prefix, TTL), longest prefix first.
    rules: Vec<(String, Duration)>,
    max_entry_bytes: u64,
    /// The balancer's own targeted cache-control field, read before `CDN-Cache-Control`.
    targeted_field: Option<HeaderName>,
}

impl CachePolicy {
    pub fn new(settings: &CacheSettings) -> Self {
        let mut rules = settings.rules.clone();
        rules.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        Self {
            default_ttl: settings.default_ttl,
            rules,
            max_entry_bytes: settings.max_entry_bytes,
            targeted_field: settings.targeted_field.clone(),
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
        let cc = Directives::of(headers);
        cc.no_cache || cc.no_store
    }

    /// How the response may be stored, or `None` if it must not be: its freshness lifetime and
    /// initial age. A response without freshness is kept only when it can be revalidated.
    pub fn expiry(
        &self,
        method: &Method,
        status: StatusCode,
        path: &str,
        headers: &HeaderMap,
    ) -> Option<Expiry> {
        let final_status = !status.is_informational()
            && !matches!(
                status,
                StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
            );
        if !(final_status && matches!(*method, Method::GET | Method::HEAD)) {
            return None;
        }
        // `Vary: *` never matches a later request.
        self.vary_names(headers)?;
        let too_big = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|len| len > self.max_entry_bytes);
        if too_big {
            return None;
        }
        let cc = Directives::of_response(headers, self.targeted_field.as_ref());
        // must-understand lets a cache that knows the status ignore no-store (5.2.2.3).
        let understood = status.canonical_reason().is_some();
        if cc.must_understand && !understood {
            return None;
        }
        if (cc.no_store && !cc.must_understand) || cc.private {
            return None;
        }
        let implicit = heuristically_cacheable(status) || cc.public;
        let expiry = Expiry::of(&cc, headers, |heuristic| {
            implicit.then(|| {
                self.rule_ttl(path)
                    .or(heuristic)
                    .unwrap_or(self.default_ttl)
            })
        })?;
        let validators =
            headers.contains_key(header::ETAG) || headers.contains_key(header::LAST_MODIFIED);
        (validators || expiry.is_fresh(expiry.initial_age)).then_some(expiry)
    }

    fn rule_ttl(&self, path: &str) -> Option<Duration> {
        self.rules
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix.as_str()))
            .map(|(_, ttl)| *ttl)
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
    //! RFC 9111 section 3 (storing) and 4.2.1-4.2.2 (freshness sources).
    use super::*;
    use crate::cache::directives::tests::map as headers;
    use crate::configuration::Layer;

    fn policy() -> CachePolicy {
        CachePolicy::new(&Layer::default().validate().unwrap().cache)
    }

    fn ttl_for(status: u16, path: &str, pairs: &[(&'static str, &'static str)]) -> Option<u64> {
        let status = StatusCode::from_u16(status).unwrap();
        policy()
            .expiry(&Method::GET, status, path, &headers(pairs))
            .map(|e| e.lifetime.as_secs())
    }

    fn ttl(path: &str, pairs: &[(&'static str, &'static str)]) -> Option<u64> {
        ttl_for(200, path, pairs)
    }

    #[test]
    fn rfc9111_3_cache_control_is_honoured() {
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
            ttl("/a", &[("cache-control", "max-age=9"), ("vary", "*")]),
            None
        );
    }

    #[test]
    fn rfc9111_3_set_cookie_no_longer_prevents_storing() {
        assert_eq!(
            ttl(
                "/a",
                &[("cache-control", "max-age=9"), ("set-cookie", "a=b")]
            ),
            Some(9)
        );
    }

    #[test]
    fn rfc9111_5_2_2_4_no_cache_is_stored_for_revalidation_only_with_a_validator() {
        assert_eq!(
            ttl(
                "/a",
                &[("cache-control", "no-cache, max-age=60"), ("etag", "\"x\"")]
            ),
            Some(0)
        );
        assert_eq!(
            ttl("/a", &[("cache-control", "no-cache, max-age=60")]),
            None
        );
        assert_eq!(
            ttl("/a", &[("cache-control", "max-age=0"), ("etag", "\"x\"")]),
            Some(0)
        );
    }

    #[test]
    fn rfc9111_5_2_2_3_must_understand_overrides_no_store_for_known_statuses() {
        let cc = [("cache-control", "must-understand, no-store, max-age=60")];
        assert_eq!(ttl_for(200, "/a", &cc), Some(60));
        assert_eq!(ttl_for(599, "/a", &cc), None);
    }

    #[test]
    fn per_path_defaults_apply_without_headers() {
        assert_eq!(ttl("/history?limit=3", &[]), Some(2));
        assert_eq!(ttl("/other", &[]), None);
    }

    #[test]
    fn rfc9111_4_2_2_heuristic_freshness_only_for_heuristically_cacheable_statuses() {
        let lm = [("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT")];
        assert_eq!(ttl_for(200, "/a", &lm), Some(24 * 3600));
        assert_eq!(ttl_for(404, "/a", &lm), Some(24 * 3600));
        assert_eq!(ttl_for(599, "/a", &lm), None);
        let public = [
            ("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ("cache-control", "public"),
        ];
        assert_eq!(ttl_for(599, "/a", &public), Some(24 * 3600));
    }

    #[test]
    fn rfc9111_3_other_final_statuses_need_explicit_freshness() {
        let h = [("cache-control", "max-age=60")];
        for status in [200, 203, 204, 299, 400, 500, 502, 503, 599] {
            assert_eq!(ttl_for(status, "/", &h), Some(60), "{status}");
        }
        for status in [206, 304] {
            assert_eq!(ttl_for(status, "/", &h), None, "{status}");
        }
        assert_eq!(ttl_for(500, "/", &[]), None);
        let p = policy();
        let h = headers(&h);
        assert!(p.expiry(&Method::POST, StatusCode::OK, "/", &h).is_none());
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
