//! What a repeated idempotency key gets, the same rule for every store: within the window the
//! analysis stored the first time (same text) or a refusal (another text, the draft's 422);
//! after it, the key is free for a new analysis.

use std::time::Duration;

use chrono::TimeDelta;

use crate::analysis::{Analysis, NewAnalysis};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Answer with the analysis stored the first time.
    Replay,
    /// The key was used for another text: refuse.
    Reused,
    /// The first use is older than the window: release the key and store the new analysis.
    Expired,
}

/// Judges `repeat`, which carries the same key as the stored `first`.
pub fn judge_repeat(first: &Analysis, repeat: &NewAnalysis, window: Duration) -> Verdict {
    let age = repeat.created_at.signed_duration_since(first.created_at);
    if TimeDelta::from_std(window).is_ok_and(|window| age >= window) {
        Verdict::Expired
    } else if first.text == repeat.text {
        Verdict::Replay
    } else {
        Verdict::Reused
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use vader::Scores;

    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);

    fn first() -> Analysis {
        Analysis {
            id: "1".into(),
            text: "same".into(),
            scores: Scores {
                neg: 0.0,
                neu: 1.0,
                pos: 0.0,
                compound: 0.0,
            },
            created_at: Utc.timestamp_millis_opt(1_700_000_000_000).unwrap(),
        }
    }

    fn repeat(text: &str, later_ms: i64) -> NewAnalysis {
        NewAnalysis {
            text: text.into(),
            scores: first().scores,
            created_at: Utc
                .timestamp_millis_opt(1_700_000_000_000 + later_ms)
                .unwrap(),
            idempotency_key: None,
        }
    }

    #[test]
    fn within_the_window_the_text_decides() {
        assert_eq!(
            judge_repeat(&first(), &repeat("same", 0), WINDOW),
            Verdict::Replay
        );
        assert_eq!(
            judge_repeat(&first(), &repeat("same", 59_999), WINDOW),
            Verdict::Replay
        );
        assert_eq!(
            judge_repeat(&first(), &repeat("other", 10), WINDOW),
            Verdict::Reused
        );
        // Another process's clock may run a little ahead: still within the window.
        assert_eq!(
            judge_repeat(&first(), &repeat("same", -500), WINDOW),
            Verdict::Replay
        );
    }

    #[test]
    fn after_the_window_the_key_is_free() {
        assert_eq!(
            judge_repeat(&first(), &repeat("same", 60_000), WINDOW),
            Verdict::Expired
        );
        assert_eq!(
            judge_repeat(&first(), &repeat("other", 86_400_000), WINDOW),
            Verdict::Expired
        );
    }
}
