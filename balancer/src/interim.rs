//! Interim (1xx) responses on their way to the client (RFC 9110 section 15.2): on HTTP/1.1, the
//! per-connection queue the proxy fills when a backend sends one and the I/O layer under
//! actix-http that writes it; on HTTP/2, the stream's own sender (h2 0.4 sends them as HEADERS
//! frames ahead of the final response, in order).
//!
//! actix-http 3 can send no 1xx of a handler's own, so on HTTP/1.1 they go around it, at the one
//! moment the byte stream is theirs: when actix-http flushes, its buffer is empty, and everything
//! it wrote belongs to earlier responses (pipelined requests are answered one after another, and
//! the handler whose response comes next waits in [`InterimResponses::written`] until its interim
//! heads are out, so its own response cannot overtake them). A leaf module: the listener wraps
//! connections and streams, the proxy queues heads, neither imports the other for it.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker, ready};

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use bytes::{Buf, Bytes, BytesMut};
use h2::server::SendResponse;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::http_types;

/// More interim bytes than this waiting for a client that does not read are dropped (on
/// HTTP/2: sent on one stream): 1xx responses are advisory, and a backend must not fill the
/// balancer's memory through them.
const MAX_QUEUED_BYTES: usize = 64 << 10;

/// Where one request's interim responses go.
#[derive(Clone)]
pub enum InterimResponses {
    /// The HTTP/1.1 connection's queue (its connection data).
    Http1(ConnectionQueue),
    /// The HTTP/2 stream's responder (the request's extensions), shared with the dispatcher,
    /// which sends the final response through it.
    Http2(Rc<StreamResponder>),
}

/// An HTTP/2 stream's responder and the interim bytes it has sent.
pub struct StreamResponder {
    pub send: RefCell<SendResponse<Bytes>>,
    interim_bytes: Cell<usize>,
}

impl StreamResponder {
    pub fn new(send: SendResponse<Bytes>) -> Rc<Self> {
        Rc::new(Self {
            send: RefCell::new(send),
            interim_bytes: Cell::new(0),
        })
    }
}

impl InterimResponses {
    /// Sends or queues an interim response with the header fields `headers` (already filtered
    /// to the end-to-end ones). Returns false when it was dropped: the connection or stream is
    /// closing or too much is queued already.
    pub fn push<'a>(
        &self,
        status: StatusCode,
        headers: impl Iterator<Item = (&'a HeaderName, &'a HeaderValue)>,
    ) -> bool {
        match self {
            Self::Http1(queue) => queue.push(status, headers),
            // h2 queues HEADERS frames without flow control, so a client that does not read
            // would let a backend's 1xx pile up: a stream takes 64 KiB of them at most
            // (HPACK's measure: name, value and 32 per field).
            Self::Http2(responder) => {
                let mut head = http::Response::new(());
                *head.status_mut() = http_types::status(status);
                let mut size = 32;
                for (name, value) in headers {
                    size += name.as_str().len() + value.len() + 32;
                    http_types::append_field(head.headers_mut(), name, value);
                }
                let sent = responder.interim_bytes.get() + size;
                if sent > MAX_QUEUED_BYTES {
                    return false;
                }
                responder.interim_bytes.set(sent);
                responder.send.borrow_mut().send_informational(head).is_ok()
            }
        }
    }

    /// Resolves once everything queued is written (or can no longer be): the handler awaits
    /// this before it returns the final response, which must not overtake them. h2 keeps a
    /// stream's frames in order itself.
    pub async fn written(&self) {
        if let Self::Http1(queue) = self {
            queue.written().await;
        }
    }
}

/// One HTTP/1.1 connection's interim responses not yet written.
#[derive(Clone, Default)]
pub struct ConnectionQueue(Rc<RefCell<Queue>>);

#[derive(Default)]
struct Queue {
    bytes: BytesMut,
    /// Part of `bytes` is on the wire: the rest must follow before anything else.
    started: bool,
    /// The connection is gone or shutting down: nothing more will be written.
    closed: bool,
    /// The handler waiting for the queue to empty.
    waiter: Option<Waker>,
}

