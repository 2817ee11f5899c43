//! Reading a response head: httparse does the parsing; this decides what follows it (RFC 9112
//! section 6.3) and whether the connection can carry another request.

use std::mem::MaybeUninit;

use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};

use super::UpstreamError;

/// The most response headers accepted, as many as actix-web accepts from clients.
const MAX_HEADERS: usize = 96;

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    Empty,
    Length(u64),
    Chunked,
    /// Read until the backend closes; the connection is not reused.
    UntilClose,
}

#[derive(Debug)]
pub struct ResponseHead {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub framing: BodyFraming,
    /// The backend allows another request on this connection.
    pub keep_alive: bool,
}

/// Parses a complete head at the start of `buf`, returning it with its length in bytes, or
/// `None` when more bytes are needed.
pub fn parse_head(
    buf: &[u8],
    method: &Method,
) -> Result<Option<(usize, ResponseHead)>, UpstreamError> {
    // Uninitialised slots: zeroing 96 of them would cost more than parsing a small head.
    let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut []);
    let config = httparse::ParserConfig::default();
    let consumed = match config.parse_response_with_uninit_headers(&mut parsed, buf, &mut slots) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(UpstreamError::Malformed("too many response headers"));
        }
        Err(_) => return Err(UpstreamError::Malformed("invalid response head")),
    };
    let status = parsed
        .code
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or(UpstreamError::Malformed("invalid status code"))?;
    // Room for the proxy's own fields (X-Upstream, X-Cache, Cache-Status, X-Request-Id): the
    // client's response takes this map over, and growing it there cost more than the copy did.
    let mut headers = HeaderMap::with_capacity(parsed.headers.len() + 4);
    for field in parsed.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| UpstreamError::Malformed("invalid header name"))?;
        let value = HeaderValue::from_bytes(field.value)
            .map_err(|_| UpstreamError::Malformed("invalid header value"))?;
        headers.append(name, value);
    }
    let http11 = parsed.version == Some(1);
    let mut keep_alive = match connection_option(&headers) {
        Some(Connection::Close) => false,
        Some(Connection::KeepAlive) => true,
        None => http11,
    };
    let framing = framing(method, status, &headers)?;
    if framing == BodyFraming::UntilClose {
        keep_alive = false;
    }
    Ok(Some((
        consumed,
        ResponseHead {
            status,
            headers,
            framing,
            keep_alive,
        },
    )))
}

enum Connection {
    Close,
    KeepAlive,
}

fn connection_option(headers: &HeaderMap) -> Option<Connection> {
    let mut found = None;
    for token in headers
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
    {
        if token.eq_ignore_ascii_case("close") {
            return Some(Connection::Close);
        }
        if token.eq_ignore_ascii_case("keep-alive") {
            found = Some(Connection::KeepAlive);
        }
    }
    found
}

fn framing(
    method: &Method,
    status: StatusCode,
    headers: &HeaderMap,
) -> Result<BodyFraming, UpstreamError> {
    if *method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(BodyFraming::Empty);
    }
    if let Some(codings) = headers.get(header::TRANSFER_ENCODING) {
        // Only a final `chunked` delimits the body; anything else runs until close.
        let chunked = codings
            .to_str()
            .ok()
            .and_then(|v| v.rsplit(',').next())
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        return Ok(if chunked {
            BodyFraming::Chunked
        } else {
            BodyFraming::UntilClose
        });
    }
    let mut lengths = headers.get_all(header::CONTENT_LENGTH);
    let Some(first) = lengths.next() else {
        return Ok(BodyFraming::UntilClose);
    };
    if lengths.any(|other| other != first) {
        return Err(UpstreamError::Malformed(
            "conflicting Content-Length headers",
        ));
    }
    let length = first
        .to_str()
        .ok()
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse().ok())
        .ok_or(UpstreamError::Malformed("invalid Content-Length"))?;
    Ok(if length == 0 {
        BodyFraming::Empty
    } else {
        BodyFraming::Length(length)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, method: Method) -> ResponseHead {
        let (consumed, head) = parse_head(text.as_bytes(), &method).unwrap().unwrap();
        assert_eq!(consumed, text.find("\r\n\r\n").unwrap() + 4);
        head
    }

    #[test]
    fn a_partial_head_asks_for_more() {
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-le", &Method::GET)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn content_length_and_keep_alive() {
        let head = parse(
            "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-A: b\r\n\r\nbody",
            Method::GET,
        );
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(head.framing, BodyFraming::Length(12));
        assert!(head.keep_alive);
        assert_eq!(head.headers.get("x-a").unwrap(), "b");
    }

    #[test]
    fn chunked_wins_over_length_and_close_is_honoured() {
        let head = parse(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\nConnection: close\r\n\r\n",
            Method::GET,
        );
        assert_eq!(head.framing, BodyFraming::Chunked);
        assert!(!head.keep_alive);
    }

    #[test]
    fn no_length_means_until_close_and_http10_closes_by_default() {
        let head = parse("HTTP/1.1 200 OK\r\n\r\n", Method::GET);
        assert_eq!(head.framing, BodyFraming::UntilClose);
        assert!(!head.keep_alive);
        let head = parse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", Method::GET);
        assert!(!head.keep_alive);
        let head = parse(
            "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n",
            Method::GET,
        );
        assert!(head.keep_alive);
    }

    #[test]
    fn head_204_and_304_have_no_body() {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n";
        assert_eq!(parse(text, Method::HEAD).framing, BodyFraming::Empty);
        let text = "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n";
        assert_eq!(parse(text, Method::GET).framing, BodyFraming::Empty);
        assert_eq!(
            parse("HTTP/1.1 204 No Content\r\n\r\n", Method::GET).framing,
            BodyFraming::Empty
        );
    }

    #[test]
    fn bad_heads_are_errors() {
        for text in [
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
            "HTTP/1.1 OK\r\n\r\n",
            "SMTP ready\r\n\r\n",
        ] {
            assert!(
                parse_head(text.as_bytes(), &Method::GET).is_err(),
                "{text:?} was accepted"
            );
        }
    }
}
