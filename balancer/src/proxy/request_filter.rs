//! Phase 1, the request filter: what the edge answers itself (tunnels, TRACE, protocol switches,
//! private paths, HTTP/2 header lists over the head bound or with a `Host` that contradicts
//! `:authority`), and whether the rest goes through the cache or around it.

use actix_web::HttpRequest;
use actix_web::http::uri::Authority;
use actix_web::http::{Method, Version, header};

use super::ProxyError;
use super::body::RequestFraming;
use super::state::ProxyState;
use crate::cache::HttpCache;
use crate::listener::MAX_HEAD_BYTES;

/// Where an admitted request goes next.
pub enum Route<'a> {
    /// A bodiless GET or HEAD with the cache on: look it up.
    Cache(&'a HttpCache),
    /// Everything else: forwarded with its body, `X-Cache: BYPASS`.
    Bypass(RequestFraming),
}

/// Refuses what never reaches a backend; routes the rest.
pub fn route<'a>(req: &HttpRequest, state: &'a ProxyState) -> Result<Route<'a>, ProxyError> {
    if req.version() == Version::HTTP_2 {
        if header_list_size(req) > MAX_HEAD_BYTES {
            return Err(ProxyError::HeadersTooLarge);
        }
        if !host_agrees_with_authority(req) {
            return Err(ProxyError::ConflictingHost);
        }
    }
    if *req.method() == Method::CONNECT {
        return Err(ProxyError::ConnectRefused);
    }
    // As nginx does: a backend's echo of the request would hand its cookies and forwarded
    // headers to whatever script could send it (cross-site tracing).
    if *req.method() == Method::TRACE {
        return Err(ProxyError::TraceRefused);
    }
    // An h2c offer may be ignored (RFC 9113 section 3.1); any other switch would make
    // actix-http read the connection as a raw stream.
    if let Some(upgrade) = req.headers().get(header::UPGRADE)
        && !upgrade.as_bytes().trim_ascii().eq_ignore_ascii_case(b"h2c")
    {
        return Err(ProxyError::UpgradeRefused);
    }
    if state.private_paths.contains(req.path()) {
        return Err(ProxyError::PrivatePath);
    }
    let framing = RequestFraming::of(req);
    Ok(match &state.cache {
        Some(cache)
            if framing == RequestFraming::None
                && matches!(*req.method(), Method::GET | Method::HEAD) =>
        {
            Route::Cache(cache)
        }
        _ => Route::Bypass(framing),
    })
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
    // `Host` is `uri-host [":" port]` (RFC 9110 section 7.2): no user information.
    !host.as_bytes().contains(&b'@')
        && Authority::try_from(host.as_bytes()).is_ok_and(|host| same_authority(&host, authority))
}

/// Host names compare without case, a missing port as 443: HTTP/2 is served over TLS only.
fn same_authority(a: &Authority, b: &Authority) -> bool {
    let port = |authority: &Authority| authority.port_u16().unwrap_or(443);
    a.host().eq_ignore_ascii_case(b.host()) && port(a) == port(b)
}
