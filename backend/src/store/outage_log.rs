//! Logs why the store is unavailable, once per change rather than once per request or probe.
//!
//! Clients only learn that the store is unavailable (the driver's text can name hosts and
//! topology); the detail is written here at WARN. A detail already logged is logged again only
//! every few minutes, so a balancer probing `/readyz` twice a second does not flood the log
//! (several causes are remembered: readiness, writes and index creation can fail differently
//! during one outage); when the store answers again, that is logged once at INFO.
//!
//! A detail is recognised by its cause ([`StoreError::cause`]), not by its text: the MongoDB
//! driver prints its error labels from a hash set, so one refused connection reads differently
//! from one probe to the next.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use super::StoreError;

/// How often an unchanged outage is logged again, as a reminder that it goes on.
const REMINDER_INTERVAL: Duration = Duration::from_secs(300);
/// Details remembered at once; past that, the oldest are forgotten.
const REMEMBERED_DETAILS: usize = 16;

static OUTAGE: LazyLock<Mutex<OutageLog>> = LazyLock::new(Mutex::default);

/// Records that the store failed with `error` and logs it unless that was just said.
pub fn report_unavailable(error: &StoreError) {
    let should_log = OUTAGE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .failed(error.cause(), Instant::now());
    if should_log {
        log::warn!("the store is unavailable: {error}");
    }
}

/// Records that the store answered, and logs it when it had been reported unavailable.
pub fn report_recovery() {
    let recovered = OUTAGE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .answered();
    if recovered {
        log::info!("the store answers again");
    }
}

/// The causes logged during the current outage, and when each was last logged.
#[derive(Debug, Default)]
struct OutageLog {
    logged: HashMap<String, Instant>,
}

impl OutageLog {
    /// Whether a failure from `cause` at `now` should be logged.
    fn failed(&mut self, cause: String, now: Instant) -> bool {
        let recent = |logged_at: &Instant| now.duration_since(*logged_at) < REMINDER_INTERVAL;
        if self.logged.get(&cause).is_some_and(recent) {
            return false;
        }
        if self.logged.len() >= REMEMBERED_DETAILS {
            self.logged.retain(|_, logged_at| recent(logged_at));
            if self.logged.len() >= REMEMBERED_DETAILS {
                self.logged.clear();
            }
        }
        self.logged.insert(cause, now);
        true
    }

    /// Whether an outage just ended.
    fn answered(&mut self) -> bool {
        let was_down = !self.logged.is_empty();
        self.logged.clear();
        was_down
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_outage_is_logged_once_then_as_a_reminder() {
        let mut log = OutageLog::default();
        let start = Instant::now();
        assert!(log.failed("down".into(), start));
        assert!(!log.failed("down".into(), start + Duration::from_secs(1)));
        assert!(!log.failed("down".into(), start + Duration::from_secs(299)));
        assert!(log.failed("down".into(), start + REMINDER_INTERVAL));
        assert!(log.failed("another reason".into(), start + REMINDER_INTERVAL));
    }

    #[test]
    fn alternating_details_are_each_logged_once() {
        let mut log = OutageLog::default();
        let start = Instant::now();
        assert!(log.failed("ping failed".into(), start));
        assert!(log.failed("write failed".into(), start));
        for second in 1..100 {
            let now = start + Duration::from_secs(second);
            assert!(!log.failed("ping failed".into(), now));
            assert!(!log.failed("write failed".into(), now));
        }
    }

    #[test]
    fn one_cause_is_one_detail_whatever_its_text() {
        let refused = |text: &str| {
            StoreError::Mongo(mongodb::error::Error::from(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                text.to_owned(),
            )))
        };
        let first = refused("labels: {\"A\", \"B\"}");
        let reordered = refused("labels: {\"B\", \"A\"}");
        assert_ne!(first.to_string(), reordered.to_string());
        assert_eq!(first.cause(), reordered.cause());
        let in_a_batch = StoreError::BatchFailed(std::sync::Arc::new(refused("x")));
        assert_eq!(in_a_batch.cause(), first.cause());
        assert_ne!(StoreError::ShuttingDown.cause(), first.cause());

        let mut log = OutageLog::default();
        let now = Instant::now();
        assert!(log.failed(first.cause(), now));
        assert!(!log.failed(reordered.cause(), now));
        assert!(!log.failed(in_a_batch.cause(), now));
    }

    #[test]
    fn memory_stays_bounded_under_ever_new_details() {
        let mut log = OutageLog::default();
        let now = Instant::now();
        for n in 0..1000 {
            assert!(log.failed(format!("detail {n}"), now));
            assert!(log.logged.len() <= REMEMBERED_DETAILS);
        }
    }

    #[test]
    fn recovery_is_logged_once_and_only_after_an_outage() {
        let mut log = OutageLog::default();
        assert!(!log.answered());
        assert!(log.failed("down".into(), Instant::now()));
        assert!(log.answered());
        assert!(!log.answered());
        assert!(log.failed("down".into(), Instant::now()), "a new outage");
    }
}
