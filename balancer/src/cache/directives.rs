//! Response cache directives (RFC 9111 section 5.2.2, RFC 5861, RFC 9213): parsed from the most
//! specific field present, the balancer's own targeted field, then `CDN-Cache-Control`, then
//! `Cache-Control`.

use actix_web::http::header::{self, HeaderMap, HeaderName};

/// `CDN-Cache-Control` (RFC 9213): aimed at caches like this one.
pub const CDN_CACHE_CONTROL: HeaderName = HeaderName::from_static("cdn-cache-control");

/// The directives that matter to a shared cache.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Directives {
    pub no_store: bool,
    pub no_cache: bool,
    pub private: bool,
    pub public: bool,
    pub must_revalidate: bool,
    pub proxy_revalidate: bool,
    pub must_understand: bool,
    pub max_age: Option<u64>,
    pub s_maxage: Option<u64>,
    pub stale_while_revalidate: Option<u64>,
    pub stale_if_error: Option<u64>,
    /// Taken from a targeted field: `Expires` no longer counts (RFC 9213 section 2.1).
    pub targeted: bool,
}

impl Directives {
    /// The directives of the response whose headers are `headers`, reading the targeted fields
    /// first (`own` is the configured balancer-specific one); a targeted field that is not a
    /// valid list of directives is ignored.
    pub fn of_response(headers: &HeaderMap, own: Option<&HeaderName>) -> Self {
        for field in own.into_iter().chain([&CDN_CACHE_CONTROL]) {
            if headers.contains_key(field)
                && let Some(mut found) = parse(headers, field, true)
            {
                found.targeted = true;
                return found;
            }
        }
        Self::of(headers)
    }

    /// `Cache-Control` as it is, leniently (a malformed member is skipped).
    pub fn of(headers: &HeaderMap) -> Self {
        parse(headers, &header::CACHE_CONTROL, false).unwrap_or_default()
    }

    /// RFC 9111 section 4.2.4 and 5.2.2.2/5.2.2.8/5.2.2.10: never served stale.
    pub fn forbids_stale(&self) -> bool {
        self.must_revalidate || self.proxy_revalidate || self.s_maxage.is_some() || self.no_cache
    }
}

/// Seconds, saturating: a huge value means "for ever" rather than "invalid" (RFC 9111 1.2.2).
fn delta_seconds(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(value.parse().unwrap_or(u64::MAX))
}

/// `strict` refuses the field (RFC 9213 wants a Structured Field dictionary) where the lenient
/// `Cache-Control` reading skips a bad member.
fn parse(headers: &HeaderMap, field: &HeaderName, strict: bool) -> Option<Directives> {
    let mut found = Directives::default();
    for value in headers.get_all(field) {
        let Ok(value) = value.to_str() else {
            return (!strict).then_some(found);
        };
        for member in value.split(',') {
            let member = member.trim();
            if member.is_empty() {
                continue;
            }
            let (name, value) = match member.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (member, None),
            };
            let well_formed = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.*".contains(&b))
                && value.is_none_or(|v| !v.is_empty() && !v.starts_with(' '));
            if strict && !well_formed {
                return None;
            }
            let quoted = value.is_some_and(|v| v.starts_with('"'));
            let seconds = || {
                let v = value?;
                if strict && quoted {
                    return None;
                }
                delta_seconds(v.trim().trim_matches('"'))
            };
            let numeric = matches!(
                name.to_ascii_lowercase().as_str(),
                "max-age" | "s-maxage" | "stale-while-revalidate" | "stale-if-error"
            );
            if strict && numeric && seconds().is_none() {
                return None;
            }
            match name.to_ascii_lowercase().as_str() {
                "no-store" => found.no_store = true,
                "no-cache" => found.no_cache = true,
                "private" => found.private = true,
                "public" => found.public = true,
                "must-revalidate" => found.must_revalidate = true,
                "proxy-revalidate" => found.proxy_revalidate = true,
                "must-understand" => found.must_understand = true,
                "max-age" => found.max_age = seconds(),
                "s-maxage" => found.s_maxage = seconds(),
                "stale-while-revalidate" => found.stale_while_revalidate = seconds(),
                "stale-if-error" => found.stale_if_error = seconds(),
                _ => {}
            }
        }
    }
    Some(found)
}

#[cfg(test)]
pub(super) mod tests {
    //! RFC 9111 section 5.2.2 and RFC 9213 section 2.
    use super::*;
    use actix_web::http::header::HeaderValue;

    /// A header map of static name/value pairs, repeated names appended (also for policy's tests).
    pub(in crate::cache) fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    #[test]
    fn rfc9111_5_2_2_directives_are_read_case_insensitively_and_huge_ages_saturate() {
        let d = Directives::of(&map(&[(
            "cache-control",
            "Max-Age=60, s-maxage=\"5\", must-revalidate, stale-if-error=9",
        )]));
        assert_eq!(d.max_age, Some(60));
        assert_eq!(d.s_maxage, Some(5));
        assert!(d.must_revalidate && d.forbids_stale());
        assert_eq!(d.stale_if_error, Some(9));
        let huge = Directives::of(&map(&[("cache-control", "max-age=99999999999999999999")]));
        assert_eq!(huge.max_age, Some(u64::MAX));
        assert!(!Directives::of(&map(&[("cache-control", "max-age=60")])).forbids_stale());
    }

    #[test]
    fn rfc9213_targeted_fields_win_and_invalid_ones_are_ignored() {
        let own = HeaderName::from_static("balancer-cache-control");
        let both = map(&[
            ("cache-control", "no-store"),
            ("cdn-cache-control", "max-age=600"),
        ]);
        let d = Directives::of_response(&both, Some(&own));
        assert_eq!(
            (d.max_age, d.no_store, d.targeted),
            (Some(600), false, true)
        );
        let mine = map(&[
            ("cdn-cache-control", "max-age=600"),
            ("balancer-cache-control", "private"),
        ]);
        assert!(Directives::of_response(&mine, Some(&own)).private);
        for invalid in ["max-age=10000, &&&&&", "max-age=\"10000\"", "max-age =100"] {
            let mut headers = map(&[("cache-control", "no-store")]);
            headers.insert(CDN_CACHE_CONTROL, HeaderValue::from_static(invalid));
            let d = Directives::of_response(&headers, None);
            assert!(d.no_store && !d.targeted, "{invalid}");
        }
    }
}
