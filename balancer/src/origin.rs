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

/// The host asked for: the request target's authority when it has one, else `Host`. A target
/// in absolute form (`GET http://a.example/ HTTP/1.1`) overrides `Host` (RFC 9112 section
/// 3.2.2: a proxy makes the `Host` it forwards from it); HTTP/2's `:authority` is in the URI
/// too (h2 puts it there), and a `Host` beside it that disagrees never gets this far
/// (`proxy::request_filter`).
pub fn request_host(req: &HttpRequest) -> Option<&[u8]> {
    match req.uri().authority() {
        // Without the user information a target may carry (RFC 9110 section 4.2.4).
        Some(authority) => authority.as_str().rsplit('@').next().map(str::as_bytes),
        None => req.headers().get(header::HOST).map(HeaderValue::as_bytes),
    }
}
