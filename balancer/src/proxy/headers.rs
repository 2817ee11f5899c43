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

/// Connection-scoped headers (RFC 9110 section 7.6.1) never forwarded by a proxy.
fn is_hop_by_hop(name: &HeaderName) -> bool {
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
    for (name, value) in end_to_end(req.headers(), skip) {
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
    if let Some(authority) = host.filter(|_| !req.headers().contains_key(header::HOST)) {
        upstream.header(&header::HOST, &[authority]);
    }
    if let Some(host) = passed_on(&X_FORWARDED_HOST).or(host) {
        upstream.header(&X_FORWARDED_HOST, &[host]);
    }
    upstream.header(&X_REQUEST_ID, &[request_id.as_bytes()]);
}

/// `ip` as text in `buf`, without allocating.
fn format_ip(ip: IpAddr, buf: &mut [u8; 48]) -> &[u8] {
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    // 48 bytes hold the longest IPv6 text (45), so the write cannot fail.
    let _ = write!(cursor, "{ip}");
    let end = cursor.position() as usize;
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
        // `pppppppp-nnnnnnnnnnnn` in hex, formatted by hand: this runs on every request.
        let mut id = [b'-'; 21];
        let digits = u128::from(self.prefix) << 48 | u128::from(n & 0xffff_ffff_ffff);
        for (i, slot) in id.iter_mut().enumerate().filter(|(i, _)| *i != 8) {
            let shift = if i < 8 { 4 * (19 - i) } else { 4 * (20 - i) };
            *slot = b"0123456789abcdef"[((digits >> shift) & 0xf) as usize];
        }
        HeaderValue::from_bytes(&id).expect("hex digits are a valid header value")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::OutgoingBody;
    use actix_web::test::TestRequest;

    /// The header lines of the head written for `req`.
    fn forwarded(req: &HttpRequest, trusted: &TrustedProxies) -> Vec<String> {
        let mut head = RequestHead::new(req.method(), "/");
        forward_request_headers(
            req,
            trusted,
            &mut head,
            &HeaderValue::from_static("id-1"),
            false,
        );
        let wire = head.wire("backend:1", &OutgoingBody::Empty);
        let text = String::from_utf8(wire.to_vec()).unwrap();
        let mut lines: Vec<String> = text
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        lines.sort();
        lines
    }

    fn trusting(networks: &[&str]) -> TrustedProxies {
        TrustedProxies::new(networks.iter().map(|n| n.parse().unwrap()).collect())
    }

    #[test]
    fn hop_by_hop_connection_listed_and_forged_headers_are_dropped() {
        let req = TestRequest::get()
            .insert_header((header::CONNECTION, "keep-alive, x-secret"))
            .insert_header(("x-secret", "1"))
            .insert_header(("keep-alive", "timeout=5"))
            .insert_header((header::CONTENT_LENGTH, "0"))
            .insert_header(("x-kept", "yes"))
            .insert_header((header::HOST, "example.test"))
            .insert_header(("x-request-id", "from-client"))
            .insert_header(("x-forwarded-proto", "gopher"))
            .insert_header(("x-forwarded-for", "6.6.6.6"))
            .insert_header(("x-forwarded-host", "evil.test"))
            .insert_header(("forwarded", "for=6.6.6.6"))
            .insert_header(("x-real-ip", "6.6.6.6"))
            .peer_addr("10.1.2.3:999".parse().unwrap())
            .to_http_request();
        assert_eq!(
            forwarded(&req, &TrustedProxies::default()),
            [
                "host: example.test",
                "x-forwarded-for: 10.1.2.3",
                "x-forwarded-host: example.test",
                "x-forwarded-proto: http",
                "x-kept: yes",
                "x-request-id: id-1",
            ]
        );
    }

    #[test]
    fn a_response_keeps_its_end_to_end_headers_in_place_every_value_of_them() {
        let mut headers = HeaderMap::new();
        let fields = [
            ("connection", "close, x-hop"),
            ("x-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("content-length", "12"),
            ("content-type", "text/plain"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
        ];
        for (name, value) in fields {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let mut copied: Vec<_> = end_to_end(&headers, &[])
            .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap()))
            .collect();
        keep_end_to_end(&mut headers);
        let mut kept: Vec<_> = headers
            .iter()
            .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap()))
            .collect();
        kept.sort();
        assert_eq!(
            kept,
            [
                "content-type: text/plain",
                "set-cookie: a=1",
                "set-cookie: b=2"
            ]
        );
        copied.sort();
        assert_eq!(copied, kept, "the copying and the in-place filter agree");
    }

    #[test]
    fn a_trusted_proxys_headers_are_kept_and_extended() {
        let req = TestRequest::get()
            .append_header(("x-forwarded-for", "192.0.2.1"))
            .append_header(("x-forwarded-for", "192.0.2.2"))
            .insert_header(("x-forwarded-proto", "https"))
            .insert_header(("x-forwarded-host", "public.test"))
            .insert_header(("forwarded", "for=192.0.2.2"))
            .peer_addr("[2001:db8::1]:999".parse().unwrap())
            .to_http_request();
        let lines = forwarded(&req, &trusting(&["2001:db8::/64"]));
        assert!(lines.contains(&"x-forwarded-for: 192.0.2.1, 192.0.2.2, 2001:db8::1".into()));
        assert!(lines.contains(&"x-forwarded-proto: https".into()));
        assert!(lines.contains(&"x-forwarded-host: public.test".into()));
        assert!(lines.contains(&"forwarded: for=192.0.2.2".into()));
        assert!(lines.contains(&"host: backend:1".into()));
        // The same request from an untrusted peer: only what the peer itself is.
        let lines = forwarded(&req, &trusting(&["10.0.0.0/8"]));
        assert!(lines.contains(&"x-forwarded-for: 2001:db8::1".into()));
        assert!(lines.contains(&"x-forwarded-proto: http".into()));
        assert!(!lines.iter().any(|l| l.starts_with("forwarded")));
    }

    #[test]
    fn the_client_ip_is_the_nearest_untrusted_hop() {
        let trusted = trusting(&["10.0.0.0/8"]);
        let req = |xff: &str, peer: &str| {
            TestRequest::get()
                .insert_header(("x-forwarded-for", xff))
                .peer_addr(peer.parse().unwrap())
                .to_http_request()
        };
        let ip = |xff, peer| client_ip(&req(xff, peer), &trusted).unwrap().to_string();
        assert_eq!(
            ip("6.6.6.6, 203.0.113.7, 10.0.0.5", "10.0.0.1:1"),
            "203.0.113.7"
        );
        assert_eq!(ip("203.0.113.7", "198.51.100.1:1"), "198.51.100.1");
        assert_eq!(ip("garbage, 10.0.0.9", "10.0.0.1:1"), "10.0.0.9");
    }

    #[test]
    fn request_ids_are_echoed_or_generated_uniquely() {
        let ids = RequestIds::default();
        let given = TestRequest::get()
            .insert_header(("x-request-id", "abc"))
            .to_http_request();
        assert_eq!(ids.for_request(&given), "abc");
        for refused in ["has space", "café"] {
            let odd = TestRequest::get()
                .insert_header(("x-request-id", refused))
                .to_http_request();
            assert_ne!(ids.for_request(&odd), refused);
        }
        let long = TestRequest::get()
            .insert_header(("x-request-id", "x".repeat(129)))
            .to_http_request();
        assert_eq!(ids.for_request(&long).len(), 21);
        let plain = TestRequest::get().to_http_request();
        let (first, second) = (ids.for_request(&plain), ids.for_request(&plain));
        assert_ne!(first, second);
        let text = second.to_str().unwrap();
        assert_eq!(&text[..9], format!("{:08x}-", ids.prefix));
        assert_eq!(&text[9..], "000000000004");
    }
}