impl ConnectionQueue {
    fn push<'a>(
        &self,
        status: StatusCode,
        headers: impl Iterator<Item = (&'a HeaderName, &'a HeaderValue)>,
    ) -> bool {
        let mut head = BytesMut::with_capacity(256);
        head.extend_from_slice(b"HTTP/1.1 ");
        head.extend_from_slice(status.as_str().as_bytes());
        head.extend_from_slice(b" ");
        head.extend_from_slice(reason(status).as_bytes());
        head.extend_from_slice(b"\r\n");
        for (name, value) in headers {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        let mut queue = self.0.borrow_mut();
        if queue.closed || queue.bytes.len() + head.len() > MAX_QUEUED_BYTES {
            return false;
        }
        queue.bytes.extend_from_slice(&head);
        true
    }

    async fn written(&self) {
        poll_fn(|cx| {
            let mut queue = self.0.borrow_mut();
            if queue.bytes.is_empty() || queue.closed {
                return Poll::Ready(());
            }
            queue.waiter = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Writes what is queued to `io`.
    fn poll_write_queued<T: AsyncWrite + Unpin>(
        &self,
        io: &mut T,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let mut queue = self.0.borrow_mut();
        while !queue.bytes.is_empty() {
            let written = ready!(Pin::new(&mut *io).poll_write(cx, &queue.bytes))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            queue.bytes.advance(written);
            queue.started = !queue.bytes.is_empty();
        }
        if let Some(waiter) = queue.waiter.take() {
            waiter.wake();
        }
        Poll::Ready(Ok(()))
    }

    fn close(&self) {
        let mut queue = self.0.borrow_mut();
        queue.closed = true;
        queue.bytes.clear();
        if let Some(waiter) = queue.waiter.take() {
            waiter.wake();
        }
    }

    fn started(&self) -> bool {
        self.0.borrow().started
    }
}

/// The reason phrase: the http crate knows none for 103 (RFC 8297).
fn reason(status: StatusCode) -> &'static str {
    match status.as_u16() {
        103 => "Early Hints",
        _ => status.canonical_reason().unwrap_or(""),
    }
}

/// The I/O layer that writes a connection's interim responses between actix-http's writes.
pub struct InterimWriter<T> {
    io: T,
    queue: Option<ConnectionQueue>,
}

impl<T> InterimWriter<T> {
    /// An HTTP/1.1 connection, which gets a queue.
    pub fn http1(io: T) -> Self {
        Self {
            io,
            queue: Some(ConnectionQueue::default()),
        }
    }

    /// An HTTP/2 connection: nothing is ever written around h2's frames; its streams send
    /// their own.
    pub fn http2(io: T) -> Self {
        Self { io, queue: None }
    }

    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// The queue the connection's requests push to, if it has one.
    pub fn responses(&self) -> Option<InterimResponses> {
        self.queue.clone().map(InterimResponses::Http1)
    }

    /// A partly written interim head is finished before any other byte.
    fn poll_finish_started(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>
    where
        T: AsyncWrite + Unpin,
    {
        match &self.queue {
            Some(queue) if queue.started() => queue.poll_write_queued(&mut self.io, cx),
            _ => Poll::Ready(Ok(())),
        }
    }
}

impl<T> Drop for InterimWriter<T> {
    fn drop(&mut self) {
        if let Some(queue) = &self.queue {
            queue.close();
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for InterimWriter<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for InterimWriter<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_finish_started(cx))?;
        Pin::new(&mut this.io).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_finish_started(cx))?;
        Pin::new(&mut this.io).poll_write_vectored(cx, data)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    /// actix-http flushes only once its own buffer is written: the queued interim heads go
    /// out here, between the responses before them and the one they precede.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(queue) = &this.queue {
            ready!(queue.poll_write_queued(&mut this.io, cx))?;
        }
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(queue) = &this.queue {
            queue.close();
        }
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
