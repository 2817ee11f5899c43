//! One HTTP/2 stream: its request handed to the proxy app as actix-http's `Request` (with the
//! stream's responder for interim responses), the app's response sent back through h2 under
//! flow control, a client that opens no window for it cut off after the send timeout.

use std::cell::RefCell;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_http::error::PayloadError;
use actix_http::{BoxedPayloadStream, HttpMessage, Payload, Request, Response, ResponseHead};
use actix_service::Service;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{StatusCode, Version};
use bytes::Bytes;
use futures_util::Stream;
use h2::server::SendResponse;
use h2::{Reason, RecvStream, SendStream};

use super::AppService;
use crate::http_types::{self, Unrepresentable};
use crate::interim::{InterimResponses, StreamResponder};
use crate::origin::ListenerScheme;
use crate::proxy::{BodyToStreamEnd, OverStreamBudget, is_hop_by_hop};

/// The most body asked of h2's flow control at once: its default frame size, as actix-http.
const CHUNK: usize = 16_384;

/// Why a response did not reach its end (logged at debug: the client's doing, or the body's).
#[derive(Debug, thiserror::Error)]
enum Unsent {
    #[error("stream: {0}")]
    Stream(#[from] h2::Error),
    #[error("response body: {0}")]
    Body(Box<dyn std::error::Error>),
    #[error("response body ended {0} bytes short of its length")]
    Short(u64),
    #[error("the client opened no flow-control window for {0:?}")]
    Stalled(Duration),
}

/// Serves one stream to its end.
pub(super) async fn serve(
    request: http::Request<RecvStream>,
    responder: SendResponse<Bytes>,
    app: Rc<AppService>,
    peer: Option<SocketAddr>,
    admitted: bool,
    send_timeout: Duration,
) {
    let responder = StreamResponder::new(responder);
    let bodiless = request.method() == http::Method::HEAD;
    if awaits_continue(&request) {
        let _ = responder
            .send
            .borrow_mut()
            .send_informational(continue_head());
    }
    let response = match to_actix(request, peer, &responder) {
        Ok(request) => {
            if !admitted {
                // The app answers it (429, with the request id and a log line like any other).
                request.extensions_mut().insert(OverStreamBudget);
            }
            // A client that resets the stream no longer wants the answer: the proxy's work
            // is dropped with it, its upstream request included (nginx's default too,
            // `proxy_ignore_client_abort off`).
            let reset = poll_fn(|cx| responder.send.borrow_mut().poll_reset(cx));
            tokio::select! {
                answer = app.call(request) => answer.unwrap_or_else(|refusal| refusal),
                _ = reset => return log::debug!("HTTP/2 stream reset by the client"),
            }
        }
        Err(error) => unrepresentable(error),
    };
    if let Err(error) = respond(response, &responder, bodiless, send_timeout).await {
        log::debug!("HTTP/2 response not completed: {error}");
    }
}

/// Whether the client holds its body back until it hears `100 Continue` (RFC 9110 section
/// 10.1.1). Answered at once, as actix-http does for HTTP/1.1: the size limit is checked as
/// the body arrives, and a client left waiting sends it anyway after a second or more.
fn awaits_continue(request: &http::Request<RecvStream>) -> bool {
    !request.body().is_end_stream()
        && request
            .headers()
            .get(http::header::EXPECT)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

fn continue_head() -> http::Response<()> {
    let mut head = http::Response::new(());
    *head.status_mut() = http::StatusCode::CONTINUE;
    head
}

/// The request as the proxy app takes it; marked as arriving over TLS (HTTP/2 is offered only
/// there) and carrying the stream's responder for interim responses.
fn to_actix(
    request: http::Request<RecvStream>,
    peer: Option<SocketAddr>,
    responder: &Rc<StreamResponder>,
) -> Result<Request, Unrepresentable> {
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = http_types::request_head(&parts)?;
    let undeclared = !body.is_end_stream() && !headers.contains_key(header::CONTENT_LENGTH);
    let payload = if body.is_end_stream() {
        Payload::None
    } else {
        let body: BoxedPayloadStream = Box::pin(RequestBody(body));
        Payload::from(body)
    };
    let mut request = Request::with_payload(payload);
    let head = request.head_mut();
    head.method = method;
    head.uri = uri;
    head.version = Version::HTTP_2;
    head.headers = headers;
    head.peer_addr = peer;
    {
        let mut extensions = request.extensions_mut();
        extensions.insert(ListenerScheme::Https);
        extensions.insert(InterimResponses::Http2(responder.clone()));
        if undeclared {
            extensions.insert(BodyToStreamEnd);
        }
    }
    Ok(request)
}

/// A request h2 accepted that actix-http's types cannot hold (none should reach here).
fn unrepresentable(error: Unrepresentable) -> Response<BoxBody> {
    let body = serde_json::json!({ "error": "bad_request", "message": error.to_string() });
    let mut response = Response::with_body(StatusCode::BAD_REQUEST, BoxBody::new(body.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A request body from h2, its flow-control window reopened as the proxy consumes it.
struct RequestBody(RecvStream);

impl Stream for RequestBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let chunk = match ready!(self.0.poll_data(cx)) {
            Some(Ok(chunk)) => chunk,
            Some(Err(error)) => return Poll::Ready(Some(Err(payload_error(error)))),
            None => return Poll::Ready(None),
        };
        match self.0.flow_control().release_capacity(chunk.len()) {
            Ok(()) => Poll::Ready(Some(Ok(chunk))),
            Err(error) => Poll::Ready(Some(Err(payload_error(error)))),
        }
    }
}

fn payload_error(error: h2::Error) -> PayloadError {
    PayloadError::Io(std::io::Error::other(error))
}

/// Sends the head, then the body as the client's flow-control window allows.
async fn respond(
    response: Response<BoxBody>,
    responder: &StreamResponder,
    bodiless: bool,
    send_timeout: Duration,
) -> Result<(), Unsent> {
    let (response, body) = response.into_parts();
    let size = match response.status() {
        StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED => BodySize::None,
        _ => body.size(),
    };
    let head = head_for_h2(response.head(), size);
    let ends = bodiless || size.is_eof();
    let mut stream = responder.send.borrow_mut().send_response(head, ends)?;
    if ends {
        return Ok(());
    }
    let mut remaining = match size {
        BodySize::Sized(length) => Some(length),
        _ => None,
    };
    let mut body = pin!(body);
    while let Some(chunk) = poll_fn(|cx| body.as_mut().poll_next(cx)).await {
        let mut chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => {
                stream.send_reset(Reason::INTERNAL_ERROR);
                return Err(Unsent::Body(error));
            }
        };
        while !chunk.is_empty() {
            let Some(granted) = capacity(&mut stream, chunk.len(), send_timeout).await? else {
                return Ok(()); // the client reset the stream
            };
            let part = chunk.split_to(granted.min(chunk.len()));
            remaining = remaining.map(|n| n.saturating_sub(part.len() as u64));
            // The last DATA frame of a sized body ends the stream: no empty frame after it.
            let last = remaining == Some(0);
            stream.send_data(part, last)?;
            if last {
                return Ok(());
            }
        }
    }
    if let Some(short) = remaining {
        stream.send_reset(Reason::INTERNAL_ERROR);
        return Err(Unsent::Short(short));
    }
    stream.send_data(Bytes::new(), true)?;
    Ok(())
}

/// Waits for window to send up to `wanted` bytes; `None` once the stream is gone. A wait past
/// `send_timeout` resets the stream: its upstream is released, as the head guard does for a
/// connection whose socket stops draining.
async fn capacity(
    stream: &mut SendStream<Bytes>,
    wanted: usize,
    send_timeout: Duration,
) -> Result<Option<usize>, Unsent> {
    stream.reserve_capacity(wanted.min(CHUNK));
    match tokio::time::timeout(send_timeout, poll_fn(|cx| stream.poll_capacity(cx))).await {
        Ok(None) => Ok(None),
        Ok(Some(granted)) => Ok(Some(granted?)),
        Err(_) => {
            stream.send_reset(Reason::CANCEL);
            Err(Unsent::Stalled(send_timeout))
        }
    }
}

/// The response head for h2: without connection fields (RFC 9113 section 8.2.2; proxied
/// responses have lost them already, the balancer's own never had them), its length from the
/// body's, and a `Date` if the response has none (RFC 9110 section 6.6.1).
fn head_for_h2(head: &ResponseHead, size: BodySize) -> http::Response<()> {
    let mut response = http::Response::new(());
    *response.status_mut() = http_types::status(head.status);
    let fields = response.headers_mut();
    let sized = matches!(size, BodySize::Sized(_));
    let mut dated = false;
    for (name, value) in head.headers.iter() {
        match *name {
            header::CONTENT_LENGTH if sized => continue,
            header::DATE => dated = true,
            _ if is_hop_by_hop(name) => continue,
            _ => {}
        }
        http_types::append_field(fields, name, value);
    }
    if let BodySize::Sized(length) = size {
        fields.insert(http::header::CONTENT_LENGTH, length.into());
    }
    if !dated {
        fields.insert(http::header::DATE, now_as_http_date());
    }
    response
}

/// The current time as an HTTP date, formatted once a second per thread.
fn now_as_http_date() -> http::HeaderValue {
    thread_local! {
        static LAST: RefCell<(u64, Option<http::HeaderValue>)> = const { RefCell::new((0, None)) };
    }
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    LAST.with_borrow_mut(|(at, value)| match value {
        Some(value) if *at == second => value.clone(),
        _ => {
            let fresh = http::HeaderValue::from_str(&httpdate::fmt_http_date(now))
                .expect("an HTTP date is a field value");
            *at = second;
            *value = Some(fresh.clone());
            fresh
        }
    })
}
