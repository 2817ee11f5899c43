//! The request-head guard: an I/O layer under actix-http's HTTP/1 parser that follows the
//! request stream (heads, then bodies by length or chunks) and checks every head as
//! actix-http would, so a head it would refuse gets our JSON answer instead of an empty 400,
//! and a head that trickles in slower than the client timeout is cut off on every request of
//! a connection, not only the first (actix-http times the first head only). Bodies are the
//! handler's business: here they are only measured, to find where the next head starts. On an
//! HTTP/2 connection it bounds and times header blocks instead (`header_blocks`), and fails the
//! connection on a violation, since no HTTP/1 answer fits there. On both it bounds how long a
//! response write may wait for a client that does not read.
//!
//! On a refusal the reader sees the end of the stream; actix-http finishes what it has in hand
//! and shuts the connection down, and the answer is written just before that shutdown, after
//! any response still owed for earlier requests. A malformed chunked body ends the stream the
//! same way at its first bad byte ([`chunked`]), unanswered here: its head has gone on, and the
//! handler answers it, told why by [`MalformedBody`].

mod chunked;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

pub use self::chunked::{ChunkFault, MalformedBody};
use self::chunked::{ChunkedBody, Followed};
use super::head_check::{Framing, Violation, check_head};
use super::header_blocks::HeaderBlocks;

/// How long a refused connection's remaining input is read away before it is closed.
const LINGER: Duration = Duration::from_secs(1);

/// Where in the request stream the next byte belongs.
#[derive(Debug)]
enum Position {
    /// A head, of which `head` holds the bytes so far.
    Head,
    Body(u64),
    Chunked(ChunkedBody),
    /// Nothing more is checked: the rest is a tunnel the handler refuses.
    Unfollowed,
    /// HTTP/2 frames, whose header blocks are measured.
    Http2(HeaderBlocks),
}

/// The guard's two bounds in time.
#[derive(Debug, Clone, Copy)]
pub struct GuardTimeouts {
    /// A head (an HTTP/2 header block) arriving for longer is refused.
    pub head: Duration,
    /// A write waiting longer for the client to read fails the connection, as nginx's
    /// `send_timeout`: a client that stops reading would otherwise hold its connection, and the
    /// upstream connection its response comes from, for as long as it likes.
    pub send: Duration,
}

pub struct HeadGuard<T> {
    io: T,
    position: Position,
    head: BytesMut,
    malformed_body: MalformedBody,
    timeout: Duration,
    send_timeout: Duration,
    /// Made at the first write that has to wait, and reset at each wait after progress.
    send_deadline: Option<Pin<Box<Sleep>>>,
    write_waiting: bool,
    /// Runs while a head is arriving: from the connection's start, then from the read that
    /// brought a head's first bytes without its end. One timer per connection, reset per head.
    deadline: Pin<Box<Sleep>>,
    timing: bool,
    /// Set once the stream is to read as ended: the answer to write before shutting down (empty
    /// when the handler answers, as for a malformed body).
    refusal: Option<Bytes>,
    /// The refusal is out and the write half shut: reading away the rest.
    lingering: bool,
}

impl<T> HeadGuard<T> {
    pub fn new(io: T, timeouts: GuardTimeouts) -> Self {
        let timeout = timeouts.head;
        Self {
            io,
            position: Position::Head,
            head: BytesMut::new(),
            malformed_body: MalformedBody::default(),
            timeout,
            send_timeout: timeouts.send,
            send_deadline: None,
            write_waiting: false,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timing: true,
            refusal: None,
            lingering: false,
        }
    }

    /// A guard for HTTP/2, whose frames h2 parses; only header blocks are bounded and timed
    /// here, and the HTTP/2 dispatcher times the preface.
    pub fn http2(io: T, timeouts: GuardTimeouts) -> Self {
        let mut guard = Self::new(io, timeouts);
        guard.position = Position::Http2(HeaderBlocks::new());
        guard.timing = false;
        guard
    }

