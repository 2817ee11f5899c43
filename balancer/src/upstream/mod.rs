//! HTTP/1.1 to the backends: a per-thread pool of keep-alive connections, the request head
//! (and a small body) written with one system call, the response head parsed with httparse,
//! and the body handed on as it arrives.
//!
//! Timeouts: connecting has its own; every write to the backend and the wait for the response
//! head after the request is sent are bounded by the response timeout. Waiting for the client's
//! body is not: a slow client is the client's stream's business, never the backend's fault.
//!
//! Why not awc: the proxy's plain forwarding ran at 0.71-0.79x nginx's requests/s through awc,
//! which spends per request a boxed pool future, a semaphore permit, a SipHash lookup, two
//! 8 KiB codec buffers and a freshly spawned date-service timer task (awc 3.11
//! `client/h1proto.rs` builds `ClientCodec::default()` each time). The exchange here does none
//! of that; `loadtest/bench-proxy` has the figures. awc still runs the health checks.

mod body;
mod body_decoder;
mod error;
#[cfg(test)]
mod framing_properties;
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

pub use error::{BodyError, UpstreamError};
pub use request::{OutgoingBody, RequestHead};

use body::{BodyReader, PoolCheckin};
use pool::{Pool, SlotRef};
use request::{COALESCE_BYTES, Framing, encode_chunk};
use response::{BodyFraming, ResponseHead, parse_head};

/// Response heads larger than this are refused.
const MAX_HEAD_BYTES: usize = 64 << 10;
/// How often each thread's pool closes expired idle connections.
const SWEEP_PERIOD: Duration = Duration::from_secs(1);

