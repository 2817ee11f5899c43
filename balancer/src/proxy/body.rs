//! Bodies: a client's request body is buffered when small (so a failed connect can be retried)
//! and streamed otherwise, in both cases held to its declared length, the size limit and the
//! client timeout; an upstream response body streams back holding the backend's in-flight slot
//! until it ends.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodyStream, BoxBody, MessageBody, SizedStream};
use actix_web::error::PayloadError;
use actix_web::http::header::HeaderMap;
use actix_web::http::{Method, Version, header};
use actix_web::{HttpMessage, HttpRequest, web};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::time::{Instant, Sleep};

use super::ProxyError;
use super::ProxySettings;
use crate::backends::InFlight;
use crate::listener::MalformedBody;
use crate::upstream::{BodyError, OutgoingBody};

/// How the client delimits its request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFraming {
    None,
    Length(u64),
    /// Of a length known only at its end: chunked (HTTP/1.1), or an HTTP/2 stream's DATA
    /// without `Content-Length` (RFC 9113 section 8.1.1).
    Chunked,
}

/// Marks an HTTP/2 request whose body runs to the end of its stream with no `Content-Length`
/// (set by the listener's HTTP/2 dispatcher, which alone sees the stream).
pub struct BodyToStreamEnd;

impl RequestFraming {
    /// The framing actix-http decoded the body with: chunked (HTTP/1.1 only) or by length, or
    /// the HTTP/2 stream's end. actix-http itself refuses a request carrying both chunked and
    /// a length, the classic smuggling ambiguity.
    pub fn of(req: &HttpRequest) -> Self {
        let headers = req.headers();
        let chunked = match req.version() {
            Version::HTTP_11 => headers
                .get(header::TRANSFER_ENCODING)
                .is_some_and(|v| v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"chunked")),
            Version::HTTP_2 => req.extensions().contains::<BodyToStreamEnd>(),
            _ => false,
        };
        if chunked {
            return Self::Chunked;
        }
        match headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
        {
            Some(0) | None => Self::None,
            Some(n) => Self::Length(n),
        }
    }
}

/// Reads or wraps the client's body according to its framing.
pub async fn prepare(
    req: &HttpRequest,
    framing: RequestFraming,
    payload: web::Payload,
    settings: &ProxySettings,
) -> Result<OutgoingBody, ProxyError> {
    let limit = settings.max_body_bytes;
    if let RequestFraming::Length(n) = framing
        && n > limit
    {
        return Err(BodyError::TooLarge { limit }.into());
    }
    let declared = match framing {
        RequestFraming::None if matches!(*req.method(), Method::GET | Method::HEAD) => {
            return Ok(OutgoingBody::Empty);
        }
        RequestFraming::None => return Ok(OutgoingBody::Full(Bytes::new())),
        RequestFraming::Length(n) => Some(n),
        RequestFraming::Chunked => None,
    };
    let mut body = ClientBody::new(payload, declared, limit, settings.client_request_timeout);
    body.malformed = req.conn_data::<MalformedBody>().cloned();
    match declared {
        // A small body has the whole client timeout to arrive, not that much per byte.
        Some(n) if n <= settings.retry_buffer_bytes => {
            let read = async {
                let mut buffer = BytesMut::with_capacity(n as usize);
                while let Some(chunk) = body.next().await {
                    buffer.extend_from_slice(&chunk?);
                }
                Ok::<_, BodyError>(buffer.freeze())
            };
            match tokio::time::timeout(settings.client_request_timeout, read).await {
                Ok(buffered) => Ok(OutgoingBody::Full(buffered?)),
                Err(_) => Err(BodyError::Timeout.into()),
            }
        }
        // Streams once: a request carrying it cannot be retried.
        _ => Ok(OutgoingBody::Stream {
            stream: Box::pin(body),
            length: declared,
        }),
    }
}

/// The client's body as it arrives, failing once it passes the size limit or its declared
/// length, ends short of it, or stalls for longer than the client timeout.
struct ClientBody {
    payload: web::Payload,
    declared: Option<u64>,
    limit: u64,
    received: u64,
    idle: Duration,
    stall: Pin<Box<Sleep>>,
    done: bool,
    /// Why an HTTP/1 connection's stream ended inside a chunked body, if it did.
    malformed: Option<MalformedBody>,
}

impl ClientBody {
    fn new(payload: web::Payload, declared: Option<u64>, limit: u64, idle: Duration) -> Self {
        Self {
            payload,
            declared,
            limit,
            received: 0,
            idle,
            stall: Box::pin(tokio::time::sleep(idle)),
            done: false,
            malformed: None,
        }
    }

    /// What a failed read of the body means for the client.
    fn failure(&self, error: PayloadError) -> BodyError {
        match (
            self.malformed.as_ref().and_then(MalformedBody::fault),
            error,
        ) {
            (Some(fault), _) => BodyError::MalformedChunks(fault.describe()),
            (None, PayloadError::Incomplete(_)) => {
                BodyError::Incomplete("the connection ended before the body did".into())
            }
            (None, error) => BodyError::Incomplete(error.to_string()),
        }
    }

    fn check(&self) -> Result<(), BodyError> {
        if self.received > self.limit {
            return Err(BodyError::TooLarge { limit: self.limit });
        }
        match self.declared {
            Some(declared) if self.received > declared => {
                Err(BodyError::LengthMismatch { declared })
            }
            _ => Ok(()),
        }
    }
}

impl Stream for ClientBody {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let item = match this.payload.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.received += chunk.len() as u64;
                this.stall.as_mut().reset(Instant::now() + this.idle);
                this.check().map(|()| chunk)
            }
            Poll::Ready(Some(Err(error))) => Err(this.failure(error)),
            Poll::Ready(None) => {
                this.done = true;
                return match this.declared {
                    Some(declared) if this.received < declared => {
                        Poll::Ready(Some(Err(BodyError::LengthMismatch { declared })))
                    }
                    _ => Poll::Ready(None),
                };
            }
            Poll::Pending => match this.stall.as_mut().poll(cx) {
                Poll::Ready(()) => Err(BodyError::Timeout),
                Poll::Pending => return Poll::Pending,
            },
        };
        this.done = item.is_err();
        Poll::Ready(Some(item))
    }
}

/// The upstream response body, keeping the backend counted as in flight until it is done.
pub struct Guarded<S> {
    pub inner: S,
    /// Held, not read: dropping it ends the in-flight count.
    pub _in_flight: InFlight,
}

impl<S, E> Stream for Guarded<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// A response body for a stream of known or unknown length.
pub fn streamed<S, E>(stream: S, length: Option<u64>) -> BoxBody
where
    S: Stream<Item = Result<Bytes, E>> + 'static,
    E: Into<Box<dyn std::error::Error>> + 'static,
{
    match length {
        Some(length) => SizedStream::new(length, stream).boxed(),
        None => BodyStream::new(stream).boxed(),
    }
}

/// The `Content-Length` a message declares, if any.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
}
