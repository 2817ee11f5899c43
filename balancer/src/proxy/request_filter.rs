//! Phase 1, the request filter: what the edge answers itself (tunnels, TRACE, protocol switches,
//! private paths, malformed HTTP/2 requests), and whether the rest goes through the cache or
//! around it.

use actix_web::HttpRequest;
use actix_web::http::{Method, Version, header};

use super::body::RequestFraming;
use super::state::ProxyState;
use super::{ProxyError, http2_request};
use crate::cache::HttpCache;

/// Where an admitted request goes next.
pub enum Route<'a> {
    /// A bodiless GET or HEAD with the cache on: look it up.
    Cache(&'a HttpCache),
    /// Everything else: forwarded with its body, `X-Cache: BYPASS`.
    Bypass(RequestFraming),
}

/// Refuses what never reaches a backend; routes the rest.
pub fn route<'a>(req: &HttpRequest, state: &'a ProxyState) -> Result<Route<'a>, ProxyError> {
    if *req.method() == Method::CONNECT {
        return Err(ProxyError::ConnectRefused);
    }
    if req.version() == Version::HTTP_2 {
        http2_request::check(req)?;
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