/// One worker thread's client: its connections are never shared with another thread.
pub struct UpstreamClient {
    pool: Rc<Pool>,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl UpstreamClient {
    /// `max_idle_per_backend` idle connections are kept per backend, each at most
    /// `idle_timeout`; `response_timeout` bounds every write to the backend and the wait for
    /// the response head once the request is sent. Call on the thread that will use it: it
    /// starts that thread's pool sweeper.
    pub fn new(
        connect_timeout: Duration,
        response_timeout: Duration,
        max_idle_per_backend: usize,
        idle_timeout: Duration,
    ) -> Self {
        let pool = Rc::new(Pool::new(max_idle_per_backend, idle_timeout));
        actix_web::rt::spawn(Pool::sweep_every(Rc::downgrade(&pool), SWEEP_PERIOD));
        Self {
            pool,
            connect_timeout,
            response_timeout,
        }
    }

    /// Sends `head` and `body` to the backend at `authority` (`host:port`) and returns once
    /// the final response head has arrived; interim ones (but `100 Continue`) are handed to
    /// `interim` as they come. A replayable `body` is left intact for a retry elsewhere.
    pub async fn send(
        &self,
        authority: &str,
        request: &RequestHead,
        body: &mut OutgoingBody,
        interim: &mut dyn FnMut(StatusCode, &HeaderMap),
    ) -> Result<UpstreamResponse, UpstreamError> {
        let slot = self.pool.slot(authority);
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
        if let Some(stream) = self.pool.checkout(&slot) {
            match self
                .exchange(stream, &slot, method, &head, rest.as_deref_mut(), interim)
                .await
            {
                // The backend may have closed this idle connection just as it was reused. If
                // not a byte came back, the request was not acted on (RFC 9112 section 9.3.1),
                // and a replayable idempotent one is sent again on a new connection.
                Err(ExchangeError::Unanswered(error))
                    if replayable
                        && matches!(*method, Method::GET | Method::HEAD)
                        && error.blames_backend() => {}
                result => return result.map_err(ExchangeError::into_error),
            }
        }
        let stream = self.connect(authority).await?;
        self.exchange(stream, &slot, method, &head, rest, interim)
            .await
            .map_err(ExchangeError::into_error)
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

    /// Writes `bytes`, failing as a timeout when the backend stops reading for too long.
    async fn write(&self, stream: &mut TcpStream, bytes: &[u8]) -> Result<(), ExchangeError> {
        // The socket almost always takes a head at once: then no timer is armed at all.
        let written = match stream.try_write(bytes) {
            Ok(written) => written,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => 0,
            Err(error) => return Err(ExchangeError::unanswered(error)),
        };
        let rest = &bytes[written..];
        if rest.is_empty() {
            return Ok(());
        }
        match tokio::time::timeout(self.response_timeout, stream.write_all(rest)).await {
            Ok(written) => written.map_err(ExchangeError::unanswered),
            Err(_) => Err(ExchangeError::Unanswered(UpstreamError::Timeout)),
        }
    }

    /// One request and response head over `stream`; `body` is what did not fit in `head`.
    async fn exchange(
        &self,
        mut stream: TcpStream,
        slot: &SlotRef,
        method: &Method,
        head: &Bytes,
        body: Option<&mut OutgoingBody>,
        interim: &mut dyn FnMut(StatusCode, &HeaderMap),
    ) -> Result<UpstreamResponse, ExchangeError> {
        self.write(&mut stream, head).await?;
        if let Some(body) = body {
            self.send_body(&mut stream, body).await?;
        }
        let mut buf = BytesMut::with_capacity(4 << 10);
        let head = tokio::time::timeout(
            self.response_timeout,
            read_head(&mut stream, &mut buf, method, interim),
        )
        .await
        .map_err(|_| ExchangeError::Answered(UpstreamError::Timeout))??;
        let return_to = PoolCheckin {
            pool: self.pool.clone(),
            slot: slot.clone(),
        };
        Ok(UpstreamResponse::new(head, stream, buf, return_to))
    }

    /// Relays the body after the head: exactly the declared length, or chunked. The client's
    /// stream enforces the size limit and its own timeouts; this enforces the framing, since a
    /// byte past a declared `Content-Length` would reach the backend as another request.
    async fn send_body(
        &self,
        stream: &mut TcpStream,
        body: &mut OutgoingBody,
    ) -> Result<(), ExchangeError> {
        let framing = body.framing();
        let source = match body {
            OutgoingBody::Empty => return Ok(()),
            OutgoingBody::Full(bytes) => return self.write(stream, bytes).await,
            OutgoingBody::Stream { stream: source, .. } => source,
        };
        let client_fault = |error: BodyError| ExchangeError::Unanswered(error.into());
        let mut sent = 0u64;
        let mut frame = BytesMut::new();
        while let Some(chunk) = source.next().await {
            let chunk = chunk.map_err(client_fault)?;
            if chunk.is_empty() {
                continue;
            }
            sent += chunk.len() as u64;
            match framing {
                Framing::Length(declared) if sent > declared => {
                    return Err(client_fault(BodyError::LengthMismatch { declared }));
                }
                Framing::Chunked => {
                    encode_chunk(&mut frame, &chunk);
                    self.write(stream, &frame.split()).await?;
                }
                _ => self.write(stream, &chunk).await?,
            }
        }
        match framing {
            Framing::Length(declared) if sent != declared => {
                Err(client_fault(BodyError::LengthMismatch { declared }))
            }
            Framing::Chunked => {
                encode_chunk(&mut frame, b"");
                self.write(stream, &frame).await
            }
            _ => Ok(()),
        }
    }
}

/// Reads until a final response head is complete. Interim 1xx responses (RFC 9110 section
/// 15.2) go to `interim`, never into the response: they are not a response to store. A `101`
/// is refused: no switch was asked for. A `100 Continue` is dropped: it answers the `Expect`
/// that actix-http already answered the client for.
async fn read_head(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    method: &Method,
    interim: &mut dyn FnMut(StatusCode, &HeaderMap),
) -> Result<ResponseHead, ExchangeError> {
    // After an interim response, a close is no longer a request left unanswered.
    let mut interim_seen = false;
    loop {
        if let Some((used, head)) = parse_head(buf, method).map_err(ExchangeError::Answered)? {
            let _ = buf.split_to(used);
            if head.status == StatusCode::SWITCHING_PROTOCOLS {
                return Err(ExchangeError::Answered(UpstreamError::Malformed(
                    "101 Switching Protocols without an Upgrade request",
                )));
            }
            // Interim responses (100 Continue, 102 Processing, 103 Early Hints) precede the
            // final one on the same connection.
            if head.status.is_informational() {
                if head.status != StatusCode::CONTINUE {
                    interim(head.status, &head.headers);
                }
                interim_seen = true;
                continue;
            }
            return Ok(head);
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(ExchangeError::Answered(UpstreamError::Malformed(
                "response head too large",
            )));
        }
        let answered = interim_seen || !buf.is_empty();
        let read = poll_fn(|cx| read_more(stream, buf, cx)).await;
        match read {
            Ok(0) if answered => return Err(ExchangeError::Answered(UpstreamError::Closed)),
            Ok(0) => return Err(ExchangeError::Unanswered(UpstreamError::Closed)),
            Ok(_) => {}
            Err(error) if answered => return Err(ExchangeError::Answered(error.into())),
            Err(error) => return Err(ExchangeError::unanswered(error)),
        }
    }
}

/// A failed exchange, split by whether any response byte arrived.
enum ExchangeError {
    Unanswered(UpstreamError),
    Answered(UpstreamError),
}

impl ExchangeError {
    fn unanswered(error: std::io::Error) -> Self {
        Self::Unanswered(error.into())
    }

    fn into_error(self) -> UpstreamError {
        match self {
            Self::Unanswered(error) | Self::Answered(error) => error,
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
    fn new(
        head: ResponseHead,
        stream: TcpStream,
        mut buf: BytesMut,
        return_to: PoolCheckin,
    ) -> Self {
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
                    return_to.pool.checkin(&return_to.slot, stream);
                }
                ResponseBody::Complete(Some(bytes))
            }
            None => {
                ResponseBody::Reading(BodyReader::new(stream, buf, framing, keep_alive, return_to))
            }
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

    /// The headers, moved out (an empty map is left): the client's response takes them over
    /// instead of copying them field by field.
    pub fn take_headers(&mut self) -> HeaderMap {
        std::mem::take(&mut self.headers)
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
