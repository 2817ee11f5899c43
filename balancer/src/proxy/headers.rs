//! Header handling: hop-by-hop stripping both ways, `X-Forwarded-*` and `X-Request-Id` on the
//! way up, and the end-to-end response headers copied (or cached) on the way down.

use std::io::Write as _;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::header_names::{X_REQUEST_ID, X_UPSTREAM};
use crate::origin::{ListenerScheme, request_host};
use crate::upstream::RequestHead;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Connection-scoped headers (RFC 9110 section 7.6.1) never forwarded by a proxy (nor sent
/// over HTTP/2, RFC 9113 section 8.2.2).
pub fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// Extra names listed in a `Connection` header are hop-by-hop too. The usual `keep-alive` (what
/// nginx answers with) names a field dropped anyway, so it is skipped before parsing: the list
/// is then empty and allocates nothing.
fn connection_listed(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|option| !option.eq_ignore_ascii_case("keep-alive"))
        .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
        .collect()
}

/// Iterates the headers of `headers` that a proxy passes on, minus the framing ones (the body
/// is re-framed on each hop) and any in `also_skip`.
pub fn end_to_end<'a>(
    headers: &'a HeaderMap,
    also_skip: &'a [HeaderName],
) -> impl Iterator<Item = (&'a HeaderName, &'a HeaderValue)> {
    let passes = passed_on(headers, also_skip);
    headers.iter().filter(move |(name, _)| passes(name))
}

/// [`end_to_end`] in place: drops from `headers` what a proxy does not pass on. That is a field
/// or two (`Content-Length`, `Connection`), so each is found by a scan of the few keys and
/// removed, which allocates nothing (actix's `retain` collects every key into a `Vec` first).
pub fn keep_end_to_end(headers: &mut HeaderMap) {
    let passes = passed_on(headers, &[]);
    while let Some(name) = headers.keys().find(|name| !passes(name)).cloned() {
        headers.remove(name);
    }
}

/// Whether a header of `headers` is passed on: not hop-by-hop, not listed in `Connection`, not
/// framing, not in `also_skip`.
fn passed_on<'a>(
    headers: &HeaderMap,
    also_skip: &'a [HeaderName],
) -> impl Fn(&HeaderName) -> bool + 'a {
    let listed = if headers.contains_key(header::CONNECTION) {
        connection_listed(headers)
    } else {
        Vec::new()
    };
    move |name| {
        !is_hop_by_hop(name)
            && *name != header::CONTENT_LENGTH
            && !also_skip.contains(name)
            && !listed.contains(name)
    }
}

/// Request headers dropped when the cache fetches a full copy for itself (it serves the
/// client's range or conditional from that copy).
pub const CONDITIONAL: [HeaderName; 5] = [
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_MATCH,
    header::IF_RANGE,
    header::RANGE,
];

/// Response headers that describe one exchange, not the stored representation.
pub const PER_RESPONSE: [HeaderName; 3] = [X_REQUEST_ID, header::AGE, X_UPSTREAM];

/// Headers the proxy sets itself: a client's copies are dropped, or, from a trusted proxy,
/// passed on and extended.
const SET_BY_PROXY: [HeaderName; 4] = [
    X_FORWARDED_FOR,
    X_FORWARDED_PROTO,
    X_FORWARDED_HOST,
    X_REQUEST_ID,
];

/// Client-address headers a direct client could forge; only a trusted proxy's are kept.
const CLAIMED_BY_PROXIES: [HeaderName; 2] = [
    HeaderName::from_static("forwarded"),
    HeaderName::from_static("x-real-ip"),
];

/// Peers whose `X-Forwarded-*` headers are believed (`proxy.trusted_proxies`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<ipnet::IpNet>) -> Self {
        Self(networks)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn peer_is_trusted(req: &HttpRequest, trusted: &TrustedProxies) -> bool {
    !trusted.is_empty()
        && req
            .peer_addr()
            .is_some_and(|peer| trusted.contains(peer.ip()))
}

/// The client's address: the peer's, or behind trusted proxies the nearest address in
/// `X-Forwarded-For` that is not one of them (nginx's `real_ip_recursive`).
pub fn client_ip(req: &HttpRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !peer_is_trusted(req, trusted) {
        return Some(peer);
    }
    let hops: Vec<&str> = req
        .headers()
        .get_all(&X_FORWARDED_FOR)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(ip) => nearest = ip,
            Ok(ip) => return Some(ip),
            Err(_) => break,
        }
    }
    Some(nearest)
}

