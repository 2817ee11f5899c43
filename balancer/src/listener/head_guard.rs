//! The request-head guard: an I/O layer under actix-http's HTTP/1 parser that follows the
//! request stream (heads, then bodies by length or chunks) and checks every head as
//! actix-http would, so a head it would refuse gets our JSON answer instead of an empty 400,
//! and a head that trickles in slower than the client timeout is cut off on every request of
//! a connection, not only the first (actix-http times the first head only). Bodies are the
//! handler's business: here they are only measured, to find where the next head starts.
//!
//! On a refusal the reader sees the end of the stream; actix-http finishes what it has in hand
//! and shuts the connection down, and the answer is written just before that shutdown, after
//! any response still owed for earlier requests.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use actix_web::http::StatusCode;
use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::raw_answer;

/// Larger heads are refused (actix-http's own bound is 128 KiB; nginx's default 8-32 KiB).
pub const MAX_HEAD_BYTES: usize = 64 << 10;
/// As many header fields as actix-http parses.
const MAX_HEADERS: usize = 96;
/// Longest chunk-size or trailer line followed.
const MAX_LINE: usize = 4096;
/// How long a refused connection's remaining input is read away before it is closed.
const LINGER: Duration = Duration::from_secs(1);

/// Why a head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    Malformed(&'static str),
    TooLarge,
    Framing(&'static str),
    LengthRequired,
    Timeout,
}

