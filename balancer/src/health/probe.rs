//! The active health prober: `GET <health.path>` on every backend each interval (and at once for
//! a newly added backend), each result fed to the backend's health state machine.

use std::sync::Arc;

use futures_util::future::join_all;
use tokio::time::{Instant, sleep_until};

use super::CheckResult;
use super::HealthSettings;
use crate::backends::{Backend, BackendSet};

/// Runs until the backend set is dropped; spawn it on the main arbiter.
pub async fn run(backends: Arc<BackendSet>, settings: HealthSettings) {
    let client = awc::Client::builder()
        .timeout(settings.timeout)
        .disable_redirects()
        .finish();
    let mut changes = backends.changes();
    let mut next_round = Instant::now();
    loop {
        tokio::select! {
            _ = sleep_until(next_round) => {
                check(&client, &backends, &settings, |_| true).await;
                next_round = Instant::now() + settings.interval;
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                check(&client, &backends, &settings, |b| !b.is_checked()).await;
            }
        }
    }
}

async fn check(
    client: &awc::Client,
    backends: &BackendSet,
    settings: &HealthSettings,
    wanted: impl Fn(&Backend) -> bool,
) {
    let snapshot = backends.hold();
    let probes = snapshot
        .backends
        .iter()
        .filter(|b| wanted(b))
        .map(|backend| async move {
            let url = format!("{}{}", backend.address().base_url(), settings.path);
            let result = match client.get(url).send().await {
                Ok(response) => CheckResult {
                    ok: response.status().is_success(),
                    detail: response.status().to_string(),
                },
                Err(error) => CheckResult {
                    ok: false,
                    detail: error.to_string(),
                },
            };
            if !result.ok {
                log::debug!(
                    "health check of {} failed: {}",
                    backend.address(),
                    result.detail
                );
            }
            (backend, result)
        });
    for (backend, result) in join_all(probes).await {
        backends.report(
            backend,
            backend.record_check(result, settings.rise, settings.fall),
        );
    }
}
