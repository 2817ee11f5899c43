//! Header names and `X-Cache` values the proxy and the cache both write: a leaf module, so
//! neither has to import the other for them.

use actix_web::http::header::{HeaderName, HeaderValue};

/// Which backend answered (when responses name backends).
pub const X_UPSTREAM: HeaderName = HeaderName::from_static("x-upstream");
/// How the cache took part in the answer: one [`CacheStatus`].
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");
/// The request's id, passed upstream and echoed back.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// An `X-Cache` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Served from memory while fresh.
    Hit,
    /// Fetched upstream: not stored yet, being stored, or not storable.
    Miss,
    /// Served from memory past its TTL (being refreshed, or the upstream failed).
    Stale,
    /// Past its TTL and refreshed from the upstream by this request.
    Expired,
    /// Forwarded around the cache: the request opted out, or cannot be cached.
    Bypass,
}

impl CacheStatus {
    pub fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Hit => "HIT",
            Self::Miss => "MISS",
            Self::Stale => "STALE",
            Self::Expired => "EXPIRED",
            Self::Bypass => "BYPASS",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x_cache_values_are_the_documented_wire_values() {
        let values = [
            CacheStatus::Hit,
            CacheStatus::Miss,
            CacheStatus::Stale,
            CacheStatus::Expired,
            CacheStatus::Bypass,
        ]
        .map(CacheStatus::header_value);
        assert_eq!(values, ["HIT", "MISS", "STALE", "EXPIRED", "BYPASS"]);
    }
}