impl Violation {
    fn answer(self) -> Bytes {
        let (status, code, message) = match self {
            Self::Malformed(what) => (StatusCode::BAD_REQUEST, "malformed_request", what),
            Self::TooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                "The request head is too large.",
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

/// Where in the request stream the next byte belongs.
#[derive(Debug)]
enum Position {
    /// A head, of which `head` holds the bytes so far.
    Head,
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers,
    /// Nothing more is checked: the rest is a tunnel the handler refuses, or a body the
    /// handler will find broken.
    Unfollowed,
}

pub struct HeadGuard<T> {
    io: T,
    position: Position,
    head: BytesMut,
    line: BytesMut,
    timeout: Duration,
    /// Runs while a head is arriving: from the connection's start, then from the read that
    /// brought a head's first bytes without its end. One timer per connection, reset per head.
    deadline: Pin<Box<Sleep>>,
    timing: bool,
    refusal: Option<Bytes>,
    /// The refusal is out and the write half shut: reading away the rest.
    lingering: bool,
}

impl<T> HeadGuard<T> {
    pub fn new(io: T, timeout: Duration) -> Self {
        Self {
            io,
            position: Position::Head,
            head: BytesMut::new(),
            line: BytesMut::new(),
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timing: true,
            refusal: None,
            lingering: false,
        }
    }

    fn refuse(&mut self, violation: Violation) {
        log::debug!("refused a request head: {violation:?}");
        self.refusal = Some(violation.answer());
        self.timing = false;
    }

    /// True when a head has been arriving for longer than the timeout.
    fn late(&mut self, cx: Option<&mut Context<'_>>) -> bool {
        if !self.timing {
            return false;
        }
        match cx {
            Some(cx) => self.deadline.as_mut().poll(cx).is_ready(),
            None => self.deadline.is_elapsed(),
        }
    }

    /// Follows `data` through the request stream; returns how many of its bytes belong to
    /// requests that may be read on (all of them unless a head is refused).
    fn follow(&mut self, mut data: &[u8]) -> usize {
        let total = data.len();
        while !data.is_empty() {
            let used = match self.position {
                Position::Head => match self.follow_head(data) {
                    Ok(used) => used,
                    Err(violation) => {
                        self.refuse(violation);
                        // Bytes of this head read earlier were already passed on; actix-http
                        // holds them unparsed and sees the end of the stream next.
                        return total - data.len();
                    }
                },
                Position::Body(left) => {
                    let used = left.min(data.len() as u64);
                    self.position = match left - used {
                        0 => self.next_head(),
                        left => Position::Body(left),
                    };
                    used as usize
                }
                Position::ChunkData(left) => {
                    let used = left.min(data.len() as u64);
                    self.position = match left - used {
                        0 => Position::ChunkEnd,
                        left => Position::ChunkData(left),
                    };
                    used as usize
                }
                Position::ChunkSize | Position::ChunkEnd | Position::Trailers => {
                    self.follow_line(data)
                }
                Position::Unfollowed => data.len(),
            };
            data = &data[used..];
        }
        total
    }

    fn next_head(&mut self) -> Position {
        self.head.clear();
        Position::Head
    }

    /// Collects head bytes; once the head is whole, checks it and moves to its body.
    fn follow_head(&mut self, data: &[u8]) -> Result<usize, Violation> {
        // Only the head is copied, and only while it is incomplete: the usual head arrives in
        // one read and is checked where it lies.
        let (parsed, used) = if self.head.is_empty() {
            match check_head(data)? {
                Some((length, framing)) => (Some(framing), length),
                None => {
                    self.head.extend_from_slice(data);
                    if !self.timing {
                        self.timing = true;
                        self.deadline.as_mut().reset(Instant::now() + self.timeout);
                    }
                    (None, data.len())
                }
            }
        } else {
            let before = self.head.len();
            self.head.extend_from_slice(data);
            match check_head(&self.head)? {
                Some((length, framing)) => (Some(framing), length - before),
                None => (None, data.len()),
            }
        };
        if self.head.len() > MAX_HEAD_BYTES {
            return Err(Violation::TooLarge);
        }
        if let Some(framing) = parsed {
            self.timing = false;
            self.head.clear();
            self.position = match framing {
                Framing::None => Position::Head,
                Framing::Length(n) => Position::Body(n),
                Framing::Chunked => Position::ChunkSize,
                Framing::Unfollowed => Position::Unfollowed,
            };
        }
        Ok(used)
    }

    /// Chunk-size lines, the CRLF after chunk data, and trailer lines.
    fn follow_line(&mut self, data: &[u8]) -> usize {
        let (line_end, used) = match data.iter().position(|b| *b == b'\n') {
            Some(at) => (true, at + 1),
            None => (false, data.len()),
        };
        self.line.extend_from_slice(&data[..used]);
        if self.line.len() > MAX_LINE {
            self.position = Position::Unfollowed;
            return used;
        }
        if !line_end {
            return used;
        }
        let line = std::mem::take(&mut self.line);
        self.position = match self.position {
            Position::ChunkSize => match httparse::parse_chunk_size(&line) {
                Ok(httparse::Status::Complete((_, 0))) => Position::Trailers,
                Ok(httparse::Status::Complete((_, size))) => Position::ChunkData(size),
                _ => Position::Unfollowed,
            },
            Position::ChunkEnd if &line[..] == b"\r\n" => Position::ChunkSize,
            Position::Trailers if &line[..] == b"\r\n" => self.next_head(),
            Position::Trailers => Position::Trailers,
            _ => Position::Unfollowed,
        };
        used
    }
}

/// How the body after a checked head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    /// A tunnel or protocol switch: actix-http reads the rest as a stream.
    Unfollowed,
}

/// Whether actix-http will accept `target` as a request URI. An origin-form target made of the
/// bytes `http::Uri` always accepts in a path and query is answered by a scan; anything else
/// (absolute-form, `*`, rarer bytes) by `Uri` itself, which copies the target and so is kept
/// off the common path.
fn target_is_valid(target: &str) -> bool {
    let plain = |byte: &u8| matches!(byte, b'!' | b'$'..=b';' | b'=' | b'?'..=b'_' | b'a'..=b'z' | b'|' | b'~');
    // `http::Uri` refuses URIs of u16::MAX bytes or more.
    let short = target.len() < usize::from(u16::MAX);
    short && target.starts_with('/') && target.as_bytes().iter().all(plain)
        || actix_web::http::Uri::try_from(target).is_ok()
}

/// Checks a head as actix-http's decoder does (RFC 9112): `None` while it is incomplete.
fn check_head(bytes: &[u8]) -> Result<Option<(usize, Framing)>, Violation> {
    // Uninitialised slots: zeroing 96 of them would cost more than parsing a small head.
    let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let length = match request.parse_with_uninit_headers(bytes, &mut slots) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) if bytes.len() > MAX_HEAD_BYTES => {
            return Err(Violation::TooLarge);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Violation::TooLarge),
        Err(_) => {
            return Err(Violation::Malformed(
                "The request line or a header field is not valid HTTP/1.1.",
            ));
        }
    };
    if !request.path.is_some_and(target_is_valid) {
        return Err(Violation::Malformed(
            "The request target is not a valid URI.",
        ));
    }
    let http11 = request.version == Some(1);
    let method = request.method.unwrap_or_default();
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

impl<T: AsyncRead + Unpin> AsyncRead for HeadGuard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.refusal.is_some() {
            // The end of the stream: actix-http stops reading and shuts the connection down.
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let kept = this.follow(&buf.filled()[before..]);
                buf.set_filled(before + kept);
                // A head trickling in byte by byte never leaves the reader waiting.
                if this.refusal.is_none() && this.late(None) {
                    this.refuse(Violation::Timeout);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                if this.late(Some(cx)) {
                    this.refuse(Violation::Timeout);
                    return Poll::Ready(Ok(()));
                }
                Poll::Pending
            }
            failed => failed,
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for HeadGuard<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, data)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Writes a pending refusal after everything actix-http wrote, then shuts down. After a
    /// refusal, what the client is still sending is read away for a moment (a lingering close,
    /// as nginx does), so closing with unread bytes does not reset the connection before the
    /// client has read the answer.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(refusal) = this.refusal.as_mut() else {
            ready!(Pin::new(&mut this.io).poll_flush(cx))?;
            return Pin::new(&mut this.io).poll_shutdown(cx);
        };
        while !refusal.is_empty() {
            let written = ready!(Pin::new(&mut this.io).poll_write(cx, refusal))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            refusal.advance(written);
            if refusal.is_empty() {
                this.deadline.as_mut().reset(Instant::now() + LINGER);
            }
        }
        if !this.lingering {
            ready!(Pin::new(&mut this.io).poll_flush(cx))?;
            ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
            this.lingering = true;
        }
        let mut scratch = [0u8; 4096];
        loop {
            if this.deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
            let mut sink = ReadBuf::new(&mut scratch);
            match ready!(Pin::new(&mut this.io).poll_read(cx, &mut sink)) {
                Ok(()) if !sink.filled().is_empty() => {}
                _ => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> HeadGuard<()> {
        HeadGuard::new((), Duration::from_secs(5))
    }

    /// Feeds `pieces` one read at a time; returns the bytes passed on and the refusal.
    fn feed(pieces: &[&[u8]]) -> (usize, Option<String>) {
        let mut guard = guard();
        let mut passed = 0;
        for piece in pieces {
            if guard.refusal.is_some() {
                break;
            }
            passed += guard.follow(piece);
        }
        let refusal = guard
            .refusal
            .map(|r| String::from_utf8_lossy(&r).into_owned());
        (passed, refusal)
    }

    #[test]
    fn the_target_scan_agrees_with_actix_http_on_every_byte() {
        for byte in 0x21u8..0x7f {
            for target in [
                format!("/a{}b", byte as char),
                format!("/p?q={}", byte as char),
            ] {
                assert_eq!(
                    target_is_valid(&target),
                    actix_web::http::Uri::try_from(target.as_str()).is_ok(),
                    "{target:?}"
                );
            }
        }
        for target in ["*", "http://example.com/x", "example.com:443", "/", "//x"] {
            assert_eq!(
                target_is_valid(target),
                actix_web::http::Uri::try_from(target).is_ok(),
                "{target:?}"
            );
        }
        let too_long = format!("/{}", "a".repeat(70_000));
        assert!(!target_is_valid(&too_long), "http::Uri caps a URI's length");
    }

    #[tokio::test]
    async fn sound_requests_pass_whole_in_any_pieces() {
        let stream: &[u8] = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
            POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
            5;ext\r\nhello\r\n0\r\nTrailer: t\r\n\r\n\
            GET /c HTTP/1.1\r\nHost: x\r\n\r\n";
        for split in [1, 2, 3, 7, 64, stream.len()] {
            let pieces: Vec<&[u8]> = stream.chunks(split).collect();
            assert_eq!(feed(&pieces), (stream.len(), None), "pieces of {split}");
        }
    }

    #[tokio::test]
    async fn a_bad_head_after_good_requests_is_cut_off_and_answered_in_json() {
        let good: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
        let bad: &[u8] = b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\
            Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
        let (passed, refusal) = feed(&[&[good, bad].concat()]);
        assert_eq!(passed, good.len());
        let refusal = refusal.unwrap();
        assert!(
            refusal.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{refusal}"
        );
        assert!(
            refusal.contains("\"error\":\"ambiguous_framing\""),
            "{refusal}"
        );
        assert!(refusal.contains("connection: close\r\n"), "{refusal}");
    }

    #[tokio::test]
    async fn each_refusal_is_named() {
        let cases: [(&[u8], &str); 8] = [
            (b"NOT HTTP AT ALL\r\n\r\n", "400 Bad Request"),
            (b"GET / HTTP/1.1\r\n\r\n", "malformed_request"),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                "malformed_request",
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                "ambiguous_framing",
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
                "ambiguous_framing",
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
                "ambiguous_framing",
            ),
            (
                b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                "ambiguous_framing",
            ),
            (b"POST / HTTP/1.0\r\n\r\n", "411 Length Required"),
        ];
        for (head, expected) in cases {
            let (passed, refusal) = feed(&[head]);
            assert_eq!(passed, 0, "{head:?}");
            let refusal = refusal.unwrap_or_default();
            assert!(refusal.contains(expected), "{head:?}: {refusal}");
        }
        let huge = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(70_000)
        );
        let pieces: Vec<&[u8]> = huge.as_bytes().chunks(1000).collect();
        let (_, refusal) = feed(&pieces);
        assert!(refusal.unwrap().contains("431"));
    }

    #[tokio::test]
    async fn tunnels_are_not_followed() {
        let stream: &[u8] =
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
            Content-Length: 5\r\n\r\nhelloNOT A HEAD\r\n\r\n";
        assert_eq!(feed(&[stream]), (stream.len(), None));
    }

    #[tokio::test]
    async fn a_head_that_trickles_past_the_timeout_is_refused_on_any_request() {
        let (client, server) = tokio::io::duplex(1024);
        let mut guard = HeadGuard::new(server, Duration::from_millis(100));
        let mut client = client;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        client
            .write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHo")
            .await
            .unwrap();
        let mut read = vec![0u8; 1024];
        let n = guard.read(&mut read).await.unwrap();
        assert!(n > 0);
        // The second head never completes: the reader sees the end after the timeout...
        let started = std::time::Instant::now();
        assert_eq!(guard.read(&mut read).await.unwrap(), 0);
        assert!(started.elapsed() >= Duration::from_millis(90));
        // ...and the shutdown delivers the 408.
        guard.shutdown().await.unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }
}
