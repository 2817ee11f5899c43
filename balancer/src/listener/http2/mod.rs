//! HTTP/2 on the TLS listener, served by h2 0.4 instead of actix-http's dispatcher (h2 0.3),
//! because that one cannot do what an edge must: send an interim response (browsers act on
//! `103 Early Hints` only over HTTP/2), announce `SETTINGS_MAX_CONCURRENT_STREAMS`, close an
//! idle connection with GOAWAY rather than ping it forever, or bound a response whose client
//! never opens its flow-control window. Requests go to the same proxy app as HTTP/1 (an instance
//! per worker), each stream a task on the worker's thread ([`stream`]).
//!
//! h2 0.4 brings its own defences, kept by tests/http2.rs: rapid reset and "MadeYouReset" (reset
//! streams counted, GOAWAY ENHANCE_YOUR_CALM), floods of small DATA frames. The header block
//! bound and its timer stay in the head guard under it.

mod stream;

use std::cell::Cell;
use std::net::SocketAddr;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use actix_http::{Request, Response};
use actix_service::boxed::{BoxService, BoxServiceFactory};
use actix_web::body::BoxBody;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, sleep};

use super::admission::StreamBudget;
use super::head_guard::GuardTimeouts;

/// The proxy app as a stream calls it; errors are responses already.
pub(super) type AppService = BoxService<Request, Response<BoxBody>, Response<BoxBody>>;
/// What makes an [`AppService`] on each worker.
pub(super) type AppFactory =
    BoxServiceFactory<(), Request, Response<BoxBody>, Response<BoxBody>, ()>;

/// Streams one connection may have open, announced in SETTINGS; a client that opens more has
/// them refused (REFUSED_STREAM). nginx's `http2_max_concurrent_streams` default.
const MAX_STREAMS: u32 = 128;

/// Flow-control windows for request bodies, actix-http's (and awc's) defaults: 1 MiB a stream,
/// 2 MiB a connection, so an upload is not held to the 64 KiB of the protocol default.
const STREAM_WINDOW: u32 = 1 << 20;
const CONNECTION_WINDOW: u32 = 2 << 20;

/// How long a closing connection with no stream open waits for the client to acknowledge the
/// GOAWAY (h2 pings, then sends the final GOAWAY) before it is dropped.
const DRAIN: Duration = Duration::from_secs(1);

/// How one listener's HTTP/2 connections are run, besides the head guard's timeouts (the head
/// timeout bounds the client's preface and first SETTINGS; a response waiting the send timeout
/// for flow-control window has its stream reset).
#[derive(Clone)]
pub(super) struct Http2Settings {
    /// A connection with no stream open this long is closed with GOAWAY.
    pub keep_alive: Duration,
    pub shutdown: actix_server::GracefulShutdownSignal,
}

/// Serves one HTTP/2 connection until it closes, fails or idles out; each stream takes a place
/// in `streams`, its client address's budget, or is answered 429 without reaching the app.
pub(super) async fn serve<T>(
    io: T,
    app: Rc<AppService>,
    peer: Option<SocketAddr>,
    streams: StreamBudget,
    settings: &Http2Settings,
    timeouts: GuardTimeouts,
) where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let handshake = h2::server::Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_concurrent_streams(MAX_STREAMS)
        .handshake::<T, Bytes>(io);
    let mut connection = match tokio::time::timeout(timeouts.head, handshake).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => return log::debug!("HTTP/2 handshake failed: {error}"),
        Err(_) => return log::debug!("HTTP/2 handshake timed out"),
    };
    let activity = Rc::new(Activity::new());
    let mut timer = pin!(sleep(settings.keep_alive));
    let mut shutdown = pin!(settings.shutdown.notified());
    let mut closing = false;
    loop {
        tokio::select! {
            accepted = connection.accept() => match accepted {
                Some(Ok((request, responder))) => {
                    let open = Activity::open(&activity);
                    let slot = streams.begin();
                    let (app, send_timeout) = (app.clone(), timeouts.send);
                    // Boxed: the stream's future (1.5 KB) is then copied once, into the box,
                    // not each time the runtime moves it into its task.
                    actix_web::rt::spawn(Box::pin(async move {
                        let admitted = slot.is_some();
                        stream::serve(request, responder, app, peer, admitted, send_timeout).await;
                        drop((slot, open));
                    }));
                }
                Some(Err(error)) => return log::debug!("HTTP/2 connection failed: {error}"),
                None => return,
            },
            () = &mut timer => {
                let quiet_for = if closing { DRAIN } else { settings.keep_alive };
                let now = Instant::now();
                match activity.quiet_since() {
                    Some(since) if since + quiet_for <= now => {
                        if closing {
                            return;
                        }
                        connection.graceful_shutdown();
                        closing = true;
                        timer.as_mut().reset(now + DRAIN);
                    }
                    Some(since) => timer.as_mut().reset(since + quiet_for),
                    None => timer.as_mut().reset(now + quiet_for),
                }
            },
            () = &mut shutdown, if !closing => {
                connection.graceful_shutdown();
                closing = true;
                timer.as_mut().reset(Instant::now() + DRAIN);
            },
        }
    }
}

/// A connection's open streams, and since when none has been open.
struct Activity {
    open: Cell<usize>,
    quiet_since: Cell<Instant>,
}

/// One open stream, counted until dropped.
struct Open(Rc<Activity>);

impl Activity {
    fn new() -> Self {
        Self {
            open: Cell::new(0),
            quiet_since: Cell::new(Instant::now()),
        }
    }

    fn open(this: &Rc<Self>) -> Open {
        this.open.set(this.open.get() + 1);
        Open(this.clone())
    }

    /// `None` while a stream is open.
    fn quiet_since(&self) -> Option<Instant> {
        (self.open.get() == 0).then(|| self.quiet_since.get())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        let activity = &self.0;
        activity.open.set(activity.open.get() - 1);
        if activity.open.get() == 0 {
            activity.quiet_since.set(Instant::now());
        }
    }
}
