//! The request-head guard: an I/O layer under actix-http's HTTP/1 parser that follows the
//! request stream (heads, then bodies by length or chunks) and checks every head as
//! actix-http would, so a head it would refuse gets our JSON answer instead of an empty 400,
//! and a head that trickles in slower than the client timeout is cut off on every request of
//! a connection, not only the first (actix-http times the first head only). Bodies are the
//! handler's business: here they are only measured, to find where the next head starts. On an
//! HTTP/2 connection it bounds and times header blocks instead (`header_blocks`), and fails the
//! connection on a violation, since no HTTP/1 answer fits there. On both it bounds how long a
//! response write may wait for a client that does not read ([`write`]); on HTTP/1 it also
//! bounds how far pipelined requests run ahead of the answers the client takes ([`pipeline`]).
//!
//! On a refusal the reader sees the end of the stream; actix-http finishes what it has in hand
//! and shuts the connection down, and the answer is written just before that shutdown, after
//! any response still owed for earlier requests. A malformed chunked body ends the stream the
//! same way at its first bad byte ([`chunked`]), unanswered here: its head has gone on, and the
//! handler answers it, told why by [`MalformedBody`].

mod chunked;
mod pipeline;
mod write;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};

pub use self::chunked::{ChunkFault, MalformedBody};
use self::chunked::{ChunkedBody, Followed};
use self::pipeline::Pipeline;
use super::head_check::{Framing, Violation, check_head};
use super::header_blocks::HeaderBlocks;

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
    pipeline: Pipeline,
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
            pipeline: Pipeline::default(),
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

    /// Whether the next byte begins a request head that must wait for the pipeline to open.
    fn held_back(&self) -> bool {
        matches!(self.position, Position::Head) && self.head.is_empty() && !self.pipeline.is_open()
    }

    /// Follows `data` through the request stream; returns how many of its bytes may be passed
    /// on now: all of them, unless a head is refused or begins while the pipeline is full.
    fn follow(&mut self, mut data: &[u8]) -> usize {
        let total = data.len();
        while !data.is_empty() {
            if self.held_back() {
                return total - data.len();
            }
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
            self.pipeline.head_passed();
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
        if let Position::Http2(_) = this.position {
            return this.poll_read_http2(cx, buf);
        }
        if this.held_back() {
            return this.pipeline.wait(cx);
        }
        let before = buf.filled().len();
        let from_held = this.pipeline.holds_bytes();
        if from_held {
            this.pipeline.copy_held(buf);
        } else {
            match Pin::new(&mut this.io).poll_read(cx, buf) {
                Poll::Ready(Ok(())) => {}
                Poll::Pending => {
                    if this.late(Some(cx)) {
                        this.refuse(Violation::Timeout);
                        return Poll::Ready(Ok(()));
                    }
                    return Poll::Pending;
                }
                failed => return failed,
            }
        }
        let read = &buf.filled()[before..];
        let kept = this.follow(read);
        if from_held {
            this.pipeline.consumed(kept);
        } else if this.refusal.is_none() {
            this.pipeline.hold(&read[kept..]);
        }
        buf.set_filled(before + kept);
        // A head trickling in byte by byte never leaves the reader waiting.
        if this.refusal.is_none() && this.late(None) {
            this.refuse(Violation::Timeout);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> HeadGuard<T> {
    /// Reads HTTP/2 frames, measuring and timing their header blocks.
    fn poll_read_http2(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let Position::Http2(blocks) = &mut self.position else {
                    return Poll::Ready(Ok(()));
                };
                blocks
                    .follow(&buf.filled()[before..])
                    .map_err(http2_failure)?;
                let in_block = blocks.in_block();
                if in_block && !self.timing {
                    self.deadline.as_mut().reset(Instant::now() + self.timeout);
                }
                self.timing = in_block;
                if self.late(None) {
                    return Poll::Ready(Err(http2_failure(Violation::Timeout)));
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending if self.late(Some(cx)) => {
                Poll::Ready(Err(http2_failure(Violation::Timeout)))
            }
            polled => polled,
        }
    }
}

/// How an HTTP/2 connection is failed: h2 ends it on the read error, as at its own bounds.
fn http2_failure(violation: Violation) -> io::Error {
    log::debug!("failed an HTTP/2 connection: {violation:?}");
    io::Error::new(io::ErrorKind::InvalidData, format!("{violation:?}"))
}

#[cfg(test)]
mod tests;
