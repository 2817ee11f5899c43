//! The process-wide VADER analyzer, built once and shared by every worker thread.

use std::sync::LazyLock;

use vader::{Scores, SentimentIntensityAnalyzer};

static ANALYZER: LazyLock<SentimentIntensityAnalyzer> =
    LazyLock::new(SentimentIntensityAnalyzer::new);

pub fn score(text: &str) -> Scores {
    ANALYZER.polarity_scores(text)
}

/// Loads the lexicons now rather than on the first request.
pub fn warm_up() {
    LazyLock::force(&ANALYZER);
}
