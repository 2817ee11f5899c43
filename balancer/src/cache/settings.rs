//! The `[cache]` settings: bounds, freshness and invalidation rules.

use std::time::Duration;

use actix_web::http::header::HeaderName;

use super::{PurgeRule, PurgeRuleFile, TtlRuleFile, purge_rules, ttl_rules};
use crate::configuration::convert::{Checked, keep, millis, positive_ms};
use crate::configuration::{invalid, section};

section! {
    /// `[cache]`: bounds, freshness and invalidation rules.
    CacheLayer => CacheSettings, "cache." {
        /// Cache size bound in bytes (0 disables the cache).
        #[arg(long = "cache-max-bytes", env = "BALANCER_CACHE_MAX_BYTES", value_name = "BYTES")]
        max_bytes: u64 = 64 << 20 => max_bytes: u64 = keep,
        #[arg(skip)]
        max_entry_bytes: u64 = 1 << 20 => max_entry_bytes: u64 = keep,
        /// TTL when neither the response nor a rule gives one.
        #[arg(skip)]
        default_ttl_ms: u64 = 0 => default_ttl: Duration = millis,
        /// How long past its TTL an entry may be served STALE.
        #[arg(skip)]
        stale_ms: u64 = 30_000 => stale: Duration = millis,
        /// How long concurrent misses wait for the first fetch.
        #[arg(skip)]
        lock_timeout_ms: u64 = 5000 => lock_timeout: Duration = positive_ms,
        /// The balancer's own targeted cache-control field (RFC 9213), read before
        /// `CDN-Cache-Control`; empty for none.
        #[arg(skip)]
        targeted_field: String = String::new() => targeted_field: Option<HeaderName> = optional_header_name,
        #[arg(skip)]
        rules: Vec<TtlRuleFile> = vec![TtlRuleFile { prefix: "/history".into(), ttl_ms: 2000 }]
            => rules: Vec<(String, Duration)> = ttl_rules,
        #[arg(skip)]
        purge: Vec<PurgeRuleFile> = vec![PurgeRuleFile {
            method: "POST".into(), prefix: "/analyze".into(), purges: vec!["/history".into()],
        }] => purge: Vec<PurgeRule> = purge_rules,
    }
    check check_cache
}

/// An entry fits in the cache, and its size in the 32-bit weight moka keeps.
fn check_cache(c: &CacheSettings) -> Checked<()> {
    if c.max_bytes > 0 && c.max_entry_bytes > c.max_bytes {
        return Err(invalid(
            "cache.max_entry_bytes",
            "must be <= cache.max_bytes",
        ));
    }
    if c.max_entry_bytes > u64::from(u32::MAX) {
        return Err(invalid("cache.max_entry_bytes", "must fit in 32 bits"));
    }
    Ok(())
}

/// A header field name, or none when empty.
fn optional_header_name(field: &str, text: String) -> Checked<Option<HeaderName>> {
    if text.is_empty() {
        return Ok(None);
    }
    HeaderName::from_bytes(text.as_bytes())
        .map(Some)
        .map_err(|_| invalid(field, "must be a header field name"))
}
