//! Checking one request head as actix-http's decoder would (RFC 9112), and to the RFC where that
//! decoder is lenient (the target's form, `Host`): the head's length and how its body is
//! delimited, or the violation that gets our JSON refusal instead of actix-http's empty 400 or a
//! pass. Pure functions over bytes; following the stream is the head guard's business.

use std::mem::MaybeUninit;

use actix_web::http::StatusCode;
use bytes::Bytes;

use super::raw_answer;

/// Larger heads are refused (actix-http's own bound is 128 KiB; nginx's default 8-32 KiB).
pub const MAX_HEAD_BYTES: usize = 64 << 10;
/// As many header fields as actix-http parses.
const MAX_HEADERS: usize = 96;

/// Why a head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Violation {
    Malformed(&'static str),
    TooLarge,
    TooManyFields,
    UriTooLong,
    Framing(&'static str),
    LengthRequired,
    Timeout,
}

impl Violation {
    pub(super) fn answer(self) -> Bytes {
        let (status, code, message) = match self {
            Self::Malformed(what) => (StatusCode::BAD_REQUEST, "malformed_request", what),
            Self::TooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                "The request head is too large.",
            ),
            Self::TooManyFields => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                "The request has more than the 96 header fields a request may have.",
            ),
            Self::UriTooLong => (
                StatusCode::URI_TOO_LONG,
                "uri_too_long",
                "The request line is longer than the 64 KiB a request head may have.",
            ),
            Self::Framing(what) => (StatusCode::BAD_REQUEST, "ambiguous_framing", what),
            Self::LengthRequired => (
                StatusCode::LENGTH_REQUIRED,
                "length_required",
                "An HTTP/1.0 request with a body needs a Content-Length.",
            ),
            Self::Timeout => (
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "The request head was not received in time.",
            ),
        };
        raw_answer(status, code, message)
    }
}

/// How the body after a checked head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    None,
    Length(u64),
    Chunked,
    /// A tunnel or protocol switch: actix-http reads the rest as a stream.
    Unfollowed,
}

/// Whether `target` is a request target `method` may have (RFC 9112 section 3.2) that actix-http
/// will accept: origin-form or absolute-form (`http` or `https`) for any method, authority-form
/// for `CONNECT` only, `*` for `OPTIONS` only, and never a fragment. `http::Uri` takes
/// `GET a:80` for an authority and `/a#b` for `/a`, so the backend would get `GET /` or a
/// target the client never sent. An origin-form target made of the bytes `http::Uri` always
/// accepts in a path and query is answered by a scan; anything else by `Uri` itself, which
/// copies the target and so is kept off the common path.
pub(super) fn target_is_valid(method: &str, target: &str) -> bool {
    let plain = |byte: &u8| matches!(byte, b'!' | b'$'..=b';' | b'=' | b'?'..=b'_' | b'a'..=b'z' | b'|' | b'~');
    // `http::Uri` refuses URIs of u16::MAX bytes or more.
    if target.len() >= usize::from(u16::MAX) {
        return false;
    }
    if target.starts_with('/') && target.as_bytes().iter().all(plain) {
        return true;
    }
    if target.contains('#') {
        return false;
    }
    if target == "*" {
        return method == "OPTIONS";
    }
    let Ok(uri) = actix_web::http::Uri::try_from(target) else {
        return false;
    };
    match (uri.scheme_str(), uri.authority()) {
        (None, None) => target.starts_with('/'),
        (None, Some(_)) => method == "CONNECT",
        (Some(scheme), Some(_)) => {
            scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
        }
        (Some(_), None) => false,
    }
}