    /// Where the connection's requests learn that their chunked body was malformed.
    pub fn malformed_body(&self) -> MalformedBody {
        self.malformed_body.clone()
    }

    fn refuse(&mut self, violation: Violation) {
        log::debug!("refused a request head: {violation:?}");
        self.refusal = Some(violation.answer());
        self.timing = false;
    }

    /// Ends the stream inside a chunked body, with nothing of our own to write.
    fn end_at_malformed_body(&mut self, fault: ChunkFault) {
        log::debug!("ended a connection at a malformed chunked body: {fault:?}");
        self.malformed_body.record(fault);
        self.refusal = Some(Bytes::new());
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
                Position::Chunked(ref mut body) => match body.follow(data) {
                    Followed::All => data.len(),
                    Followed::Ended(used) => {
                        self.position = self.next_head();
                        used
                    }
                    Followed::Fault(at, fault) => {
                        self.end_at_malformed_body(fault);
                        return total - data.len() + at;
                    }
                },
                Position::Unfollowed | Position::Http2(_) => data.len(),
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
        if let Some(framing) = parsed {
            self.timing = false;
            self.head.clear();
            self.position = match framing {
                Framing::None => Position::Head,
                Framing::Length(n) => Position::Body(n),
                Framing::Chunked => Position::Chunked(ChunkedBody::new()),
                Framing::Unfollowed => Position::Unfollowed,
            };
        }
        Ok(used)
    }
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
            Poll::Ready(Ok(())) if let Position::Http2(blocks) = &mut this.position => {
                blocks
                    .follow(&buf.filled()[before..])
                    .map_err(http2_failure)?;
                let in_block = blocks.in_block();
                if in_block && !this.timing {
                    this.deadline.as_mut().reset(Instant::now() + this.timeout);
                }
                this.timing = in_block;
                if this.late(None) {
                    return Poll::Ready(Err(http2_failure(Violation::Timeout)));
                }
                Poll::Ready(Ok(()))
            }
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
                    if let Position::Http2(_) = this.position {
                        return Poll::Ready(Err(http2_failure(Violation::Timeout)));
                    }
                    this.refuse(Violation::Timeout);
                    return Poll::Ready(Ok(()));
                }
                Poll::Pending
            }
            failed => failed,
        }
    }
}

/// How an HTTP/2 connection is failed: h2 ends it on the read error, as at its own bounds.
fn http2_failure(violation: Violation) -> io::Error {
    log::debug!("failed an HTTP/2 connection: {violation:?}");
    io::Error::new(io::ErrorKind::InvalidData, format!("{violation:?}"))
}

impl<T> HeadGuard<T> {
    /// Passes a write's result on; a write still waiting `send_timeout` after the last one that
    /// made progress fails.
    fn bound_wait<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if polled.is_ready() {
            self.write_waiting = false;
            return polled;
        }
        let timeout = self.send_timeout;
        let deadline = self
            .send_deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if !self.write_waiting {
            deadline.as_mut().reset(Instant::now() + timeout);
            self.write_waiting = true;
        }
        ready!(deadline.as_mut().poll(cx));
        log::debug!("closed a connection whose client stopped reading");
        Poll::Ready(Err(io::ErrorKind::TimedOut.into()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for HeadGuard<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, data);
        self.bound_wait(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, data);
        self.bound_wait(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_flush(cx);
        self.bound_wait(cx, polled)
    }

    /// Writes a pending refusal after everything actix-http wrote, then shuts down. After the
    /// stream was ended, what the client is still sending is read away for a moment (a
    /// lingering close, as nginx does), so closing with unread bytes does not reset the
    /// connection before the client has read the answer.
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
        }
        if !this.lingering {
            ready!(Pin::new(&mut this.io).poll_flush(cx))?;
            ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
            this.lingering = true;
            this.deadline.as_mut().reset(Instant::now() + LINGER);
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
mod tests;
