//! Builds and binds the public and admin servers, starts the health checker and (in local mode)
//! the worker supervisor, and stops everything in order. Callable in-process on port 0.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use actix_http::HttpService;
use actix_service::{IntoServiceFactory, ServiceFactoryExt, map_config};
use actix_web::dev::{AppConfig, ServerHandle};
use actix_web::{App, HttpServer, web};

use crate::admin::{self, AdminState};
use crate::admission::{Admission, Admitted};
use crate::backends::{Backend, BackendSet, MembershipError};
use crate::cache::HttpCache;
use crate::configuration::Settings;
use crate::health;
use crate::proxy::{self, ProxyState};
use crate::workers::{Supervisor, WorkerSpec};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{field}: cannot listen on {address}: {source}")]
    Bind {
        field: &'static str,
        address: SocketAddr,
        source: io::Error,
    },
    #[error("workers.command: {0}")]
    WorkerCommand(io::Error),
    #[error("backends: {0}")]
    Backends(#[from] MembershipError),
}

/// A running balancer.
pub struct Balancer {
    public_address: SocketAddr,
    admin_address: SocketAddr,
    admin_token: String,
    token_generated: bool,
    backends: Arc<BackendSet>,
    public: ServerHandle,
    admin: ServerHandle,
    supervisor: Option<Supervisor>,
    health: actix_web::rt::task::JoinHandle<()>,
}

impl Balancer {
    /// Binds both listeners and starts everything; call inside an actix system.
    pub fn start(settings: Settings) -> Result<Self, StartupError> {
        raise_open_file_limit(settings.proxy.max_connections);
        let backends = Arc::new(BackendSet::new(settings.algorithm));
        for spec in &settings.backends {
            backends.add(Backend::new(
                spec.address.clone(),
                spec.weight,
                false,
                spec.name.as_deref(),
            ))?;
        }
        let cache = HttpCache::new(&settings.cache).map(Arc::new);
        let (admin_token, token_generated) = match &settings.admin_token {
            Some(token) => (token.clone(), false),
            None => (generate_token(), true),
        };
        let spec = if settings.managed_workers() {
            Some(WorkerSpec::new(&settings.workers).map_err(StartupError::WorkerCommand)?)
        } else {
            None
        };

        let proxy_state =
            web::Data::new(ProxyState::new(&settings, backends.clone(), cache.clone()));
        let (public, public_address) = public_server(&settings, proxy_state)?;

        let supervisor =
            spec.map(|spec| Supervisor::start(spec, backends.clone(), settings.workers.count));
        let admin_state = web::Data::new(AdminState {
            backends: backends.clone(),
            cache,
            workers: supervisor.clone(),
            token: admin_token.clone(),
        });
        let admin = HttpServer::new(move || {
            App::new()
                .app_data(admin_state.clone())
                .configure(admin::configure)
        })
        .workers(1)
        .shutdown_timeout(1)
        .disable_signals()
        .bind(settings.admin_listen)
        .map_err(|source| StartupError::Bind {
            field: "admin_listen",
            address: settings.admin_listen,
            source,
        })?;
        let admin_address = admin.addrs()[0];

        let admin = admin.run();
        let handles = (public.handle(), admin.handle());
        actix_web::rt::spawn(public);
        actix_web::rt::spawn(admin);
        let health = actix_web::rt::spawn(health::run(backends.clone(), settings.health.clone()));
        Ok(Self {
            public_address,
            admin_address,
            admin_token,
            token_generated,
            backends,
            public: handles.0,
            admin: handles.1,
            supervisor,
            health,
        })
    }

    pub fn public_address(&self) -> SocketAddr {
        self.public_address
    }

    pub fn admin_address(&self) -> SocketAddr {
        self.admin_address
    }

    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    pub fn backends(&self) -> &Arc<BackendSet> {
        &self.backends
    }

    /// Prints the announced lines: listener URLs, the generated token, then `stack ready` once a
    /// backend is healthy.
    pub fn announce(&self) {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "balancer listening on http://{}", self.public_address);
        let _ = writeln!(out, "admin listening on http://{}", self.admin_address);
        if self.token_generated {
            let _ = writeln!(out, "admin token: {}", self.admin_token);
        }
        let _ = out.flush();
        let backends = self.backends.clone();
        actix_web::rt::spawn(async move {
            backends.wait_until_any_healthy().await;
            let mut out = io::stdout().lock();
            let _ = writeln!(out, "stack ready");
            let _ = out.flush();
        });
    }

    /// Stops accepting, lets in-flight requests finish, then stops the workers.
    pub async fn shutdown(self) {
        self.public.stop(true).await;
        self.admin.stop(true).await;
        if let Some(supervisor) = &self.supervisor {
            supervisor.shutdown().await;
        }
        self.health.abort();
        log::info!("balancer stopped");
    }
}

/// The public listener: actix-http under our own connection admission, with the proxy as its
/// only handler. Built from the parts `HttpServer` uses, because `HttpServer` offers no place
/// to refuse a connection before its requests are parsed.
fn public_server(
    settings: &Settings,
    state: web::Data<ProxyState>,
) -> Result<(actix_server::Server, SocketAddr), StartupError> {
    let bind_error = |source| StartupError::Bind {
        field: "listen",
        address: settings.listen,
        source,
    };
    let listener = std::net::TcpListener::bind(settings.listen).map_err(bind_error)?;
    let address = listener.local_addr().map_err(bind_error)?;
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
            let state = state.clone();
            let proxy = proxy.clone();
            let app = App::new()
                .app_data(state)
                .app_data(web::Data::new(proxy::upstream_client(&proxy)))
                .default_service(web::to(proxy::handle))
                .into_factory()
                .map_err(|error: actix_web::Error| error.as_response_error().error_response());
            let shutdown = shutdown.clone();
            let http = HttpService::build()
                .keep_alive(proxy.keep_alive)
                .client_request_timeout(proxy.client_request_timeout)
                .client_disconnect_timeout(std::time::Duration::from_secs(1))
                .local_addr(address)
                .graceful_shutdown_signal(move || {
                    let shutdown = shutdown.clone();
                    async move { shutdown.notified().await }
                })
                .finish(map_config(app, |_| AppConfig::default()))
                .tcp();
            Admitted {
                inner: http,
                admission: admission.clone(),
            }
        })
        .map_err(bind_error)?
        .run();
    Ok((server, address))
}

/// Raises the soft open-file limit to the hard one, as nginx's `worker_rlimit_nofile` would
/// (distributions start services at 1024), and warns when the configured connection bound
/// does not fit: each client connection may hold an upstream socket too.
fn raise_open_file_limit(max_connections: usize) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    let available = if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    let needed = 2 * max_connections as u64 + 1024;
    if needed > available {
        log::warn!(
            "proxy.max_connections = {max_connections} needs about {needed} open files but the \
             limit is {available}: raise it (systemd LimitNOFILE=, ulimit -n) or lower the bound"
        );
    }
}

/// 32 hex characters from the OS random source.
fn generate_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn stop_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

/// Runs a balancer until SIGINT/SIGTERM, then shuts it down cleanly.
pub async fn run(settings: Settings) -> Result<(), StartupError> {
    let balancer = Balancer::start(settings)?;
    balancer.announce();
    stop_signal().await;
    log::info!("stopping");
    balancer.shutdown().await;
    Ok(())
}
