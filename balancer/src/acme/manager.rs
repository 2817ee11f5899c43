//! Keeps the TLS listener certified: at start-up the stored certificate goes into the slot at
//! once (so HTTPS serves even while the ACME server is down), then a task orders a new one
//! whenever the current one is missing, does not cover the configured domains, or is due for
//! renewal; a failed attempt is logged with its problem document and retried with back-off
//! while the certificate in use keeps serving.

use std::time::{Duration, SystemTime};

use instant_acme::Account;

use super::AcmeError;
use super::account::{self, AccountSettings};
use super::challenges::ChallengeTokens;
use super::order::order_certificate;
use super::renewal::{Backoff, RENEWAL_FLOOR, renewal_due};
use super::state_dir::{StateDir, StoredCertificate};
use crate::configuration::AcmeSettings;
use crate::tls::{CertificateInfo, CertificateSlot};

/// The problem type of an account the server no longer knows (a test CA that restarted).
const ACCOUNT_DOES_NOT_EXIST: &str = "urn:ietf:params:acme:error:accountDoesNotExist";

/// Longest single sleep, so a wall-clock jump (suspend, NTP) is noticed within the hour.
const LONGEST_NAP: Duration = Duration::from_secs(3600);

pub struct Manager {
    settings: AcmeSettings,
    state: StateDir,
    slot: CertificateSlot,
    tokens: ChallengeTokens,
    account: Option<Account>,
    /// The certificate in the slot, and when this process issued it (None: loaded from disk).
    current: Option<(CertificateInfo, Option<SystemTime>)>,
}

impl Manager {
    /// Opens the state directory, checks the extra root, and installs the stored certificate.
    pub fn start(
        settings: &AcmeSettings,
        slot: CertificateSlot,
        tokens: ChallengeTokens,
    ) -> Result<Self, AcmeError> {
        let state = StateDir::open(&settings.state_dir)?;
        if let Some(path) = &settings.ca_root {
            account::read_extra_root(path)?;
        }
        let current = state.certificate()?.and_then(|stored| {
            match slot.install_pem(&stored.chain_pem, &stored.key_pem) {
                Ok(info) => {
                    log::info!(
                        "serving the stored certificate from {}",
                        state.path().display()
                    );
                    Some((info, None))
                }
                Err(error) => {
                    log::warn!("the stored certificate is not usable, ordering anew: {error}");
                    None
                }
            }
        });
        Ok(Self {
            settings: settings.clone(),
            state,
            slot,
            tokens,
            account: None,
            current,
        })
    }

    /// Orders whenever due, for as long as the balancer runs.
    pub async fn run(mut self) {
        let mut backoff = Backoff::default();
        loop {
            sleep_until(self.next_order()).await;
            match self.renew().await {
                Ok(info) => {
                    backoff.reset();
                    log::info!(
                        "ACME certificate for {} installed, valid until {}",
                        info.dns_names.join(", "),
                        unix_seconds(info.not_after)
                    );
                    self.current = Some((info, Some(SystemTime::now())));
                }
                Err(error) => {
                    if is_unknown_account(&error) {
                        self.forget_account();
                    }
                    let pause = backoff.after_failure();
                    let serving = match &self.current {
                        Some(_) => "the current certificate keeps serving",
                        None => "HTTPS has no certificate yet",
                    };
                    let error = with_causes(&error);
                    log::error!("{error}; retrying in {} s, {serving}", pause.as_secs());
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// Now when there is no certificate or it misses a configured domain; else its renewal
    /// time, but not within the floor after this process last issued one.
    fn next_order(&self) -> SystemTime {
        let Some((info, issued)) = &self.current else {
            return SystemTime::now();
        };
        let covers = self.settings.domains.iter().all(|domain| {
            info.dns_names
                .iter()
                .any(|name| name.eq_ignore_ascii_case(domain))
        });
        if !covers {
            return SystemTime::now();
        }
        let due = renewal_due(info, self.settings.renew_before);
        issued.map_or(due, |issued| due.max(issued + RENEWAL_FLOOR))
    }

    async fn renew(&mut self) -> Result<CertificateInfo, AcmeError> {
        let account = match &self.account {
            Some(account) => account.clone(),
            None => {
                let settings = AccountSettings {
                    directory: self.settings.directory_url(),
                    contact: self.settings.contact.as_deref(),
                    ca_root: self.settings.ca_root.as_deref(),
                };
                let account = account::load_or_create(&settings, &self.state).await?;
                self.account = Some(account.clone());
                account
            }
        };
        let certificate = order_certificate(&account, &self.settings.domains, &self.tokens).await?;
        let info = self
            .slot
            .install_pem(&certificate.chain_pem, &certificate.key_pem)?;
        self.store(&certificate);
        Ok(info)
    }

    /// The next attempt creates a new account.
    fn forget_account(&mut self) {
        log::warn!("the ACME server no longer knows the stored account; creating a new one");
        self.account = None;
        if let Err(error) = self.state.forget_account() {
            log::error!("{error}");
        }
    }

    /// A certificate that cannot be stored still serves; only a restart would order again.
    fn store(&self, certificate: &StoredCertificate) {
        if let Err(error) = self.state.store_certificate(certificate) {
            log::error!("{error}: the new certificate serves, but a restart will order another");
        }
    }
}

fn is_unknown_account(error: &AcmeError) -> bool {
    let problem = match error {
        AcmeError::Protocol(instant_acme::Error::Api(problem)) | AcmeError::Refused(problem) => {
            problem
        }
        _ => return false,
    };
    problem.r#type.as_deref() == Some(ACCOUNT_DOES_NOT_EXIST)
}

/// The error and each of its sources (a transport error's own message is often just "client
/// error (Connect)"; the reason is further down).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// Sleeps until `moment` by wall clock, in naps of at most an hour.
async fn sleep_until(moment: SystemTime) {
    while let Ok(left) = moment.duration_since(SystemTime::now()) {
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(LONGEST_NAP)).await;
    }
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}
