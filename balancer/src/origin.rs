//! What a request was addressed to: the scheme of the listener it came in on, and the host.
//! A leaf module: the listener sets the scheme, the proxy forwards it, the cache keys by it.

use actix_web::http::Version;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpMessage, HttpRequest};

/// The scheme a listener speaks, attached to each of its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenerScheme {
    Http,
    Https,
}

impl ListenerScheme {
    /// Set on the connection by actix-http (HTTP/1), on each request by our HTTP/2 dispatcher,
    /// which cannot set actix-http's connection data (so HTTP/1 requests skip that lookup).
    pub fn of(req: &HttpRequest) -> Self {
        let marked = match req.version() {
            Version::HTTP_2 => req.extensions().get::<Self>().copied(),
            _ => req.conn_data::<Self>().copied(),
        };
        marked.unwrap_or(Self::Http)
    }

    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            Self::Http => b"http",
            Self::Https => b"https",
        }
    }
}

/// The host asked for: `Host`, or HTTP/2's `:authority` (which h2 puts in the URI).
pub fn request_host(req: &HttpRequest) -> Option<&[u8]> {
    let authority = || req.uri().authority().map(|a| a.as_str().as_bytes());
    let host = req.headers().get(header::HOST);
    host.map(HeaderValue::as_bytes).or_else(authority)
}
