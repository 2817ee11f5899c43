//! Bodies: a client's request body is buffered when small (so a failed connect can be retried)
//! and streamed with a size limit otherwise; an upstream response body streams back holding the
//! backend's in-flight slot until it ends.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodyStream, BoxBody, MessageBody, SizedStream};
use actix_web::error::PayloadError;
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, web};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use super::ProxyError;
use crate::backends::InFlight;
use crate::configuration::ProxySettings;
use crate::upstream::OutgoingBody;

/// Reads or wraps the client's body according to its declared size.
pub async fn prepare(
    req: &HttpRequest,
    mut payload: web::Payload,
    settings: &ProxySettings,
) -> Result<OutgoingBody, ProxyError> {
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
    if length.is_some_and(|n| n > settings.max_body_bytes) {
        return Err(ProxyError::PayloadTooLarge {
            limit: settings.max_body_bytes,
        });
    }
    match (length, chunked) {
        (None | Some(0), false) if matches!(*req.method(), Method::GET | Method::HEAD) => {
            Ok(OutgoingBody::Empty)
        }
        (None | Some(0), false) => Ok(OutgoingBody::Full(Bytes::new())),
        (Some(n), false) if n <= settings.retry_buffer_bytes => {
            let read = async {
                let mut buffer = BytesMut::with_capacity(n as usize);
                while let Some(chunk) = payload.next().await {
                    buffer.extend_from_slice(
                        &chunk.map_err(|e| ProxyError::RequestBody(e.to_string()))?,
                    );
                }
                Ok(buffer.freeze())
            };
            match tokio::time::timeout(settings.client_request_timeout, read).await {
                Ok(body) => body.map(OutgoingBody::Full),
                Err(_) => Err(ProxyError::RequestBodyTimeout),
            }
        }
        // Streams once: a request carrying it cannot be retried.
        _ => Ok(OutgoingBody::Stream {
            stream: Box::pin(Limited {
                payload,
                remaining: settings.max_body_bytes,
            }),
            length,
        }),
    }
}

/// A request body stream that fails once it exceeds the configured maximum.
pub struct Limited {
    payload: web::Payload,
    remaining: u64,
}

impl Stream for Limited {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match this.payload.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => match this.remaining.checked_sub(chunk.len() as u64) {
                Some(left) => {
                    this.remaining = left;
                    Poll::Ready(Some(Ok(chunk)))
                }
                None => Poll::Ready(Some(Err(PayloadError::Overflow))),
            },
            other => other,
        }
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

/// The body of a HEAD response: no bytes, but the `Content-Length` a GET would have.
pub fn head_body(length: u64) -> BoxBody {
    SizedStream::new(
        length,
        futures_util::stream::empty::<Result<Bytes, PayloadError>>(),
    )
    .boxed()
}
