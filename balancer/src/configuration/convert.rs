//! Validation: each function turns one setting's raw value into its typed form, or refuses it
//! with an error naming the key. The bounds shared with the admin API come from
//! [`crate::limits`].

use std::fmt::Display;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use super::invalid;
use super::{BackendEntry, ConfigError, PurgeRule, PurgeRuleFile, StaticBackend, TtlRuleFile};
use crate::backends::BackendAddress;
use crate::limits;
use crate::proxy::{PrivatePaths, TrustedProxies};

type Checked<T> = Result<T, ConfigError>;

pub fn keep<T>(_: &str, value: T) -> Checked<T> {
    Ok(value)
}

/// Any value but zero.
pub fn positive<T: Default + PartialEq>(field: &str, value: T) -> Checked<T> {
    if value == T::default() {
        return Err(invalid(field, "must be > 0"));
    }
    Ok(value)
}

pub fn millis(_: &str, ms: u64) -> Checked<Duration> {
    Ok(Duration::from_millis(ms))
}

pub fn positive_ms(field: &str, ms: u64) -> Checked<Duration> {
    positive(field, ms).map(Duration::from_millis)
}

pub fn secs(_: &str, s: u64) -> Checked<Duration> {
    Ok(Duration::from_secs(s))
}

pub fn positive_secs(field: &str, s: u64) -> Checked<Duration> {
    positive(field, s).map(Duration::from_secs)
}

/// Text parsed by the type's own `FromStr`, whose error is the reason.
pub fn parsed<T: FromStr<Err: Display>>(field: &str, text: String) -> Checked<T> {
    text.parse()
        .map_err(|reason: T::Err| invalid(field, reason.to_string()))
}

pub fn address(field: &str, text: String) -> Checked<SocketAddr> {
    text.parse()
        .map_err(|_| invalid(field, format!("`{text}` is not an IP:PORT socket address")))
}

pub fn optional_address(field: &str, text: Option<String>) -> Checked<Option<SocketAddr>> {
    text.map(|text| address(field, text)).transpose()
}

pub fn non_blank(field: &str, text: Option<String>) -> Checked<Option<String>> {
    match text {
        Some(text) if text.trim().is_empty() => Err(invalid(field, "must not be empty")),
        other => Ok(other),
    }
}

/// 0 means one per CPU.
pub fn threads(_: &str, count: usize) -> Checked<usize> {
    Ok(match count {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    })
}

pub fn worker_count(field: &str, count: usize) -> Checked<usize> {
    limits::check_workers(count).map_err(|e| invalid(field, e.to_string()))
}

pub fn prefix(field: &str, prefix: String) -> Checked<String> {
    limits::check_prefix(&prefix).map_err(|e| invalid(field, e.to_string()))?;
    Ok(prefix)
}

fn prefixes(field: &str, list: Vec<String>) -> Checked<Vec<String>> {
    let indexed = list.into_iter().enumerate();
    indexed
        .map(|(i, p)| prefix(&format!("{field}[{i}]"), p))
        .collect()
}

pub fn private_paths(field: &str, list: Vec<String>) -> Checked<PrivatePaths> {
    prefixes(field, list).map(PrivatePaths::new)
}

pub fn static_backends(field: &str, list: Vec<BackendEntry>) -> Checked<Vec<StaticBackend>> {
    let indexed = list.into_iter().enumerate();
    indexed
        .map(|(i, entry)| static_backend(&format!("{field}[{i}]"), entry))
        .collect()
}

fn static_backend(field: &str, entry: BackendEntry) -> Checked<StaticBackend> {
    let (url, weight, name) = match entry {
        BackendEntry::Url(text) => match text.split_once("#weight=") {
            Some((url, weight)) => {
                let weight = weight
                    .parse()
                    .map_err(|_| invalid(field, format!("weight `{weight}` is not a number")))?;
                (url.to_owned(), weight, None)
            }
            None => (text, 1, None),
        },
        BackendEntry::Table {
            address,
            weight,
            name,
        } => (address, weight, name),
    };
    let weight = limits::check_weight(weight)
        .map_err(|e| invalid(format!("{field}.weight"), e.to_string()))?;
    if let Some(name) = &name {
        limits::check_name(name).map_err(|e| invalid(format!("{field}.name"), e.to_string()))?;
    }
    let address = BackendAddress::parse(&url).map_err(|e| invalid(field, e.to_string()))?;
    Ok(StaticBackend {
        address,
        weight,
        name,
    })
}

/// `10.0.0.0/8`, or a bare address meaning just itself.
pub fn networks(field: &str, list: Vec<String>) -> Checked<TrustedProxies> {
    let parse = |(i, text): (usize, String)| {
        let text = text.trim();
        text.parse::<ipnet::IpNet>()
            .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| {
                let reason = format!("`{text}` is not an address or CIDR network");
                invalid(format!("{field}[{i}]"), reason)
            })
    };
    let networks = list
        .into_iter()
        .enumerate()
        .map(parse)
        .collect::<Checked<_>>()?;
    Ok(TrustedProxies::new(networks))
}

pub fn ttl_rules(field: &str, rules: Vec<TtlRuleFile>) -> Checked<Vec<(String, Duration)>> {
    let indexed = rules.into_iter().enumerate();
    indexed
        .map(|(i, rule)| {
            let prefix = prefix(&format!("{field}[{i}].prefix"), rule.prefix)?;
            Ok((prefix, Duration::from_millis(rule.ttl_ms)))
        })
        .collect()
}

pub fn purge_rules(field: &str, rules: Vec<PurgeRuleFile>) -> Checked<Vec<PurgeRule>> {
    let indexed = rules.into_iter().enumerate();
    indexed
        .map(|(i, rule)| purge_rule(&format!("{field}[{i}]"), rule))
        .collect()
}

fn purge_rule(field: &str, rule: PurgeRuleFile) -> Checked<PurgeRule> {
    let method: actix_web::http::Method = rule
        .method
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| invalid(format!("{field}.method"), "not an HTTP method"))?;
    if method.is_safe() {
        let reason = "must be an unsafe method (POST, PUT, PATCH, DELETE)";
        return Err(invalid(format!("{field}.method"), reason));
    }
    let prefix = prefix(&format!("{field}.prefix"), rule.prefix)?;
    if rule.purges.is_empty() {
        return Err(invalid(format!("{field}.purges"), "must not be empty"));
    }
    let purges = prefixes(&format!("{field}.purges"), rule.purges)?;
    Ok(PurgeRule {
        method,
        prefix,
        purges,
    })
}
