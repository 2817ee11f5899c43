//! The health state machine of one backend. Active checks decide whether it is up at all: up
//! after `rise` successes (or the very first one), down after `fall` failures. Passive signals
//! (failed exchanges) can only eject it, until active checks pass `rise` times again. Selection
//! ignores passive ejections when they would leave no backend (panic mode, see
//! `BackendSet::note_panic`), so only active checks can take the last one out. Each change of
//! health is reported once, as a [`HealthFlip`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// A health transition, reported once when it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthFlip {
    Up,
    Down,
}

/// The outcome of the latest active check, for the admin API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckResult {
    pub ok: bool,
    /// The status code, or what went wrong before one arrived.
    pub detail: String,
}

#[cfg(test)]
impl CheckResult {
    /// A check answered 200 (`ok`) or 503, for tests.
    pub fn answered(ok: bool) -> Self {
        Self {
            ok,
            detail: if ok { "200" } else { "503" }.into(),
        }
    }
}

/// Starts down and unchecked; lock-free except for the latest check's detail.
#[derive(Debug, Default)]
pub struct HealthState {
    active_up: AtomicBool,
    ejected: AtomicBool,
    checked: AtomicBool,
    ok_streak: AtomicU32,
    fail_streak: AtomicU32,
    passive_fail_streak: AtomicU32,
    last_check: Mutex<Option<CheckResult>>,
}

impl HealthState {
    /// Up by active checks and not ejected by passive signals.
    pub fn is_healthy(&self) -> bool {
        self.is_up() && !self.is_ejected()
    }

    /// Up by active checks, whatever the passive signals say.
    pub fn is_up(&self) -> bool {
        self.active_up.load(Ordering::Relaxed)
    }

    /// Taken out by passive signals until active checks pass again.
    pub fn is_ejected(&self) -> bool {
        self.ejected.load(Ordering::Relaxed)
    }

    /// Has had at least one active check.
    pub fn is_checked(&self) -> bool {
        self.checked.load(Ordering::Relaxed)
    }

    pub fn last_check(&self) -> Option<CheckResult> {
        self.last_check
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Active check result: up after `rise` successes (or the very first one), down after `fall`
    /// failures. `rise` successes also end a passive ejection.
    pub fn record_check(&self, result: CheckResult, rise: u32, fall: u32) -> Option<HealthFlip> {
        let ok = result.ok;
        *self.last_check.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
        let first = !self.checked.swap(true, Ordering::Relaxed);
        let was_healthy = self.is_healthy();
        if ok {
            self.fail_streak.store(0, Ordering::Relaxed);
            let streak = self.ok_streak.fetch_add(1, Ordering::Relaxed) + 1;
            if first || streak >= rise {
                self.active_up.store(true, Ordering::Relaxed);
                if self.ejected.swap(false, Ordering::Relaxed) {
                    self.passive_fail_streak.store(0, Ordering::Relaxed);
                }
            }
        } else {
            self.ok_streak.store(0, Ordering::Relaxed);
            let streak = self.fail_streak.fetch_add(1, Ordering::Relaxed) + 1;
            if streak >= fall {
                self.active_up.store(false, Ordering::Relaxed);
            }
        }
        flip(was_healthy, self.is_healthy())
    }

    /// A passive failure; after `threshold` in a row the backend is ejected until active checks
    /// pass `rise` times.
    pub fn record_failure(&self, threshold: u32) -> Option<HealthFlip> {
        let streak = self.passive_fail_streak.fetch_add(1, Ordering::Relaxed) + 1;
        if streak >= threshold && !self.ejected.swap(true, Ordering::Relaxed) {
            self.ok_streak.store(0, Ordering::Relaxed);
            return flip(self.is_up(), false);
        }
        None
    }

    /// A passive success ends the failure streak; the read-before-write avoids contended stores
    /// on the hot path.
    pub fn record_success(&self) {
        if self.passive_fail_streak.load(Ordering::Relaxed) != 0 {
            self.passive_fail_streak.store(0, Ordering::Relaxed);
        }
    }
}

fn flip(before: bool, after: bool) -> Option<HealthFlip> {
    match (before, after) {
        (false, true) => Some(HealthFlip::Up),
        (true, false) => Some(HealthFlip::Down),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_flips_are_reported_once() {
        let health = HealthState::default();
        assert_eq!(
            health.record_check(CheckResult::answered(true), 2, 2),
            Some(HealthFlip::Up)
        );
        assert_eq!(
            health.record_check(CheckResult::answered(false), 2, 2),
            None
        );
        assert_eq!(
            health.record_check(CheckResult::answered(false), 2, 2),
            Some(HealthFlip::Down)
        );
        assert_eq!(health.record_check(CheckResult::answered(true), 2, 2), None);
        assert_eq!(
            health.record_check(CheckResult::answered(true), 2, 2),
            Some(HealthFlip::Up)
        );
        assert_eq!(health.record_failure(2), None);
        assert_eq!(health.record_failure(2), Some(HealthFlip::Down));
        assert_eq!(health.record_failure(2), None);
        assert_eq!(health.last_check().unwrap().detail, "200");
    }

    #[test]
    fn a_passive_ejection_lasts_until_rise_good_checks_and_spares_active_health() {
        let health = HealthState::default();
        health.record_check(CheckResult::answered(true), 2, 2);
        health.record_failure(1);
        assert!(health.is_ejected() && health.is_up() && !health.is_healthy());
        assert_eq!(health.record_check(CheckResult::answered(true), 2, 2), None);
        assert_eq!(
            health.record_check(CheckResult::answered(true), 2, 2),
            Some(HealthFlip::Up)
        );
        assert!(health.is_healthy());
    }

    #[test]
    fn a_success_between_failures_restarts_the_passive_count() {
        let health = HealthState::default();
        health.record_check(CheckResult::answered(true), 2, 2);
        assert_eq!(health.record_failure(2), None);
        health.record_success();
        assert_eq!(health.record_failure(2), None);
        assert!(health.is_healthy());
        assert_eq!(health.record_failure(2), Some(HealthFlip::Down));
    }
}
