//! What an HTTP/2 request must be before the cache or a backend sees it, beyond what h2 checks
//! (pseudo-fields present and in order, no connection-specific fields): its header list within
//! the head bound, an `http` or `https` target with no user information, `*` for `OPTIONS`
//! only, an authority in `:authority` or `Host`, and a `Host` that is a host (RFC 9110 section
//! 7.2) naming `:authority`'s. Each is what the head guard holds an HTTP/1 request to; over
//! HTTP/2 h2 parses the head, so it is checked here.

use actix_web::http::uri::Authority;
use actix_web::http::{Method, header};
use actix_web::{HttpMessage, HttpRequest};

use super::ProxyError;
use crate::listener::{MAX_HEAD_BYTES, host_is_valid};

/// Marks a stream its client address had no place for (`proxy.max_streams_per_ip`).
pub struct OverStreamBudget;

/// Refuses a malformed HTTP/2 request, or one over its address's stream bound, with the error
/// it gets.
pub fn check(req: &HttpRequest) -> Result<(), ProxyError> {
    if req.extensions().contains::<OverStreamBudget>() {
        return Err(ProxyError::TooManyStreams);
    }
    if header_list_size(req) > MAX_HEAD_BYTES {
        return Err(ProxyError::HeadersTooLarge);
    }
    let uri = req.uri();
    if uri
        .scheme_str()
        .is_some_and(|scheme| scheme != "http" && scheme != "https")
    {
        return Err(ProxyError::Malformed(
            "`:scheme` must be http or https: nothing else is served here.",
        ));
    }
    if uri
        .authority()
        .is_some_and(|authority| authority.as_str().contains('@'))
    {
        return Err(ProxyError::Malformed(
            "`:authority` may not carry user information (RFC 9113 section 8.3.1).",
        ));
    }
    if uri.path() == "*" && req.method() != Method::OPTIONS {
        return Err(ProxyError::Malformed(
            "`*` is a request target for OPTIONS only (RFC 9113 section 8.3.1).",
        ));
    }
    let mut hosts = req.headers().get_all(header::HOST).peekable();
    if uri.authority().is_none() && hosts.peek().is_none() {
        return Err(ProxyError::Malformed(
            "An http or https request needs `:authority` or Host (RFC 9113 section 8.3.1).",
        ));
    }
    if !hosts.all(|host| host_is_valid(host.as_bytes())) {
        return Err(ProxyError::Malformed(
            "Host is not a valid host and optional port (RFC 9110 section 7.2).",
        ));
    }
    if !host_agrees_with_authority(req) {
        return Err(ProxyError::ConflictingHost);
    }
    Ok(())
}

/// An HTTP/2 request's header list as RFC 9113 section 6.5.2 sizes it (each field's name and
/// value plus 32), target included. The HTTP/1 head guard bounds heads as they arrive; an
/// HTTP/2 header block is bounded as sent (`listener::header_blocks`), but HPACK lets a few
/// bytes repeat a stored field, so what it decodes to is bounded here, before a backend sees it.
fn header_list_size(req: &HttpRequest) -> usize {
    let target = req
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    req.headers()
        .iter()
        .fold(target + 32, |size, (name, value)| {
            size + name.as_str().len() + value.len() + 32
        })
}

/// RFC 9113 section 8.3.1: an HTTP/2 request whose `Host` identifies another authority than its
/// `:authority` is malformed. Passed on, the HTTP/1.1 backend (which reads `Host`) and the cache
/// key would follow a host the request's `:authority` never named, the split that host-header
/// and cache-poisoning probes look for. Several `Host` fields are refused as over HTTP/1.1
/// (`listener::head_check`). A request with only one of the two is fine.
fn host_agrees_with_authority(req: &HttpRequest) -> bool {
    let mut hosts = req.headers().get_all(header::HOST);
    let Some(host) = hosts.next() else {
        return true;
    };
    if hosts.next().is_some() {
        return false;
    }
    let Some(authority) = req.uri().authority() else {
        return true;
    };
    Authority::try_from(host.as_bytes()).is_ok_and(|host| same_authority(&host, authority))
}

/// Host names compare without case, a missing port as 443: HTTP/2 is served over TLS only.
fn same_authority(a: &Authority, b: &Authority) -> bool {
    let port = |authority: &Authority| authority.port_u16().unwrap_or(443);
    a.host().eq_ignore_ascii_case(b.host()) && port(a) == port(b)
}
