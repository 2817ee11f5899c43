//! Keeps the TLS listener certified: at start-up the stored certificate goes into the slot at
//! once (so HTTPS serves even while the ACME server is down), then a task orders a new one
//! whenever the current one is missing, does not cover the configured domains, or is due for
//! renewal; a failed attempt is logged with its problem document and retried with back-off
//! while the certificate in use keeps serving.

use std::time::{Duration, SystemTime};

use instant_acme::Account;

use super::AcmeError;
use super::AcmeSettings;
use super::account::{self, AccountSettings};
use super::challenges::ChallengeTokens;
use super::order::order_certificate;
use super::renewal::{Backoff, RENEWAL_FLOOR, renewal_due};
use super::state_dir::{StateDir, StoredCertificate};
use crate::tls::{self, CertificateInfo, CertificateSlot};

/// The problem type of an account the server no longer knows (a test CA that restarted).
const ACCOUNT_DOES_NOT_EXIST: &str = "urn:ietf:params:acme:error:accountDoesNotExist";

/// Longest single sleep, so a wall-clock jump (suspend, NTP) is noticed within the hour.
const LONGEST_NAP: Duration = Duration::from_secs(3600);

/// The certificate's keeper: built at start-up, then run as a task.
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
                    log::info!("ACME certificate installed: {}", tls::describe(&info));
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::acme::AcmeLayer;

    fn settings(state: &Path, renew_before: f64) -> AcmeSettings {
        let layer = AcmeLayer {
            domains: Some(vec!["a.example".into()]),
            state_dir: Some(state.to_str().unwrap().into()),
            renew_before: Some(renew_before),
            ..AcmeLayer::default()
        };
        layer.validate().unwrap()
    }

    /// Stores a self-signed certificate for `names`, valid for 90 days.
    fn store(state: &Path, names: &[&str]) {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        // Ninety days: January, February and March of 2026.
        params.not_before = rcgen::date_time_ymd(2026, 1, 1);
        params.not_after = rcgen::date_time_ymd(2026, 4, 1);
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = params.self_signed(&key).unwrap();
        StateDir::open(state)
            .unwrap()
            .store_certificate(&StoredCertificate {
                chain_pem: certificate.pem().into_bytes(),
                key_pem: key.serialize_pem().into_bytes(),
            })
            .unwrap();
    }

    fn start(state: &Path, renew_before: f64) -> (Manager, CertificateSlot) {
        let slot = CertificateSlot::new();
        let manager = Manager::start(
            &settings(state, renew_before),
            slot.clone(),
            ChallengeTokens::default(),
        )
        .unwrap();
        (manager, slot)
    }

    #[test]
    fn a_stored_certificate_serves_at_once_and_is_renewed_with_a_third_left() {
        let dir = tempfile::tempdir().unwrap();
        store(dir.path(), &["a.example"]);
        let (manager, slot) = start(dir.path(), 1.0 / 3.0);
        assert!(slot.is_filled());
        let (info, _) = manager.current.clone().unwrap();
        assert_eq!(
            manager.next_order(),
            info.not_before + Duration::from_secs(60 * 86_400)
        );
    }

    #[test]
    fn a_stored_certificate_missing_a_domain_is_replaced_at_once() {
        let dir = tempfile::tempdir().unwrap();
        store(dir.path(), &["other.example"]);
        let (manager, slot) = start(dir.path(), 1.0 / 3.0);
        assert!(slot.is_filled(), "it still serves until the new one comes");
        assert!(manager.next_order() <= SystemTime::now());
    }

    #[test]
    fn an_unusable_stored_certificate_is_ordered_anew() {
        let dir = tempfile::tempdir().unwrap();
        StateDir::open(dir.path())
            .unwrap()
            .store_certificate(&StoredCertificate {
                chain_pem: b"not a certificate".to_vec(),
                key_pem: b"not a key".to_vec(),
            })
            .unwrap();
        let (manager, slot) = start(dir.path(), 1.0 / 3.0);
        assert!(!slot.is_filled());
        assert!(manager.next_order() <= SystemTime::now());
    }

    #[test]
    fn a_threshold_of_one_orders_again_only_after_the_floor() {
        let dir = tempfile::tempdir().unwrap();
        store(dir.path(), &["a.example"]);
        let (mut manager, _) = start(dir.path(), 1.0);
        assert!(
            manager.next_order() <= SystemTime::now(),
            "a stored one is due at once"
        );
        let issued = SystemTime::now();
        let info = manager.current.take().unwrap().0;
        manager.current = Some((info, Some(issued)));
        assert_eq!(manager.next_order(), issued + RENEWAL_FLOOR);
    }
}
