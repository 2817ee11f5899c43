//! The cache's configured rules as the file gives them and validated: default TTLs by path
//! prefix, and invalidation on write (after a successful unsafe `method` to `prefix`, the
//! entries under `purges` go).

use std::time::Duration;

use actix_web::http::Method;
use serde::Deserialize;

use crate::configuration::{ConfigError, checked_prefix, checked_prefixes, invalid};

/// Default TTL for responses under `prefix` that carry no freshness header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TtlRuleFile {
    pub prefix: String,
    pub ttl_ms: u64,
}

/// After a successful `method` request to a path under `prefix`, purge entries under `purges`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeRuleFile {
    #[serde(default = "default_purge_method")]
    pub method: String,
    pub prefix: String,
    pub purges: Vec<String>,
}

fn default_purge_method() -> String {
    "POST".into()
}

/// A validated invalidation-on-write rule.
#[derive(Debug, Clone)]
pub struct PurgeRule {
    pub method: Method,
    pub prefix: String,
    pub purges: Vec<String>,
}

pub fn ttl_rules(
    field: &str,
    rules: Vec<TtlRuleFile>,
) -> Result<Vec<(String, Duration)>, ConfigError> {
    let indexed = rules.into_iter().enumerate();
    indexed
        .map(|(i, rule)| {
            let prefix = checked_prefix(&format!("{field}[{i}].prefix"), rule.prefix)?;
            Ok((prefix, Duration::from_millis(rule.ttl_ms)))
        })
        .collect()
}

pub fn purge_rules(field: &str, rules: Vec<PurgeRuleFile>) -> Result<Vec<PurgeRule>, ConfigError> {
    let indexed = rules.into_iter().enumerate();
    indexed
        .map(|(i, rule)| purge_rule(&format!("{field}[{i}]"), rule))
        .collect()
}

fn purge_rule(field: &str, rule: PurgeRuleFile) -> Result<PurgeRule, ConfigError> {
    let method: Method = rule
        .method
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| invalid(format!("{field}.method"), "not an HTTP method"))?;
    if method.is_safe() {
        let reason = "must be an unsafe method (POST, PUT, PATCH, DELETE)";
        return Err(invalid(format!("{field}.method"), reason));
    }
    let prefix = checked_prefix(&format!("{field}.prefix"), rule.prefix)?;
    if rule.purges.is_empty() {
        return Err(invalid(format!("{field}.purges"), "must not be empty"));
    }
    let purges = checked_prefixes(&format!("{field}.purges"), rule.purges)?;
    Ok(PurgeRule {
        method,
        prefix,
        purges,
    })
}
