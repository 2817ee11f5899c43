//! The public listeners: each accepted connection is admitted (connection bounds), then, on the
//! TLS listener, handshaken (bounded in time), then read through the request-head guard by
//! actix-http for HTTP/1 (under the writer of interim responses) or by our HTTP/2 dispatcher
//! ([`http2`]), whose requests go to the proxy. Built from the parts `HttpServer` uses, because
//! `HttpServer` offers no place to refuse a connection before its requests are parsed, nor to
//! answer a head its parser refuses.

mod admission;
mod guarded;
mod handshake;
mod head_check;
mod head_guard;
mod header_blocks;
mod hsts;
mod http2;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_http::error::DispatchError;
use actix_http::{HttpService, Protocol, Request, Response};
use actix_service::{IntoServiceFactory, ServiceFactory, ServiceFactoryExt, map_config};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{AppConfig, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderValue;
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, web};
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub use admission::{Admission, AdmissionBounds, Refusal};
pub use head_check::{MAX_HEAD_BYTES, host_is_valid};
pub use head_guard::{HeadGuard, MalformedBody};

use crate::acme::ChallengeTokens;
use crate::configuration::{ProxySettings, Settings};
use crate::interim::InterimWriter;
use crate::proxy::{self, ListenerScheme, ProxyState};
use crate::tls::{self, HttpsPort};
use crate::upstream::UpstreamClient;
use guarded::Guarded;
use handshake::{Plain, Tls};
use head_guard::GuardTimeouts;
use http2::Http2Settings;

/// How long a refused connection is kept to deliver its answer.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// Binds a public listening socket. Not `std::net::TcpListener::bind`, whose backlog is 128
/// (actix-server's `backlog` applies only to sockets it binds itself): a burst of new
/// connections beyond it has its handshakes dropped and retried a second later.
pub fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Connections the kernel holds for accepting, as nginx's `listen ... backlog=4096`.
const BACKLOG: i32 = 4096;

/// The bound sockets of the public listeners.
pub struct PublicSockets {
    pub plain: TcpListener,
    /// The TLS listener and its rustls configuration.
    pub tls: Option<(TcpListener, Arc<rustls::ServerConfig>)>,
}

/// Starts the public server on `sockets` (not yet polled). Both listeners share the
/// connection bounds; the plain one answers ACME HTTP-01 challenges from `challenges`.
pub fn public_server(
    settings: &Settings,
    state: web::Data<ProxyState>,
    sockets: PublicSockets,
    challenges: Option<ChallengeTokens>,
) -> std::io::Result<actix_server::Server> {
    let proxy = settings.proxy.clone();
    let bounds = AdmissionBounds {
        max_connections: proxy.max_connections,
        max_connections_per_address: proxy.max_connections_per_ip,
        max_streams_per_address: proxy.max_streams_per_ip,
    };
    let admission = Arc::new(Admission::new(bounds, proxy.trusted_proxies.clone()));
    let builder = actix_server::Server::build()
        .workers(settings.proxy_threads())
        .backlog(BACKLOG as u32)
        .shutdown_timeout(proxy.shutdown_timeout.as_secs())
        .disable_signals();
    let shutdown = builder.graceful_shutdown_signal();
    let plain_address = sockets.plain.local_addr()?;
    let tls_address = match &sockets.tls {
        Some((socket, _)) => Some(socket.local_addr()?),
        None => None,
    };
    let redirect = settings
        .tls
        .redirect_http
        .then_some(tls_address)
        .flatten()
        .map(|address| HttpsPort(address.port()));
    let hsts = settings.tls.hsts.map(|seconds| {
        HeaderValue::from_str(&format!("max-age={seconds}")).expect("digits are a header value")
    });
    let parts = ListenerParts {
        state,
        proxy: proxy.clone(),
        shutdown,
        redirect,
        hsts,
        challenges,
        scheme: ListenerScheme::Http,
        address: plain_address,
    };
    let plain = parts.clone();
    let timeouts = GuardTimeouts {
        head: proxy.client_request_timeout,
        send: proxy.send_timeout,
    };
    let admission_plain = admission.clone();
    let mut builder = builder.listen("public", sockets.plain, move || {
        Guarded::new(
            plain.http_service(&plain.upstream_client()),
            admission_plain.clone(),
            Plain,
            timeouts,
        )
    })?;
    if let (Some((socket, config)), Some(address)) = (sockets.tls, tls_address) {
        let secure = ListenerParts {
            scheme: ListenerScheme::Https,
            address,
            ..parts
        };
        let handshake = Tls::new(config, proxy.client_request_timeout);
        let http2 = Http2Settings {
            keep_alive: proxy.keep_alive,
            shutdown: secure.shutdown.clone(),
        };
        builder = builder.listen("public-tls", socket, move || {
            // One upstream connection pool per worker, shared by HTTP/1 and HTTP/2.
            let upstream = secure.upstream_client();
            Guarded::new(
                secure.http_service(&upstream),
                admission.clone(),
                handshake.clone(),
                timeouts,
            )
            .with_http2(secure.http2_app(&upstream), http2.clone())
        })?;
    }
    Ok(builder.run())
}