/// Writes the upstream request's headers: the client's end-to-end ones, then ours.
pub fn forward_request_headers(
    req: &HttpRequest,
    trusted_proxies: &TrustedProxies,
    upstream: &mut RequestHead,
    request_id: &HeaderValue,
    strip_conditionals: bool,
) {
    let skip: &[HeaderName] = if strip_conditionals {
        &CONDITIONAL
    } else {
        &[]
    };
    let trusted = peer_is_trusted(req, trusted_proxies);
    // A target with an authority (absolute form, HTTP/2) names the host; the client's `Host`
    // is replaced by it below.
    let target_names_host = req.uri().authority().is_some();
    for (name, value) in end_to_end(req.headers(), skip) {
        if target_names_host && name == header::HOST {
            continue;
        }
        let ours = SET_BY_PROXY.contains(name);
        let forgeable = CLAIMED_BY_PROXIES.contains(name);
        if !ours && (trusted || !forgeable) {
            upstream.header(name, &[value.as_bytes()]);
        }
    }
    let mut client_ip = [0u8; 48];
    let client_ip = match req.peer_addr() {
        Some(peer) => format_ip(peer.ip(), &mut client_ip),
        None => &[],
    };
    // Several X-Forwarded-For lines mean one comma-separated list (RFC 9110 section 5.3).
    let mut prior = req.headers().get_all(&X_FORWARDED_FOR).peekable();
    if trusted && prior.peek().is_some() {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(4);
        for value in prior {
            parts.extend([value.as_bytes(), b", "]);
        }
        parts.push(client_ip);
        upstream.header(&X_FORWARDED_FOR, &parts);
    } else {
        upstream.header(&X_FORWARDED_FOR, &[client_ip]);
    }
    let passed_on = |name: &HeaderName| {
        trusted
            .then(|| req.headers().get(name))
            .flatten()
            .map(HeaderValue::as_bytes)
    };
    let proto = passed_on(&X_FORWARDED_PROTO).unwrap_or_else(|| ListenerScheme::of(req).as_bytes());
    upstream.header(&X_FORWARDED_PROTO, &[proto]);
    let host = request_host(req);
    // An HTTP/1.1 backend needs `Host`; an HTTP/2 client may give only `:authority`.
    if let Some(authority) =
        host.filter(|_| target_names_host || !req.headers().contains_key(header::HOST))
    {
        upstream.header(&header::HOST, &[authority]);
    }
    if let Some(host) = passed_on(&X_FORWARDED_HOST).or(host) {
        upstream.header(&X_FORWARDED_HOST, &[host]);
    }
    upstream.header(&X_REQUEST_ID, &[request_id.as_bytes()]);
}

/// `ip` as text in `buf`, without allocating.
fn format_ip(ip: IpAddr, buf: &mut [u8; 48]) -> &[u8] {
    let IpAddr::V4(v4) = ip else {
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        // 48 bytes hold the longest IPv6 text (45), so the write cannot fail.
        let _ = write!(cursor, "{ip}");
        let end = cursor.position() as usize;
        return &buf[..end];
    };
    // By hand: `Display` takes each octet through the formatter's padding, about a thousand
    // instructions a request (callgrind, 2.4 % of a plain proxied request's).
    let mut end = 0;
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            buf[end] = b'.';
            end += 1;
        }
        let digits = [octet / 100, octet / 10 % 10, octet % 10];
        let first = match octet {
            100.. => 0,
            10.. => 1,
            _ => 2,
        };
        for digit in &digits[first..] {
            buf[end] = b'0' + digit;
            end += 1;
        }
    }
    &buf[..end]
}

/// Issues `X-Request-Id`s unique within this process and unlikely to repeat across restarts.
#[derive(Debug)]
pub struct RequestIds {
    prefix: u32,
    counter: AtomicU64,
}

impl Default for RequestIds {
    fn default() -> Self {
        let mut seed = [0u8; 4];
        // A fixed prefix only makes ids less unique across restarts; it is not a security property.
        let _ = getrandom::fill(&mut seed);
        Self {
            prefix: u32::from_ne_bytes(seed),
            counter: AtomicU64::new(0),
        }
    }
}

impl RequestIds {
    /// The client's id when it sent a usable one, otherwise a new one.
    pub fn for_request(&self, req: &HttpRequest) -> HeaderValue {
        if let Some(id) = req
            .headers()
            .get(X_REQUEST_ID)
            // The backend's own rule, so client, balancer and backend keep one id.
            .filter(|v| backend::contract::request_id::accepts(v.as_bytes()))
        {
            return id.clone();
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        // `pppppppp-nnnnnnnnnnnn` in hex, formatted by hand: this runs on every request. With
        // per-digit shifts of one u128 this function spent 670 instructions, now 175 (callgrind).
        let mut id = [b'-'; 21];
        write_hex(&mut id[..8], u64::from(self.prefix));
        write_hex(&mut id[9..], n);
        HeaderValue::from_bytes(&id).expect("hex digits are a valid header value")
    }
}

/// The low `out.len()` hex digits of `value`, most significant first.
fn write_hex(out: &mut [u8], mut value: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b"0123456789abcdef"[(value & 0xf) as usize];
        value >>= 4;
    }
}

#[cfg(test)]
mod tests;
