//! What the pipeline's phases read: the state shared by every worker thread ([`ProxyState`])
//! and one request's context ([`Session`]).

use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderValue;

use super::ProxySettings;
use super::headers::{RequestIds, TrustedProxies};
use super::private_paths::PrivatePaths;
use crate::backends::{Backend, BackendSet};
use crate::cache::HttpCache;
use crate::configuration::Settings;
use crate::selection::HashKey;
use crate::upstream::UpstreamClient;

/// Everything the handler shares across worker threads.
pub struct ProxyState {
    pub backends: Arc<BackendSet>,
    pub cache: Option<Arc<HttpCache>>,
    pub settings: ProxySettings,
    pub hash_key: HashKey,
    pub uses_key: bool,
    pub passive_failures: u32,
    /// 5xx answers count as passive failures (off by default: an application error is not a
    /// dead backend).
    pub passive_5xx: bool,
    /// `Retry-After` when no backend is healthy: about one health check interval.
    pub retry_after: Duration,
    pub request_ids: RequestIds,
    pub trusted_proxies: TrustedProxies,
    pub private_paths: PrivatePaths,
    /// Responses say which backend answered (`X-Upstream`).
    pub expose_upstream: bool,
}

impl ProxyState {
    pub fn new(
        settings: &Settings,
        backends: Arc<BackendSet>,
        cache: Option<Arc<HttpCache>>,
    ) -> Self {
        Self {
            backends,
            cache,
            settings: settings.proxy.clone(),
            hash_key: settings.hash_key.clone(),
            uses_key: settings.algorithm.uses_key(),
            passive_failures: settings.health.passive_failures,
            passive_5xx: settings.health.passive_5xx,
            retry_after: settings.health.interval,
            request_ids: RequestIds::default(),
            trusted_proxies: settings.proxy.trusted_proxies.clone(),
            private_paths: settings.proxy.private_paths.clone(),
            expose_upstream: settings.proxy.expose_upstream.resolve(settings.listen),
        }
    }

    /// The `X-Upstream` value for `backend`, when responses carry one.
    pub fn upstream_label(&self, backend: &Backend) -> Option<HeaderValue> {
        self.expose_upstream
            .then(|| backend.upstream_header().clone())
    }
}

/// The upstream client for one worker thread.
pub fn upstream_client(settings: &ProxySettings) -> UpstreamClient {
    UpstreamClient::new(
        settings.connect_timeout,
        settings.upstream_timeout,
        settings.upstream_idle_per_backend,
        settings.upstream_idle_timeout,
    )
}

/// One admitted request as it travels the pipeline.
pub struct Session<'a> {
    pub req: &'a HttpRequest,
    pub state: &'a ProxyState,
    pub client: &'a UpstreamClient,
    /// Passed upstream and echoed to the client.
    pub request_id: HeaderValue,
}

impl<'a> Session<'a> {
    pub fn new(req: &'a HttpRequest, state: &'a ProxyState, client: &'a UpstreamClient) -> Self {
        Self {
            req,
            state,
            client,
            request_id: state.request_ids.for_request(req),
        }
    }
}
