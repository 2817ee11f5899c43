//! The public listener: each accepted connection is admitted (connection bounds), then read
//! through the request-head guard by actix-http, whose requests go to the proxy. Built from the
//! parts `HttpServer` uses, because `HttpServer` offers no place to refuse a connection before
//! its requests are parsed, nor to answer a head its parser refuses.

mod admission;
mod head_check;
mod head_guard;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_http::{HttpService, Protocol};
use actix_service::{IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt, map_config};
use actix_web::dev::AppConfig;
use actix_web::http::StatusCode;
use actix_web::{App, web};
use bytes::Bytes;
use futures_util::future::LocalBoxFuture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use admission::{Admission, Refusal};
pub use head_guard::HeadGuard;

use crate::configuration::Settings;
use crate::proxy::{self, ProxyState};

/// How long a refused connection is kept to deliver its answer.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// Binds the public listener and starts its server (not yet polled).
pub fn public_server(
    settings: &Settings,
    state: web::Data<ProxyState>,
) -> std::io::Result<(actix_server::Server, SocketAddr)> {
    let listener = std::net::TcpListener::bind(settings.listen)?;
    let address = listener.local_addr()?;
    let proxy = settings.proxy.clone();
    let admission = Arc::new(Admission::new(
        proxy.max_connections,
        proxy.max_connections_per_ip,
        proxy.trusted_proxies.clone(),
    ));
    let builder = actix_server::Server::build()
        .workers(settings.threads)
        .backlog(4096)
        .shutdown_timeout(proxy.shutdown_timeout.as_secs())
        .disable_signals();
    let shutdown = builder.graceful_shutdown_signal();
    let server = builder
        .listen("public", listener, move || {
            let app = App::new()
                .app_data(state.clone())
                .app_data(web::Data::new(proxy::upstream_client(&proxy)))
                .default_service(web::to(proxy::handle))
                .into_factory()
                .map_err(|error: actix_web::Error| error.as_response_error().error_response());
            let shutdown = shutdown.clone();
            let http = HttpService::build()
                .keep_alive(proxy.keep_alive)
                // The guard times every head; actix-http's own timer (first head only, empty
                // 408) stays as a backstop behind it.
                .client_request_timeout(proxy.client_request_timeout + Duration::from_secs(1))
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(address)
                .graceful_shutdown_signal(move || {
                    let shutdown = shutdown.clone();
                    async move { shutdown.notified().await }
                })
                .finish(map_config(app, |_| AppConfig::default()));
            Guarded {
                http,
                admission: admission.clone(),
                head_timeout: proxy.client_request_timeout,
            }
        })?
        .run();
    Ok((server, address))
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

/// The listener's service factory: admission and the head guard in front of actix-http.
struct Guarded<F> {
    http: F,
    admission: Arc<Admission>,
    head_timeout: Duration,
}

type Connection = (HeadGuard<TcpStream>, Protocol, Option<SocketAddr>);

impl<F> ServiceFactory<TcpStream> for Guarded<F>
where
    F: ServiceFactory<Connection, Config = (), Response = ()>,
    F::Service: 'static,
    F::Future: 'static,
    <F::Service as Service<Connection>>::Future: 'static,
{
    type Response = ();
    type Error = F::Error;
    type Config = ();
    type Service = GuardedService<F::Service>;
    type InitError = F::InitError;
    type Future = LocalBoxFuture<'static, Result<Self::Service, F::InitError>>;

    fn new_service(&self, config: ()) -> Self::Future {
        let http = self.http.new_service(config);
        let (admission, head_timeout) = (self.admission.clone(), self.head_timeout);
        Box::pin(async move {
            Ok(GuardedService {
                http: http.await?,
                admission,
                head_timeout,
            })
        })
    }
}

struct GuardedService<S> {
    http: S,
    admission: Arc<Admission>,
    head_timeout: Duration,
}

impl<S> Service<TcpStream> for GuardedService<S>
where
    S: Service<Connection, Response = ()>,
    S::Future: 'static,
{
    type Response = ();
    type Error = S::Error;
    type Future = LocalBoxFuture<'static, Result<(), S::Error>>;

    actix_service::forward_ready!(http);

    fn call(&self, stream: TcpStream) -> Self::Future {
        let peer = stream.peer_addr().ok();
        match self.admission.admit(peer.map(|address| address.ip())) {
            Ok(permit) => {
                // Responses leave in whole writes; Nagle would only delay them.
                let _ = stream.set_nodelay(true);
                let io = HeadGuard::new(stream, self.head_timeout);
                let connection = self.http.call((io, Protocol::Http1, peer));
                Box::pin(async move {
                    let served = connection.await;
                    drop(permit);
                    served
                })
            }
            Err(refusal) => {
                log::debug!("refused a connection from {peer:?}: {refusal:?}");
                Box::pin(async move {
                    refuse(stream, refusal.answer()).await;
                    Ok(())
                })
            }
        }
    }
}
