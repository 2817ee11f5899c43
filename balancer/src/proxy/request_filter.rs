//! Phase 1, the request filter: what the edge answers itself (tunnels, protocol switches,
//! private paths, HTTP/2 header lists over the head bound), and whether the rest goes through
//! the cache or around it.

use actix_web::HttpRequest;
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
    if req.version() == Version::HTTP_2 && header_list_size(req) > MAX_HEAD_BYTES {
        return Err(ProxyError::HeadersTooLarge);
    }
    if *req.method() == Method::CONNECT {
        return Err(ProxyError::ConnectRefused);
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
