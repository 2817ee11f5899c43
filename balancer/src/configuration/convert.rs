//! Validation shared by the sections: each function turns one setting's raw value into its
//! typed form, or refuses it with an error naming the key. The bounds shared with the admin
//! API come from [`crate::limits`].

use std::fmt::Display;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use super::{ConfigError, invalid};
use crate::limits;

pub type Checked<T> = Result<T, ConfigError>;

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

pub fn worker_count(field: &str, count: usize) -> Checked<usize> {
    limits::check_workers(count).map_err(|e| invalid(field, e.to_string()))
}

pub fn prefix(field: &str, prefix: String) -> Checked<String> {
    limits::check_prefix(&prefix).map_err(|e| invalid(field, e.to_string()))?;
    Ok(prefix)
}

pub fn prefixes(field: &str, list: Vec<String>) -> Checked<Vec<String>> {
    let indexed = list.into_iter().enumerate();
    indexed
        .map(|(i, p)| prefix(&format!("{field}[{i}]"), p))
        .collect()
}