/// What one public listener's HTTP service is built from, once per worker thread.
#[derive(Clone)]
struct ListenerParts {
    state: web::Data<ProxyState>,
    proxy: ProxySettings,
    shutdown: actix_server::GracefulShutdownSignal,
    redirect: Option<HttpsPort>,
    hsts: Option<HeaderValue>,
    challenges: Option<ChallengeTokens>,
    scheme: ListenerScheme,
    address: SocketAddr,
}

impl ListenerParts {
    fn upstream_client(&self) -> web::Data<UpstreamClient> {
        web::Data::new(proxy::upstream_client(&self.proxy))
    }

    /// The proxy app. On the plain listener, ACME challenges are answered here when ACME
    /// runs, and with `--redirect-http` everything else is redirected; on the TLS listener
    /// HSTS is added when configured.
    fn app(
        &self,
        upstream: &web::Data<UpstreamClient>,
    ) -> impl ServiceFactory<
        Request,
        Config = (),
        Response = ServiceResponse<impl MessageBody + 'static + use<>>,
        Error = Response<BoxBody>,
        InitError = (),
    >
    + 'static
    + use<> {
        let hsts = self
            .hsts
            .clone()
            .filter(|_| self.scheme == ListenerScheme::Https);
        let mut app = App::new()
            .app_data(self.state.clone())
            .app_data(upstream.clone());
        if let Some(tokens) = &self.challenges
            && self.scheme == ListenerScheme::Http
        {
            app = app.configure(|config| tokens.configure(config));
        }
        app = match self
            .redirect
            .filter(|_| self.scheme == ListenerScheme::Http)
        {
            Some(port) => app
                .app_data(web::Data::new(port))
                .route(
                    "/.well-known/acme-challenge/{token:.*}",
                    web::to(proxy::handle),
                )
                .default_service(web::to(tls::to_https)),
            None => app.default_service(web::to(proxy::handle)),
        };
        let app = app
            .wrap(Condition::new(
                hsts.is_some(),
                from_fn(move |req, next| hsts::apply(req, next, hsts.clone())),
            ))
            .into_factory()
            .map_err(|error: actix_web::Error| error.as_response_error().error_response().into());
        map_config(app, |_| AppConfig::default())
    }

    /// The app in actix-http, for HTTP/1 connections over `T`.
    fn http_service<T>(
        &self,
        upstream: &web::Data<UpstreamClient>,
    ) -> impl ServiceFactory<
        (InterimWriter<HeadGuard<T>>, Protocol, Option<SocketAddr>),
        Config = (),
        Response = (),
        Error = DispatchError,
        InitError = (),
    > + use<T>
    where
        T: AsyncRead + AsyncWrite + Unpin + 'static,
    {
        let shutdown = self.shutdown.clone();
        let builder = HttpService::build()
            .keep_alive(self.proxy.keep_alive)
            // The guard times every HTTP/1 head; actix-http's own timer (first head only,
            // empty 408) stays as a backstop behind it.
            .client_request_timeout(self.proxy.client_request_timeout + Duration::from_secs(1))
            .client_disconnect_timeout(Duration::from_secs(1))
            .local_addr(self.address)
            .graceful_shutdown_signal(move || {
                let shutdown = shutdown.clone();
                async move { shutdown.notified().await }
            });
        // A connection without the mark is plain HTTP (`ListenerScheme::of`).
        let scheme = self.scheme;
        let builder =
            builder.on_connect_ext(move |io: &InterimWriter<HeadGuard<T>>, extensions| {
                if let Some(interim) = io.responses() {
                    extensions.insert(interim);
                }
                extensions.insert(io.get_ref().malformed_body());
                if scheme == ListenerScheme::Https {
                    extensions.insert(scheme);
                }
            });
        builder.finish(self.app(upstream))
    }

    /// The app as our HTTP/2 dispatcher calls it: bodies boxed, one type for every app.
    fn http2_app(&self, upstream: &web::Data<UpstreamClient>) -> http2::AppFactory {
        let app = self.app(upstream);
        actix_service::boxed::factory(
            app.map(|response: ServiceResponse<_>| response.map_into_boxed_body().into()),
        )
    }
}

/// A short JSON error answer written straight to a connection, for refusals made before or
/// around actix-http. It always closes the connection.
fn raw_answer(status: StatusCode, code: &str, message: &str) -> Bytes {
    let body = serde_json::json!({ "error": code, "message": message }).to_string();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nconnection: close\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    if matches!(
        status,
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
    ) {
        head.push_str("retry-after: 1\r\n");
    }
    head.push_str("\r\n");
    head.push_str(&body);
    Bytes::from(head)
}

/// Answers a refused connection and closes it. The write half is shut first and what the
/// client already sent is read away briefly, so the close does not turn into a reset that
/// destroys the answer before the client reads it.
async fn refuse(mut stream: TcpStream, answer: Bytes) {
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        stream.write_all(&answer).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// More connections than std's backlog of 128 wait unaccepted, and each completes its
    /// TCP handshake at once instead of having its SYN dropped.
    #[test]
    fn a_burst_beyond_128_waiting_connections_is_held() {
        let listener = super::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let address = listener.local_addr().unwrap();
        // Each stays open, waiting in the queue, until the test ends.
        let mut waiting = Vec::new();
        for n in 0..300 {
            let connected =
                std::net::TcpStream::connect_timeout(&address, Duration::from_millis(500));
            waiting.push(connected.unwrap_or_else(|error| panic!("connection {n}: {error}")));
        }
    }
}
