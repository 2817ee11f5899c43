//! HTTP/1.1 to the backends: a per-thread pool of keep-alive connections, the request head
//! (and a small body) written with one system call, the response head parsed with httparse,
//! and the body handed on as it arrives.
//!
//! Why not awc: the proxy's plain forwarding ran at 0.71-0.79x nginx's requests/s through awc,
//! which spends per request a boxed pool future, a semaphore permit, a SipHash lookup, two
//! 8 KiB codec buffers and a freshly spawned date-service timer task (awc 3.11
//! `client/h1proto.rs` builds `ClientCodec::default()` each time). The exchange here does none
//! of that; `loadtest/bench-proxy` has the figures. awc still runs the health checks.

mod body;
mod error;
mod pool;
mod request;
mod response;

use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::http::header::HeaderMap;
use actix_web::http::{Method, StatusCode};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

pub use error::UpstreamError;
pub use request::{OutgoingBody, RequestHead};

use body::{BodyReader, Home};
use pool::Pool;
use request::{COALESCE_BYTES, encode_chunk};
use response::{BodyFraming, ResponseHead, parse_head};

/// Response heads larger than this are refused.
const MAX_HEAD_BYTES: usize = 64 << 10;

/// One worker thread's client: its connections are never shared with another thread.
pub struct UpstreamClient {
    pool: Rc<Pool>,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl UpstreamClient {
    /// `max_idle_per_backend` idle connections are kept per backend; `response_timeout` bounds
    /// everything from the connect to the end of the response head.
    pub fn new(
        connect_timeout: Duration,
        response_timeout: Duration,
        max_idle_per_backend: usize,
    ) -> Self {
        Self {
            pool: Rc::new(Pool::new(max_idle_per_backend)),
            connect_timeout,
            response_timeout,
        }
    }

    /// Sends `head` and `body` to the backend at `authority` (`host:port`) and returns once
    /// the response head has arrived. A replayable `body` is left intact for a retry elsewhere.
    pub async fn send(
        &self,
        authority: &str,
        head: &RequestHead,
        body: &mut OutgoingBody,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let slot = self.pool.slot(authority);
        let exchange = self.exchange(authority, slot, head, body);
        match tokio::time::timeout(self.response_timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(UpstreamError::Timeout),
        }
    }

    async fn exchange(
        &self,
        authority: &str,
        slot: usize,
        request: &RequestHead,
        body: &mut OutgoingBody,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let method = request.method();
        let replayable = body.replayable();
        let mut head = request.wire(authority, body);
        let mut rest = Some(body);
        if let Some(OutgoingBody::Full(bytes)) = rest.as_deref()
            && bytes.len() <= COALESCE_BYTES
        {
            head.extend_from_slice(bytes);
            rest = None;
        }
        let head = head.freeze();
        if let Some(stream) = self.pool.checkout(slot) {
            match self
                .over(stream, slot, method, &head, rest.as_deref_mut())
                .await
            {
                // The backend may have closed this idle connection just as it was reused. If
                // not a byte came back, the request was not acted on (RFC 9112 section 9.3.1),
                // and a replayable idempotent one is sent again on a new connection.
                Err(Exchange::Unanswered(_))
                    if replayable && matches!(*method, Method::GET | Method::HEAD) => {}
                result => return result.map_err(Exchange::into_error),
            }
        }
        let stream = self.connect(authority).await?;
        self.over(stream, slot, method, &head, rest)
            .await
            .map_err(Exchange::into_error)
    }

    async fn connect(&self, authority: &str) -> Result<TcpStream, UpstreamError> {
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(authority))
            .await
            .map_err(|_| UpstreamError::ConnectTimeout)?
            .map_err(UpstreamError::Connect)?;
        // Heads and small bodies leave in one write each; Nagle would only delay them.
        stream.set_nodelay(true).map_err(UpstreamError::Connect)?;
        Ok(stream)
    }

