//! Invalidation on write: which cached URIs a successful unsafe request makes stale, by the
//! configured purge rules (path prefixes) and by RFC 9111 section 4.4 (the target URI and the
//! same-origin `Location` / `Content-Location` URIs).

use actix_web::http::Method;
use actix_web::http::header::{self, HeaderMap};
use std::sync::atomic::{AtomicU64, Ordering};

use url::Url;

use super::rules::PurgeRule;

/// The configured purge rules and, per prefix they purge, the epoch of its last purge.
///
/// Why epochs and not a scan: `invalidate_entries_if` on every `POST /analyze` (moka keeps the
/// predicate and tests it against every entry) was the largest single cost of a POST in the
/// balancer (`perf record` of `loadtest/bench-cpu --only stack`). An entry instead remembers
/// the epoch its fetch started in, and a lookup treats it as gone when a prefix covering its
/// path was purged later: O(number of configured prefixes) per lookup, nothing per entry.
#[derive(Debug)]
pub struct PurgeRules {
    rules: Vec<PurgeRule>,
    purged: Vec<(Box<str>, AtomicU64)>,
}

impl PurgeRules {
    pub fn new(rules: Vec<PurgeRule>) -> Self {
        let mut prefixes: Vec<&str> = rules
            .iter()
            .flat_map(|rule| rule.purges.iter().map(String::as_str))
            .collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        let purged = prefixes
            .into_iter()
            .map(|prefix| (prefix.into(), AtomicU64::new(0)))
            .collect();
        Self { rules, purged }
    }

    /// Prefixes to purge after a successful `method` request to `path`.
    pub fn prefixes_for<'a>(
        &'a self,
        method: &'a Method,
        path: &'a str,
    ) -> impl Iterator<Item = &'a str> {
        self.rules
            .iter()
            .filter(move |rule| rule.method == method && path.starts_with(rule.prefix.as_str()))
            .flat_map(|rule| rule.purges.iter().map(String::as_str))
    }

    /// Records the purges a successful `method` request to `path` makes at `epoch`.
    pub fn record_write(&self, method: &Method, path: &str, epoch: u64) {
        for prefix in self.prefixes_for(method, path) {
            if let Some((_, at)) = self.purged.iter().find(|(p, _)| **p == *prefix) {
                at.fetch_max(epoch, Ordering::AcqRel);
            }
        }
    }

    /// The epoch of the latest rule purge covering `path` (0 when none).
    pub fn last_purge_of(&self, path: &str) -> u64 {
        self.purged
            .iter()
            .filter(|(prefix, _)| path.starts_with(&**prefix))
            .map(|(_, at)| at.load(Ordering::Acquire))
            .max()
            .unwrap_or(0)
    }
}

/// The paths (with query) on `host` that an unsafe request to `target` invalidates when it is
/// answered with a non-error status: the target itself, and the `Location` and
/// `Content-Location` of the response when they resolve to the same host (a cache must not let
/// one origin invalidate another's entries).
pub fn invalidated_paths(host: &str, target: &str, response: &HeaderMap) -> Vec<String> {
    let mut paths = vec![target.to_owned()];
    let mut references = [header::LOCATION, header::CONTENT_LOCATION]
        .into_iter()
        .filter_map(|name| response.get(name)?.to_str().ok())
        .peekable();
    // Most writes name no other URI: no URL to parse then.
    if references.peek().is_none() {
        return paths;
    }
    let Ok(base) = Url::parse(&format!("http://{host}{target}")) else {
        return paths;
    };
    let named = references.filter_map(|reference| base.join(reference.trim()).ok());
    for uri in named {
        if uri.scheme() == base.scheme() && same_authority(&uri, &base) {
            let path = match uri.query() {
                Some(query) => format!("{}?{query}", uri.path()),
                None => uri.path().to_owned(),
            };
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
    }
    paths
}

fn same_authority(a: &Url, b: &Url) -> bool {
    a.host() == b.host() && a.port_or_known_default() == b.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::Layer;
    use actix_web::http::header::HeaderValue;

    #[test]
    fn default_rule_purges_history_after_analyze() {
        let rules = PurgeRules::new(Layer::default().validate().unwrap().cache.purge);
        let hit: Vec<_> = rules.prefixes_for(&Method::POST, "/analyze").collect();
        assert_eq!(hit, ["/history"]);
        assert_eq!(rules.prefixes_for(&Method::PUT, "/analyze").count(), 0);
        assert_eq!(rules.prefixes_for(&Method::POST, "/other").count(), 0);
    }

    fn response(location: &'static str, content_location: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::LOCATION, HeaderValue::from_static(location));
        headers.insert(
            header::CONTENT_LOCATION,
            HeaderValue::from_static(content_location),
        );
        headers
    }

    // RFC 9111 section 4.4
    #[test]
    fn target_and_same_origin_locations_are_invalidated() {
        let headers = response("/items/7?v=1", "http://example.com:80/items/7/view");
        assert_eq!(
            invalidated_paths("example.com", "/items?x=1", &headers),
            ["/items?x=1", "/items/7?v=1", "/items/7/view"]
        );
        // Relative references resolve against the target.
        let headers = response("sibling", "./other#frag");
        assert_eq!(
            invalidated_paths("example.com", "/dir/page", &headers),
            ["/dir/page", "/dir/sibling", "/dir/other"]
        );
    }

    // RFC 9111 section 4.4: "only ... if the host part is the same as in the target URI".
    #[test]
    fn other_origins_and_garbage_are_never_invalidated() {
        let headers = response(
            "http://elsewhere.example/items",
            "http://example.com:8080/x",
        );
        assert_eq!(
            invalidated_paths("example.com", "/items", &headers),
            ["/items"]
        );
        let headers = response("https://example.com/items/1", "http://[::1/broken");
        assert_eq!(invalidated_paths("example.com", "/a", &headers), ["/a"]);
        assert_eq!(
            invalidated_paths("example.com", "/a", &HeaderMap::new()),
            ["/a"]
        );
    }
}
