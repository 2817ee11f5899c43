//! Static backends as the configuration gives them: a `--backend` URL (`#weight=N` allowed)
//! or a file table with a weight and a name for `X-Upstream`, checked against the limits the
//! admin API shares.

use serde::Deserialize;

use crate::address::BackendAddress;
use crate::configuration::{ConfigError, invalid};
use crate::limits;

/// A static backend in the file: a bare URL (as `--backend` gives it, `#weight=N` allowed) or
/// a table with a weight and a name for `X-Upstream`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum BackendEntry {
    Url(String),
    Table {
        address: String,
        #[serde(default = "one")]
        weight: u64,
        name: Option<String>,
    },
}

impl From<String> for BackendEntry {
    fn from(url: String) -> Self {
        Self::Url(url)
    }
}

fn one() -> u64 {
    1
}

/// A configured upstream.
#[derive(Debug, Clone)]
pub struct StaticBackend {
    pub address: BackendAddress,
    pub weight: u32,
    pub name: Option<String>,
}

/// Validates the list under `field`; an error names the entry (`backends[1].weight`).
pub fn static_backends(
    field: &str,
    list: Vec<BackendEntry>,
) -> Result<Vec<StaticBackend>, ConfigError> {
    let indexed = list.into_iter().enumerate();
    indexed
        .map(|(i, entry)| static_backend(&format!("{field}[{i}]"), entry))
        .collect()
}

fn static_backend(field: &str, entry: BackendEntry) -> Result<StaticBackend, ConfigError> {
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
