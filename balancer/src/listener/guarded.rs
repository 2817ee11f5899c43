//! The listeners' service factory: admission, then the connection's handshake (none on the
//! plain listener, TLS on the other), in front of actix-http for HTTP/1 and of our HTTP/2
//! dispatcher for what the TLS handshake agreed on as `h2`.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use actix_http::Protocol;
use actix_service::{Service, ServiceFactory};
use futures_util::future::LocalBoxFuture;
use tokio::net::TcpStream;

use super::admission::Admission;
use super::handshake::Handshake;
use super::head_guard::GuardTimeouts;
use super::http2::{self, AppFactory, AppService, Http2Settings};

pub(super) struct Guarded<F, H> {
    http: F,
    admission: Arc<Admission>,
    handshake: H,
    timeouts: GuardTimeouts,
    http2: Option<(AppFactory, Rc<Http2Settings>)>,
}

impl<F, H> Guarded<F, H> {
    pub(super) fn new(
        http: F,
        admission: Arc<Admission>,
        handshake: H,
        timeouts: GuardTimeouts,
    ) -> Self {
        Self {
            http,
            admission,
            handshake,
            timeouts,
            http2: None,
        }
    }

    /// Serves connections whose handshake chose HTTP/2 with `app`.
    pub(super) fn with_http2(mut self, app: AppFactory, settings: Http2Settings) -> Self {
        self.http2 = Some((app, Rc::new(settings)));
        self
    }
}

type Connection<Io> = (Io, Protocol, Option<SocketAddr>);

impl<F, H> ServiceFactory<TcpStream> for Guarded<F, H>
where
    H: Handshake,
    F: ServiceFactory<Connection<H::Io>, Config = (), Response = (), InitError = ()>,
    F::Service: 'static,
    F::Future: 'static,
    <F::Service as Service<Connection<H::Io>>>::Future: 'static,
{
    type Response = ();
    type Error = F::Error;
    type Config = ();
    type Service = GuardedService<F::Service, H>;
    type InitError = F::InitError;
    type Future = LocalBoxFuture<'static, Result<Self::Service, F::InitError>>;

    fn new_service(&self, config: ()) -> Self::Future {
        let http = self.http.new_service(config);
        let http2 = self
            .http2
            .as_ref()
            .map(|(app, settings)| (app.new_service(()), settings.clone()));
        let (admission, handshake) = (self.admission.clone(), self.handshake.clone());
        let timeouts = self.timeouts;
        Box::pin(async move {
            let http2 = match http2 {
                Some((app, settings)) => Some((Rc::new(app.await?), settings)),
                None => None,
            };
            Ok(GuardedService {
                http: Rc::new(http.await?),
                admission,
                handshake,
                timeouts,
                http2,
            })
        })
    }
}

pub(super) struct GuardedService<S, H> {
    http: Rc<S>,
    admission: Arc<Admission>,
    handshake: H,
    timeouts: GuardTimeouts,
    http2: Option<(Rc<AppService>, Rc<Http2Settings>)>,
}

impl<S, H> Service<TcpStream> for GuardedService<S, H>
where
    H: Handshake,
    S: Service<Connection<H::Io>, Response = ()> + 'static,
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
                let handshake = self.handshake.accept(stream, self.timeouts);
                let http = self.http.clone();
                let http2 = self.http2.clone();
                let timeouts = self.timeouts;
                let streams = permit.streams();
                Box::pin(async move {
                    // The permit is held through the handshake: a silent client holds a slot
                    // only until the handshake times out.
                    let Some((io, protocol)) = handshake.await else {
                        return Ok(());
                    };
                    let served = match (protocol, http2) {
                        (Protocol::Http2, Some((app, settings))) => {
                            http2::serve(io, app, peer, streams, &settings, timeouts).await;
                            Ok(())
                        }
                        _ => http.call((io, protocol, peer)).await,
                    };
                    drop(permit);
                    served
                })
            }
            Err(refusal) => {
                log::debug!("refused a connection from {peer:?}: {refusal:?}");
                let refused = self.handshake.refuse(stream, refusal.answer());
                Box::pin(async move {
                    refused.await;
                    Ok(())
                })
            }
        }
    }
}