/// `Host = uri-host [ ":" port ]` (RFC 9110 section 7.2 with RFC 3986 section 3.2): a name of
/// unreserved, sub-delims and percent-encoded characters, or a bracketed IP literal, then an
/// optional port of digits; empty when the target has no authority. RFC 9112 section 3.2 wants
/// a 400 for any other value: a backend or the cache key would otherwise take `a/b` or
/// `user@a` for a host.
pub fn host_is_valid(value: &[u8]) -> bool {
    let name_byte = |byte: &u8| byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(byte);
    // An IP literal may hold colons; a name may not, so its first colon starts the port.
    let (host, rest, colons) = match value.strip_prefix(b"[") {
        Some(literal) => match literal.iter().position(|&byte| byte == b']') {
            Some(end) if end > 0 => (&literal[..end], &literal[end + 1..], true),
            _ => return false,
        },
        None => {
            let end = value
                .iter()
                .position(|&byte| byte == b':')
                .unwrap_or(value.len());
            (&value[..end], &value[end..], false)
        }
    };
    let host_ok = host
        .iter()
        .all(|byte| name_byte(byte) || (colons && *byte == b':'))
        && percent_encodings_are_whole(host);
    let port_ok = match rest.split_first() {
        None => true,
        Some((b':', port)) => port.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    host_ok && port_ok
}

/// Every `%` followed by two hex digits.
fn percent_encodings_are_whole(text: &[u8]) -> bool {
    text.iter().enumerate().all(|(at, &byte)| {
        byte != b'%'
            || text
                .get(at + 1..at + 3)
                .is_some_and(|digits| digits.iter().all(u8::is_ascii_hexdigit))
    })
}

/// Why a head over the bound is refused: 414 when its request line alone does not end within
/// it (RFC 9110 section 15.5.15), else 431.
fn oversized(head: &[u8]) -> Violation {
    if head[..head.len().min(MAX_HEAD_BYTES)].contains(&b'\n') {
        Violation::TooLarge
    } else {
        Violation::UriTooLong
    }
}

/// Checks a head as actix-http's decoder does (RFC 9112), held to `MAX_HEAD_BYTES` whether whole
/// or not: `None` while it is incomplete.
pub(super) fn check_head(bytes: &[u8]) -> Result<Option<(usize, Framing)>, Violation> {
    // Uninitialised slots: zeroing 96 of them would cost more than parsing a small head.
    let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let length = match request.parse_with_uninit_headers(bytes, &mut slots) {
        Ok(httparse::Status::Complete(length)) if length <= MAX_HEAD_BYTES => length,
        Ok(httparse::Status::Complete(_)) => return Err(oversized(bytes)),
        Ok(httparse::Status::Partial) if bytes.len() > MAX_HEAD_BYTES => {
            return Err(oversized(bytes));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Violation::TooManyFields),
        Err(_) => {
            return Err(Violation::Malformed(
                "The request line or a header field is not valid HTTP/1.1.",
            ));
        }
    };
    let method = request.method.unwrap_or_default();
    if !request
        .path
        .is_some_and(|target| target_is_valid(method, target))
    {
        return Err(Violation::Malformed(
            "The request target is not a valid URI in a form this method may use (RFC 9112 \
             section 3.2).",
        ));
    }
    let http11 = request.version == Some(1);
    let (mut content_length, mut transfer_encoding, mut hosts) = (None, None, 0);
    let mut websocket = false;
    for field in request.headers.iter() {
        let value = field.value.trim_ascii();
        if field.name.eq_ignore_ascii_case("content-length") {
            let parsed = std::str::from_utf8(value)
                .ok()
                .filter(|v| !v.starts_with('+'))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or(Violation::Framing("Content-Length is not a number."))?;
            if content_length.replace(parsed).is_some() {
                return Err(Violation::Framing("Content-Length is given twice."));
            }
        } else if field.name.eq_ignore_ascii_case("transfer-encoding") {
            if transfer_encoding.replace(value).is_some() {
                return Err(Violation::Framing("Transfer-Encoding is given twice."));
            }
        } else if field.name.eq_ignore_ascii_case("host") {
            if !host_is_valid(value) {
                return Err(Violation::Malformed(
                    "Host is not a valid host and optional port (RFC 9110 section 7.2).",
                ));
            }
            hosts += 1;
        } else if field.name.eq_ignore_ascii_case("upgrade") {
            websocket |= value.eq_ignore_ascii_case(b"websocket");
        }
    }
    if hosts > 1 || (http11 && hosts == 0) {
        return Err(Violation::Malformed(
            "An HTTP/1.1 request needs exactly one Host header.",
        ));
    }
    let framing = match (transfer_encoding, content_length) {
        (Some(_), _) if !http11 => {
            return Err(Violation::Framing(
                "Transfer-Encoding is not allowed in HTTP/1.0.",
            ));
        }
        (Some(coding), _) if !coding.eq_ignore_ascii_case(b"chunked") => {
            return Err(Violation::Framing("Transfer-Encoding must be chunked."));
        }
        (Some(_), Some(_)) => {
            return Err(Violation::Framing(
                "A request may not carry both Transfer-Encoding and Content-Length.",
            ));
        }
        (Some(_), None) => Framing::Chunked,
        (None, _) if websocket || method == "CONNECT" => Framing::Unfollowed,
        (None, Some(0) | None) if !http11 && method == "POST" && content_length.is_none() => {
            return Err(Violation::LengthRequired);
        }
        (None, Some(0) | None) => Framing::None,
        (None, Some(n)) => Framing::Length(n),
    };
    Ok(Some((length, framing)))
}
