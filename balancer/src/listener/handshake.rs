//! What happens between admitting a connection and handing it to actix-http (HTTP/1) or our
//! HTTP/2 dispatcher: nothing on the plain listener; on the TLS listener a handshake bounded by
//! the client request timeout, whose ALPN result picks HTTP/2 or HTTP/1.1. Also how each turns
//! a connection away.

use std::future::{Future, ready};
use std::sync::Arc;
use std::time::Duration;

use actix_http::Protocol;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::head_guard::GuardTimeouts;
use super::{HeadGuard, refuse};
use crate::interim::InterimWriter;

pub(super) trait Handshake: Clone + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + 'static;

    /// The connection ready for HTTP, or `None` when the handshake failed (logged).
    fn accept(
        &self,
        stream: TcpStream,
        timeouts: GuardTimeouts,
    ) -> impl Future<Output = Option<(Self::Io, Protocol)>> + 'static;

    /// Turns away a connection over the bounds with `answer`.
    fn refuse(&self, stream: TcpStream, answer: Bytes) -> impl Future<Output = ()> + 'static;
}

/// The plain listener: HTTP/1 through the head guard.
#[derive(Clone)]
pub(super) struct Plain;

impl Handshake for Plain {
    type Io = InterimWriter<HeadGuard<TcpStream>>;

    fn accept(
        &self,
        stream: TcpStream,
        timeouts: GuardTimeouts,
    ) -> impl Future<Output = Option<(Self::Io, Protocol)>> + 'static {
        ready(Some((
            InterimWriter::http1(HeadGuard::new(stream, timeouts)),
            Protocol::Http1,
        )))
    }

    fn refuse(&self, stream: TcpStream, answer: Bytes) -> impl Future<Output = ()> + 'static {
        refuse(stream, answer)
    }
}

/// The TLS listener.
#[derive(Clone)]
pub(super) struct Tls {
    acceptor: TlsAcceptor,
    timeout: Duration,
}

impl Tls {
    pub(super) fn new(config: Arc<rustls::ServerConfig>, timeout: Duration) -> Self {
        Self {
            acceptor: TlsAcceptor::from(config),
            timeout,
        }
    }
}

impl Handshake for Tls {
    type Io = InterimWriter<HeadGuard<TlsStream<TcpStream>>>;

    fn accept(
        &self,
        stream: TcpStream,
        timeouts: GuardTimeouts,
    ) -> impl Future<Output = Option<(Self::Io, Protocol)>> + 'static {
        let handshake = self.acceptor.accept(stream);
        let timeout = self.timeout;
        async move {
            let stream = match tokio::time::timeout(timeout, handshake).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    log::debug!("TLS handshake failed: {error}");
                    return None;
                }
                Err(_) => {
                    log::debug!("TLS handshake timed out");
                    return None;
                }
            };
            if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                let io = InterimWriter::http2(HeadGuard::http2(stream, timeouts));
                Some((io, Protocol::Http2))
            } else {
                let io = InterimWriter::http1(HeadGuard::new(stream, timeouts));
                Some((io, Protocol::Http1))
            }
        }
    }

    /// Closes the connection unanswered: a plain-text answer is unreadable to a TLS client,
    /// and a handshake to encrypt one would spend on the connections the bound turns away
    /// the very CPU it protects.
    fn refuse(&self, stream: TcpStream, _answer: Bytes) -> impl Future<Output = ()> + 'static {
        drop(stream);
        ready(())
    }
}
