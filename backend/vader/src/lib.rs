//! VADER (Valence Aware Dictionary and sEntiment Reasoner) sentiment scoring, a faithful
//! port of the Python package vaderSentiment 3.3.2 whose output matches it exactly after
//! its rounding (`neg`/`neu`/`pos` to 3 decimals, `compound` to 4), quirks included.
//!
//! ```
//! let analyzer = vader::SentimentIntensityAnalyzer::new();
//! let scores = analyzer.polarity_scores("VADER is smart, handsome, and funny!");
//! assert_eq!(scores.compound, 0.8439);
//! assert_eq!((scores.neg, scores.neu, scores.pos), (0.0, 0.248, 0.752));
//! ```
//!
//! Python specifics reproduced: code-point iteration, `str.split()`/`str.strip()`
//! whitespace, `str.lower()`, `str.isupper()`, `round()`. Known limits of "exactly":
//! Unicode case and whitespace tables come from the Rust standard library, so characters
//! added to Unicode after the version of the reference's Python (14.0 for Python 3.11) can
//! classify differently; and Python 3.12+ `sum()` uses compensated summation where 3.11
//! (and this crate) add left to right, which could only flip a result sitting on a
//! rounding boundary to the last bit.

mod analyzer;
mod contrast;
mod fast_hash;
mod lexicon;
mod modifiers;
mod python_str;
mod scores;
mod text;
mod valence;

pub use analyzer::SentimentIntensityAnalyzer;
pub use scores::Scores;
