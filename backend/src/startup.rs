//! Builds the application: opens the store, starts the group committer, binds the listener and
//! assembles the routes, middleware and static files. Tests and the CLI both start it here.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_files::Files;
use actix_web::dev::Server;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use tokio::task::JoinHandle;

use crate::configuration::Settings;
use crate::middleware::{access_log, json_errors, request_id, security_headers};
use crate::routes;
use crate::sentiment;
use crate::store::{self, GroupCommitter, Store, StoreError};

/// Cache lifetimes the routes announce.
#[derive(Debug, Clone, Copy)]
pub struct CachePolicy {
    pub history_max_age: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: io::Error },
}

pub struct Application {
    address: SocketAddr,
    server: Server,
    committer: GroupCommitter,
    writer: JoinHandle<()>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        sentiment::warm_up();
        let store: Arc<dyn Store> = store::open(&settings.store).await?;
        log::info!("storing analyses in the {}", store.describe());
        let (committer, writer) =
            GroupCommitter::start(Arc::clone(&store), settings.store.batch_max);

        let address = format!("{}:{}", settings.host, settings.port);
        let listener = TcpListener::bind(&address).map_err(|source| StartupError::Bind {
            address: address.clone(),
            source,
        })?;
        let bind_error = |source| StartupError::Bind { address, source };
        let local_address = listener.local_addr().map_err(bind_error.clone())?;

        if !settings.static_dir.is_dir() {
            log::warn!(
                "static folder {} does not exist: only the API is served",
                settings.static_dir.display()
            );
        }
        let store = web::Data::from(store);
        let limits = web::Data::new(settings.limits);
        let cache = web::Data::new(CachePolicy {
            history_max_age: settings.history_max_age,
        });
        let static_files = StaticFiles {
            folder: settings.static_dir.clone(),
            max_age: settings.static_max_age,
        };
        let committer_data = web::Data::new(committer.clone());
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(store.clone())
                .app_data(limits.clone())
                .app_data(cache.clone())
                .app_data(committer_data.clone())
                .configure(routes::configure)
                .configure(|config| static_files.mount(config))
                .wrap(from_fn(json_errors))
                .wrap(security_headers())
                .wrap(from_fn(request_id))
                .wrap(from_fn(access_log))
        })
        .shutdown_timeout(settings.shutdown_timeout)
        .backlog(2048)
        .listen(listener)
        .map_err(bind_error)?;
        if let Some(threads) = settings.threads {
            server = server.workers(threads);
        }
        Ok(Self {
            address: local_address,
            server: server.run(),
            committer,
            writer,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until SIGTERM or Ctrl-C, lets in-flight requests finish, then writes whatever the
    /// group committer still holds before returning.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let served = self.server.await;
        drop(self.committer);
        if let Err(error) = self.writer.await {
            log::error!("the store writer stopped abnormally: {error}");
        }
        served
    }
}

/// The frontend folder, with a cache lifetime for everything in it.
#[derive(Clone)]
struct StaticFiles {
    folder: PathBuf,
    max_age: u32,
}

impl StaticFiles {
    fn mount(&self, config: &mut web::ServiceConfig) {
        let cache_control = HeaderValue::from_str(&format!("public, max-age={}", self.max_age))
            .expect("a number makes a valid header");
        config.service(
            web::scope("")
                .wrap(DefaultHeaders::new().add((header::CACHE_CONTROL, cache_control)))
                .service(
                    Files::new("/", &self.folder)
                        .index_file("index.html")
                        .path_filter(|path, _| is_public(path))
                        .use_etag(true)
                        .use_last_modified(true),
                ),
        );
    }
}

/// The frontend folder also holds the page's test tooling; only the page itself is public.
fn is_public(path: &Path) -> bool {
    const PRIVATE: [&str; 4] = ["node_modules", "tests", "package.json", "package-lock.json"];
    path.components().all(|component| {
        let name = component.as_os_str().to_string_lossy();
        !name.starts_with('.') && !PRIVATE.contains(&name.as_ref())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_page_is_public() {
        for public in ["index.html", "styles.css", "app.js", "img/icon.svg"] {
            assert!(is_public(Path::new(public)), "{public}");
        }
        for private in [
            "package.json",
            "node_modules/playwright-core/index.js",
            "tests/e2e.test.mjs",
            ".git/config",
            "img/.hidden",
        ] {
            assert!(!is_public(Path::new(private)), "{private}");
        }
    }
}
