//! From per-token sentiments to the four published scores: punctuation emphasis, the
//! compound normalisation, the positive/negative/neutral proportions (`score_valence`,
//! `_sift_sentiment_scores`) and Python's `round()`.

use std::fmt::Write;

/// VADER's scores for one text, rounded as the reference rounds them: `neg`, `neu` and
/// `pos` (proportions of the text, summing to about 1, or all 0 for a text without words)
/// to 3 decimals, `compound` (normalised sum in [-1, 1]) to 4.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    pub neg: f64,
    pub neu: f64,
    pub pos: f64,
    pub compound: f64,
}

/// `normalize` with alpha 15, the approximate maximum expected sum.
fn normalize(score: f64) -> f64 {
    let normalized = score / (score * score + 15.0).sqrt();
    normalized.clamp(-1.0, 1.0)
}

/// `_punctuation_emphasis`: up to four "!" and, from two on, up to three "?" (more count
/// as 0.96), counted over the whole text after emoji translation.
fn punctuation_emphasis(text: &str) -> f64 {
    let exclamations = text.chars().filter(|&c| c == '!').count().min(4);
    let questions = text.chars().filter(|&c| c == '?').count();
    let question_emphasis = match questions {
        0 | 1 => 0.0,
        2 | 3 => questions as f64 * 0.18,
        _ => 0.96,
    };
    exclamations as f64 * 0.292 + question_emphasis
}

/// Python's `round(value, digits)`: the exact binary value correctly rounded to `digits`
/// decimals, exact ties to even. Rust's fixed-precision formatting rounds the same way
/// (exact decimal expansion, ties to even), and parsing the digits back picks the same
/// nearest double as Python's `strtod` does.
fn round_like_python(value: f64, digits: usize, buffer: &mut String) -> f64 {
    buffer.clear();
    // Writing into a String cannot fail.
    let _ = write!(buffer, "{value:.digits$}");
    buffer.parse().unwrap_or(value)
}

pub(crate) fn score_valence(sentiments: &[f64], text: &str) -> Scores {
    if sentiments.is_empty() {
        return Scores {
            neg: 0.0,
            neu: 0.0,
            pos: 0.0,
            compound: 0.0,
        };
    }
    // Left-to-right like Python 3.11's `sum()` (3.12+ compensates; see the crate docs).
    let mut sum = sentiments.iter().fold(0.0, |sum, value| sum + value);
    let emphasis = punctuation_emphasis(text);
    if sum > 0.0 {
        sum += emphasis;
    } else if sum < 0.0 {
        sum -= emphasis;
    }
    let compound = normalize(sum);

    // Each non-neutral word counts its intensity plus one neutral word's worth.
    let (mut pos_sum, mut neg_sum, mut neu_count) = (0.0, 0.0, 0_u32);
    for &value in sentiments {
        if value > 0.0 {
            pos_sum += value + 1.0;
        }
        if value < 0.0 {
            neg_sum += value - 1.0;
        }
        if value == 0.0 {
            neu_count += 1;
        }
    }
    if pos_sum > neg_sum.abs() {
        pos_sum += emphasis;
    } else if pos_sum < neg_sum.abs() {
        neg_sum -= emphasis;
    }
    let neu_count = f64::from(neu_count);
    let total = pos_sum + neg_sum.abs() + neu_count;

    let mut buffer = String::with_capacity(24);
    Scores {
        neg: round_like_python((neg_sum / total).abs(), 3, &mut buffer),
        neu: round_like_python((neu_count / total).abs(), 3, &mut buffer),
        pos: round_like_python((pos_sum / total).abs(), 3, &mut buffer),
        compound: round_like_python(compound, 4, &mut buffer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(value: f64, digits: usize) -> f64 {
        round_like_python(value, digits, &mut String::new())
    }

    #[test]
    fn rounding_is_exact_with_ties_to_even() {
        // Exact binary ties go to even, like Python's round().
        assert_eq!(round(0.0625, 3), 0.062);
        assert_eq!(round(0.5625, 3), 0.562);
        assert_eq!(round(0.4375, 3), 0.438);
        // 0.0005 and 0.0015 are just above the tie in binary: they round up.
        assert_eq!(round(0.0005, 3), 0.001);
        assert_eq!(round(0.0015, 3), 0.002);
        // 0.0045 is just below the tie in binary (0.00449999...): it rounds down.
        assert_eq!(round(0.0045, 3), 0.004);
        assert_eq!(round(0.12345, 4), 0.1235);
        // Python keeps the sign of a negative value that rounds to zero.
        assert!(round(-0.00001, 4).is_sign_negative());
        assert_eq!(round(-0.00001, 4), 0.0);
    }

    #[test]
    fn punctuation_emphasis_caps_exclamations_and_questions() {
        assert_eq!(punctuation_emphasis("good"), 0.0);
        assert_eq!(punctuation_emphasis("good!"), 0.292);
        assert_eq!(punctuation_emphasis("good!!!!!!"), 4.0 * 0.292);
        assert_eq!(punctuation_emphasis("good?"), 0.0);
        assert_eq!(punctuation_emphasis("good??"), 2.0 * 0.18);
        assert_eq!(punctuation_emphasis("good????"), 0.96);
        assert_eq!(punctuation_emphasis("?!"), 0.292);
    }

    #[test]
    fn normalize_stays_in_range() {
        assert_eq!(normalize(0.0), 0.0);
        assert!(normalize(1e300) <= 1.0);
        assert!(normalize(-1e300) >= -1.0);
        assert!((normalize(1.9) - 1.9 / 18.61_f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn proportions_count_neutral_words_and_punctuation() {
        let scores = score_valence(&[0.0, 1.9], "the good!");
        // pos_sum = 2.9 + 0.292, total = pos_sum + 1.
        assert_eq!(scores.pos, round((2.9 + 0.292) / (2.9 + 0.292 + 1.0), 3));
        assert_eq!(scores.neu, round(1.0 / (2.9 + 0.292 + 1.0), 3));
        assert_eq!(scores.neg, 0.0);
        let empty = score_valence(&[], "");
        assert_eq!(
            (empty.neg, empty.neu, empty.pos, empty.compound),
            (0.0, 0.0, 0.0, 0.0)
        );
        let neutral = score_valence(&[0.0], "!!!");
        assert_eq!((neutral.neu, neutral.compound), (1.0, 0.0));
    }
}
