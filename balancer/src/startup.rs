//! Builds and binds the public and admin servers, starts the health checker and (in local mode)
//! the worker supervisor, and stops everything in order. Callable in-process on port 0.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};

use crate::acme::{self, AcmeError, ChallengeTokens};
use crate::admin::{self, AdminState};
use crate::backends::{Backend, BackendSet, MembershipError};
use crate::cache::HttpCache;
use crate::configuration::Settings;
use crate::health;
use crate::listener::{self, PublicSockets};
use crate::proxy::ProxyState;
use crate::tls::{self, CertificateSlot, StaticCertificate, TlsError};
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
    #[error("tls: {0}")]
    Tls(#[from] TlsError),
    #[error("tls: cannot watch for SIGHUP: {0}")]
    Hangup(io::Error),
    #[error("{0}")]
    Acme(#[from] AcmeError),
}

/// A running balancer.
pub struct Balancer {
    public_address: SocketAddr,
    tls_address: Option<SocketAddr>,
    certificates: CertificateSlot,
    admin_address: SocketAddr,
    admin_token: String,
    token_generated: bool,
    backends: Arc<BackendSet>,
    public: ServerHandle,
    admin: ServerHandle,
    supervisor: Option<Supervisor>,
    health: actix_web::rt::task::JoinHandle<()>,
    acme: Option<actix_web::rt::task::JoinHandle<()>>,
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

        let certificates = CertificateSlot::new();
        // The stored ACME certificate goes into the slot before the TLS listener opens.
        let challenges = settings.acme.enabled().then(ChallengeTokens::default);
        let acme = match &challenges {
            Some(tokens) => Some(acme::Manager::start(
                &settings.acme,
                certificates.clone(),
                tokens.clone(),
            )?),
            None => None,
        };
        let sockets = bind_public(&settings, &certificates)?;
        let public_address = local_address(&sockets.plain, "listen", settings.listen)?;
        let tls_address = match (&sockets.tls, settings.tls.listen) {
            (Some((socket, _)), Some(wanted)) => Some(local_address(socket, "tls.listen", wanted)?),
            _ => None,
        };
        let proxy_state =
            web::Data::new(ProxyState::new(&settings, backends.clone(), cache.clone()));
        let public = listener::public_server(&settings, proxy_state, sockets, challenges).map_err(
            |source| StartupError::Bind {
                field: "listen",
                address: settings.listen,
                source,
            },
        )?;

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
        let acme = acme.map(|manager| actix_web::rt::spawn(manager.run()));
        Ok(Self {
            public_address,
            tls_address,
            certificates,
            admin_address,
            admin_token,
            token_generated,
            backends,
            public: handles.0,
            admin: handles.1,
            supervisor,
            health,
            acme,
        })
    }

    pub fn public_address(&self) -> SocketAddr {
        self.public_address
    }

    /// The TLS listener's address, when there is one.
    pub fn tls_address(&self) -> Option<SocketAddr> {
        self.tls_address
    }

    /// The certificate the TLS listener serves; ACME installs into it.
    pub fn certificates(&self) -> &CertificateSlot {
        &self.certificates
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
        if let Some(address) = self.tls_address {
            let _ = writeln!(out, "balancer listening on https://{address}");
        }
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
        if let Some(acme) = &self.acme {
            acme.abort();
        }
        log::info!("balancer stopped");
    }
}

/// Binds the public listeners; with TLS, loads the static certificate (any problem with it
/// stops the start-up) and starts reloading it on SIGHUP.
fn bind_public(settings: &Settings, slot: &CertificateSlot) -> Result<PublicSockets, StartupError> {
    let bind = |field, address| {
        crate::listener::bind(address).map_err(|source| StartupError::Bind {
            field,
            address,
            source,
        })
    };
    let plain = bind("listen", settings.listen)?;
    let files = match (&settings.tls.listen, &settings.tls.cert, &settings.tls.key) {
        (Some(_), Some(cert), Some(key)) => Some(StaticCertificate {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    if let Some(files) = &files {
        let info = files.load_into(slot)?;
        log::info!("serving the TLS certificate {}", tls::describe(&info));
        if !info.is_current(std::time::SystemTime::now()) {
            log::warn!("{}: the certificate is not valid now", files.cert.display());
        }
    }
    let has_files = files.is_some();
    let reload = tls::reload_on_hangup(files, slot.clone()).map_err(StartupError::Hangup)?;
    actix_web::rt::spawn(reload);
    let Some(tls_listen) = settings.tls.listen else {
        return Ok(PublicSockets { plain, tls: None });
    };
    if !has_files && !slot.is_filled() && !settings.acme.enabled() {
        log::warn!("tls.listen has no certificate: TLS handshakes fail until one is installed");
    }
    let config = tls::server_config(slot.clone())?;
    Ok(PublicSockets {
        plain,
        tls: Some((bind("tls.listen", tls_listen)?, config)),
    })
}

fn local_address(
    socket: &std::net::TcpListener,
    field: &'static str,
    address: SocketAddr,
) -> Result<SocketAddr, StartupError> {
    socket.local_addr().map_err(|source| StartupError::Bind {
        field,
        address,
        source,
    })
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
