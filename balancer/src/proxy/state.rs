//! What the pipeline's phases read: the state shared by every worker thread ([`ProxyState`])
//! and one request's context ([`Session`]).

use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::http::header::{HeaderMap, HeaderValue};
use actix_web::http::{StatusCode, Version};

use super::ProxySettings;
use super::headers::{RequestIds, TrustedProxies, end_to_end};
use super::private_paths::PrivatePaths;
use crate::backends::{Backend, BackendSet};
use crate::cache::HttpCache;
use crate::configuration::Settings;
use crate::interim::InterimResponses;
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
    /// Where a backend's interim responses go: the client's HTTP/1.1 connection or HTTP/2
    /// stream (a 1xx must not reach an HTTP/1.0 client, RFC 9110 section 15.2).
    interim: Option<InterimResponses>,
}

impl<'a> Session<'a> {
    /// The session of a request the client waits for.
    pub fn new(req: &'a HttpRequest, state: &'a ProxyState, client: &'a UpstreamClient) -> Self {
        let interim = match req.version() {
            Version::HTTP_11 => req.conn_data::<InterimResponses>().cloned(),
            Version::HTTP_2 => actix_web::HttpMessage::extensions(req)
                .get::<InterimResponses>()
                .cloned(),
            _ => None,
        };
        Self {
            interim,
            ..Self::in_background(req, state, client)
        }
    }

    /// The session of work done for a request already answered (a background refresh):
    /// nothing of it reaches the client.
    pub fn in_background(
        req: &'a HttpRequest,
        state: &'a ProxyState,
        client: &'a UpstreamClient,
    ) -> Self {
        Self {
            req,
            state,
            client,
            request_id: state.request_ids.for_request(req),
            interim: None,
        }
    }

    /// Passes a backend's interim response on to the client, end-to-end fields only.
    pub fn forward_interim(&self, status: StatusCode, headers: &HeaderMap) {
        if let Some(interim) = &self.interim
            && !interim.push(status, end_to_end(headers, &[]))
        {
            log::debug!("dropped a {status} interim response: the client is not reading");
        }
    }

    /// Waits until the interim responses passed on are written: the final response must
    /// not overtake them.
    pub async fn interim_written(&self) {
        if let Some(interim) = &self.interim {
            interim.written().await;
        }
    }
}