    /// One request and response head over `stream`; `body` is what did not fit in `head`.
    async fn over(
        &self,
        mut stream: TcpStream,
        slot: usize,
        method: &Method,
        head: &Bytes,
        body: Option<&mut OutgoingBody>,
    ) -> Result<UpstreamResponse, Exchange> {
        stream.write_all(head).await.map_err(Exchange::unanswered)?;
        if let Some(body) = body {
            send_body(&mut stream, body).await?;
        }
        let mut buf = BytesMut::with_capacity(4 << 10);
        let head = loop {
            if let Some((used, head)) = parse_head(&buf, method).map_err(Exchange::Answered)? {
                let _ = buf.split_to(used);
                // Interim responses (100 Continue, 103 Early Hints) precede the real one.
                if head.status.is_informational() {
                    continue;
                }
                break head;
            }
            if buf.len() > MAX_HEAD_BYTES {
                return Err(Exchange::Answered(UpstreamError::Malformed(
                    "response head too large",
                )));
            }
            let answered = !buf.is_empty();
            let read = poll_fn(|cx| read_more(&mut stream, &mut buf, cx)).await;
            match read {
                Ok(0) if answered => return Err(Exchange::Answered(UpstreamError::Closed)),
                Ok(0) => return Err(Exchange::Unanswered(UpstreamError::Closed)),
                Ok(_) => {}
                Err(error) if answered => return Err(Exchange::Answered(error.into())),
                Err(error) => return Err(Exchange::unanswered(error)),
            }
        };
        let home = Home {
            pool: self.pool.clone(),
            slot,
        };
        Ok(UpstreamResponse::new(head, stream, buf, home))
    }
}

/// A failed exchange, split by whether any response byte arrived.
enum Exchange {
    Unanswered(UpstreamError),
    Answered(UpstreamError),
}

impl Exchange {
    fn unanswered(error: std::io::Error) -> Self {
        Self::Unanswered(error.into())
    }

    fn into_error(self) -> UpstreamError {
        match self {
            Self::Unanswered(error) | Self::Answered(error) => error,
        }
    }
}

async fn send_body(stream: &mut TcpStream, body: &mut OutgoingBody) -> Result<(), Exchange> {
    match body {
        OutgoingBody::Empty => Ok(()),
        OutgoingBody::Full(bytes) => stream.write_all(bytes).await.map_err(Exchange::unanswered),
        OutgoingBody::Stream {
            stream: source,
            length,
        } => {
            let chunked = length.is_none();
            let mut frame = BytesMut::new();
            while let Some(chunk) = source.next().await {
                let chunk = chunk
                    .map_err(|e| Exchange::Unanswered(UpstreamError::RequestBody(e.to_string())))?;
                if chunk.is_empty() {
                    continue;
                }
                if chunked {
                    encode_chunk(&mut frame, &chunk);
                    stream.write_all(&frame.split()).await
                } else {
                    stream.write_all(&chunk).await
                }
                .map_err(Exchange::unanswered)?;
            }
            if chunked {
                encode_chunk(&mut frame, b"");
                stream
                    .write_all(&frame)
                    .await
                    .map_err(Exchange::unanswered)?;
            }
            Ok(())
        }
    }
}

fn read_more(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<std::io::Result<usize>> {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(8 << 10);
    }
    tokio_util::io::poll_read_buf(Pin::new(stream), cx, buf)
}

/// A response from a backend: its head, and its body either complete or still arriving.
pub struct UpstreamResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: ResponseBody,
}

enum ResponseBody {
    /// The whole body came with the head (taken once streamed or handed out).
    Complete(Option<Bytes>),
    Reading(BodyReader),
}

impl UpstreamResponse {
    fn new(head: ResponseHead, stream: TcpStream, mut buf: BytesMut, home: Home) -> Self {
        let ResponseHead {
            status,
            headers,
            framing,
            keep_alive,
        } = head;
        let complete = match framing {
            BodyFraming::Empty => Some(Bytes::new()),
            BodyFraming::Length(n) if buf.len() as u64 >= n => {
                Some(buf.split_to(n as usize).freeze())
            }
            _ => None,
        };
        let body = match complete {
            Some(bytes) => {
                // Nothing may follow a response on a connection that is reused.
                if keep_alive && buf.is_empty() {
                    home.pool.checkin(home.slot, stream);
                }
                ResponseBody::Complete(Some(bytes))
            }
            None => ResponseBody::Reading(BodyReader::new(stream, buf, framing, keep_alive, home)),
        };
        Self {
            status,
            headers,
            body,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The whole body, if it arrived with the head and has not been read yet.
    pub fn take_complete_body(&mut self) -> Option<Bytes> {
        match &mut self.body {
            ResponseBody::Complete(bytes) => bytes.take(),
            ResponseBody::Reading(_) => None,
        }
    }
}

impl Stream for UpstreamResponse {
    type Item = std::io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match &mut self.get_mut().body {
            ResponseBody::Complete(bytes) => {
                Poll::Ready(bytes.take().filter(|b| !b.is_empty()).map(Ok))
            }
            ResponseBody::Reading(reader) => Pin::new(reader).poll_next(cx),
        }
    }
}
