//! Whether responses carry `X-Upstream`: the `proxy.expose_upstream` setting and how it
//! resolves for a listener.

use std::net::SocketAddr;
use std::str::FromStr;

/// `auto` shows `X-Upstream` on a loopback listener (the local stack, where it helps) and
/// hides it on a public one, where it would disclose private addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExposeUpstream {
    Auto,
    Always,
    Never,
}

impl ExposeUpstream {
    pub fn resolve(self, listen: SocketAddr) -> bool {
        match self {
            Self::Auto => listen.ip().is_loopback(),
            Self::Always => true,
            Self::Never => false,
        }
    }
}

impl FromStr for ExposeUpstream {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "auto" => Ok(Self::Auto),
            "always" => Ok(Self::Always),
            "never" => Ok(Self::Never),
            other => Err(format!("`{other}` is not one of auto, always, never")),
        }
    }
}
