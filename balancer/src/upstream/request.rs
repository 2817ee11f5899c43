//! The request as it goes on the wire: the head is written straight from the client's headers
//! into one buffer, and a small body joins it, so most requests leave in a single write.

use std::fmt::Write as _;

use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::stream::LocalBoxStream;

use super::BodyError;

/// Bodies up to this size are copied behind the head and sent in the same write.
pub const COALESCE_BYTES: usize = 16 << 10;

/// What follows the request head.
pub enum OutgoingBody {
    /// No body and no framing header (a GET or HEAD).
    Empty,
    /// Bytes already in memory; sent with `Content-Length`, so it can be sent again.
    Full(Bytes),
    /// Bytes arriving from the client: `Content-Length` when known, otherwise chunked.
    Stream {
        stream: LocalBoxStream<'static, Result<Bytes, BodyError>>,
        length: Option<u64>,
    },
}

impl OutgoingBody {
    /// True when the body can be sent again on another connection.
    pub fn replayable(&self) -> bool {
        !matches!(self, Self::Stream { .. })
    }

    /// Bytes in memory (0 for a stream).
    fn len(&self) -> usize {
        match self {
            Self::Full(bytes) => bytes.len(),
            _ => 0,
        }
    }

    pub(super) fn framing(&self) -> Framing {
        match self {
            Self::Empty => Framing::None,
            Self::Full(bytes) => Framing::Length(bytes.len() as u64),
            Self::Stream {
                length: Some(n), ..
            } => Framing::Length(*n),
            Self::Stream { length: None, .. } => Framing::Chunked,
        }
    }
}

/// How the body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// A request head under construction: the request line and the end-to-end headers. `Host`
/// (when the client sent none) and the body's framing are added per attempt by [`Self::wire`].
pub struct RequestHead {
    /// Kept because it decides how the response is framed (a HEAD response has no body).
    method: Method,
    buf: BytesMut,
    has_host: bool,
}

impl RequestHead {
    pub fn new(method: &Method, target: &str) -> Self {
        let mut buf = BytesMut::with_capacity(512);
        buf.put_slice(method.as_str().as_bytes());
        buf.put_u8(b' ');
        buf.put_slice(target.as_bytes());
        buf.put_slice(b" HTTP/1.1\r\n");
        Self {
            method: method.clone(),
            buf,
            has_host: false,
        }
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    /// Appends a header whose value is the concatenation of `parts`. Names and values come
    /// from `HeaderName`/`HeaderValue`s or from digits and separators, so they cannot carry a
    /// line break.
    pub fn header(&mut self, name: &HeaderName, parts: &[&[u8]]) {
        self.has_host |= *name == header::HOST;
        self.buf.put_slice(name.as_str().as_bytes());
        self.buf.put_slice(b": ");
        for part in parts {
            self.buf.put_slice(part);
        }
        self.buf.put_slice(b"\r\n");
    }

    /// The head as sent to `authority`, followed by `body`'s framing header.
    pub fn wire(&self, authority: &str, body: &OutgoingBody) -> BytesMut {
        let mut wire =
            BytesMut::with_capacity(self.buf.len() + 64 + COALESCE_BYTES.min(body.len()));
        wire.put_slice(&self.buf);
        if !self.has_host {
            put_header(&mut wire, b"host", authority.as_bytes());
        }
        match body.framing() {
            Framing::None => {}
            Framing::Length(n) => {
                // Writing into a BytesMut cannot fail.
                let _ = write!(wire, "content-length: {n}\r\n");
            }
            Framing::Chunked => wire.put_slice(b"transfer-encoding: chunked\r\n"),
        }
        wire.put_slice(b"\r\n");
        wire
    }
}

fn put_header(buf: &mut BytesMut, name: &[u8], value: &[u8]) {
    buf.put_slice(name);
    buf.put_slice(b": ");
    buf.put_slice(value);
    buf.put_slice(b"\r\n");
}

/// Appends one chunk of a chunked body. An empty `data` is the last chunk, `0\r\n` followed by
/// the blank line that ends an empty trailer section.
pub fn encode_chunk(buf: &mut BytesMut, data: &[u8]) {
    let _ = write!(buf, "{:x}\r\n", data.len());
    buf.put_slice(data);
    buf.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(head: &RequestHead, body: &OutgoingBody) -> String {
        String::from_utf8(head.wire("10.0.0.2:8080", body).to_vec()).unwrap()
    }

    #[test]
    fn a_get_has_no_framing_and_gets_the_backend_as_host() {
        let mut head = RequestHead::new(&Method::GET, "/a?b=1");
        head.header(&HeaderName::from_static("x-request-id"), &[b"r1"]);
        assert_eq!(
            wire(&head, &OutgoingBody::Empty),
            "GET /a?b=1 HTTP/1.1\r\nx-request-id: r1\r\nhost: 10.0.0.2:8080\r\n\r\n"
        );
    }

    #[test]
    fn the_clients_host_is_kept_and_bodies_are_framed() {
        let mut head = RequestHead::new(&Method::POST, "/analyze");
        head.header(&header::HOST, &[b"example.org"]);
        head.header(
            &HeaderName::from_static("x-forwarded-for"),
            &[b"10.0.0.1", b", ", b"10.0.0.9"],
        );
        let full = OutgoingBody::Full(Bytes::from_static(b"{}"));
        assert_eq!(
            wire(&head, &full),
            "POST /analyze HTTP/1.1\r\nhost: example.org\r\nx-forwarded-for: 10.0.0.1, 10.0.0.9\r\ncontent-length: 2\r\n\r\n"
        );
        let chunked = OutgoingBody::Stream {
            stream: Box::pin(futures_util::stream::empty()),
            length: None,
        };
        assert!(wire(&head, &chunked).ends_with("transfer-encoding: chunked\r\n\r\n"));
    }

    #[test]
    fn chunks_are_hex_sized_and_the_last_one_ends_the_body() {
        let mut buf = BytesMut::new();
        encode_chunk(&mut buf, &[b'x'; 26]);
        encode_chunk(&mut buf, b"");
        assert_eq!(&buf[..], b"1a\r\nxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n0\r\n\r\n");
    }
}
