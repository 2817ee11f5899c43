//! Backend addresses: parsing `http://host:port` (or `host:port`) into the authority the proxy
//! connects to and the base URL the health prober appends its path to.

use std::fmt;

use actix_web::http::uri::Authority;

/// Why a backend address was refused.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error("`{0}`: only http:// upstreams are supported")]
    Scheme(String),
    #[error("`{0}`: expected http://HOST:PORT with no path")]
    Shape(String),
}

/// `host:port` of an upstream (what the proxy connects to), and its base URL for health checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendAddress {
    authority: String,
    base_url: String,
}

impl BackendAddress {
    /// Accepts `http://host:port`, `http://host:port/` or `host:port`.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let text = text.trim();
        let rest = match text.split_once("://") {
            Some(("http", rest)) => rest,
            Some(_) => return Err(AddressError::Scheme(text.into())),
            None => text,
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let valid = match authority.rsplit_once(':') {
            Some((host, port)) => {
                !host.is_empty()
                    && !host.contains(['/', '@', '?', '#'])
                    && port.parse::<u16>().is_ok_and(|p| p != 0)
            }
            None => false,
        };
        if !valid || authority.parse::<Authority>().is_err() {
            return Err(AddressError::Shape(text.into()));
        }
        Ok(Self {
            authority: authority.to_owned(),
            base_url: format!("http://{authority}"),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.authority
    }

    /// `http://host:port`, to which the health-check path is appended.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

impl fmt::Display for BackendAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.authority)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_normalise() {
        for text in [
            "http://127.0.0.1:9101",
            "http://127.0.0.1:9101/",
            "127.0.0.1:9101",
        ] {
            let address = BackendAddress::parse(text).unwrap();
            assert_eq!(address.as_str(), "127.0.0.1:9101");
            assert_eq!(address.base_url(), "http://127.0.0.1:9101");
        }
        for bad in ["https://a:1", "http://a", "http://a:1/x", "a:0", ":80"] {
            assert!(BackendAddress::parse(bad).is_err(), "{bad}");
        }
    }
}
