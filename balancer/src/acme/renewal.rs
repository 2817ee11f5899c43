//! When to order: a certificate is renewed once only `renew_before` of its lifetime is left
//! (a third by default, as Let's Encrypt advises), never sooner than a floor after the last
//! issuance (so a threshold of 1 cannot turn into a loop of orders), and a failed order is
//! retried with bounded exponential back-off.

use std::time::{Duration, SystemTime};

use crate::tls::CertificateInfo;

/// The least time between two successful orders.
pub const RENEWAL_FLOOR: Duration = Duration::from_secs(60);

/// First and largest pause after a failed order.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MOST: Duration = Duration::from_secs(3600);

/// The moment only `renew_before` (a fraction in (0, 1]) of the certificate's lifetime is left.
pub fn renewal_due(certificate: &CertificateInfo, renew_before: f64) -> SystemTime {
    let lifetime = certificate
        .not_after
        .duration_since(certificate.not_before)
        .unwrap_or_default();
    certificate.not_after - lifetime.mul_f64(renew_before.clamp(0.0, 1.0))
}

/// Bounded exponential back-off between failed orders: 1 s, 2 s, 4 s ... up to an hour.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: RETRY_FIRST }
    }
}

impl Backoff {
    /// The pause before the next attempt; each call doubles the one after, up to the bound.
    pub fn after_failure(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(RETRY_MOST);
        pause
    }

    pub fn reset(&mut self) {
        self.next = RETRY_FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn validity(not_before: SystemTime, not_after: SystemTime) -> CertificateInfo {
        CertificateInfo {
            not_before,
            not_after,
            dns_names: vec!["example.com".into()],
        }
    }

    fn ninety_days() -> CertificateInfo {
        let not_before = SystemTime::UNIX_EPOCH + 1000 * DAY;
        validity(not_before, not_before + 90 * DAY)
    }

    #[test]
    fn a_third_left_of_ninety_days_is_day_sixty() {
        let validity = ninety_days();
        assert_eq!(
            renewal_due(&validity, 1.0 / 3.0),
            validity.not_before + 60 * DAY
        );
    }

    #[test]
    fn a_threshold_of_one_is_due_from_the_start() {
        let validity = ninety_days();
        assert_eq!(renewal_due(&validity, 1.0), validity.not_before);
    }

    #[test]
    fn a_certificate_from_the_future_is_due_at_its_end() {
        let now = SystemTime::now();
        let backwards = validity(now + DAY, now);
        assert_eq!(renewal_due(&backwards, 0.5), now);
    }

    #[test]
    fn back_off_doubles_up_to_an_hour_and_resets() {
        let mut backoff = Backoff::default();
        let pauses: Vec<u64> = (0..14).map(|_| backoff.after_failure().as_secs()).collect();
        assert_eq!(&pauses[..5], &[1, 2, 4, 8, 16]);
        assert_eq!(pauses[12..], [3600, 3600]);
        backoff.reset();
        assert_eq!(backoff.after_failure(), Duration::from_secs(1));
    }
}
