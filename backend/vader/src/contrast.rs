//! The contrastive conjunction rule (`_but_check`): sentiment before the first "but" is
//! halved, after it is increased by half.
//!
//! The reference does not scale position `j` but `sentiments.index(sentiments[j])`, the
//! first position currently holding an equal value, so repeated values shift the scaling
//! onto earlier tokens (e.g. "good good but good" scales the first "good" twice). That
//! quirk is reproduced exactly; a set ordered by (value, position) finds the first equal
//! value in O(log n), where the reference's scan is quadratic in the number of tokens.

use std::collections::BTreeSet;

use crate::text::Token;

/// Orders values so that equal values (`0.0 == -0.0`, as Python compares them) share a key.
fn key(value: f64) -> u64 {
    if value == 0.0 { 0 } else { value.to_bits() }
}

pub(crate) fn but_check(tokens: &[Token<'_>], sentiments: &mut [f64]) {
    let Some(but_index) = tokens.iter().position(|token| token.lower == "but") else {
        return;
    };
    let mut by_value: BTreeSet<(u64, usize)> = sentiments
        .iter()
        .enumerate()
        .map(|(position, &value)| (key(value), position))
        .collect();
    for j in 0..sentiments.len() {
        let value = sentiments[j];
        let first_equal = by_value
            .range((key(value), 0)..=(key(value), j))
            .next()
            .map_or(j, |&(_, position)| position);
        let factor = match first_equal.cmp(&but_index) {
            std::cmp::Ordering::Less => 0.5,
            std::cmp::Ordering::Greater => 1.5,
            std::cmp::Ordering::Equal => continue,
        };
        let scaled = value * factor;
        by_value.remove(&(key(sentiments[first_equal]), first_equal));
        by_value.insert((key(scaled), first_equal));
        sentiments[first_equal] = scaled;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::valences;
    use crate::text::SentiText;

    fn scaled(text: &str, sentiments: &[f64]) -> Vec<f64> {
        let valences = valences();
        let senti = SentiText::new(text, &valences);
        let mut sentiments = sentiments.to_vec();
        but_check(&senti.tokens, &mut sentiments);
        sentiments
    }

    #[test]
    fn scales_before_and_after_the_first_but() {
        assert_eq!(scaled("a but b", &[2.0, 0.0, 3.0]), [1.0, 0.0, 4.5]);
        assert_eq!(scaled("a b", &[2.0, 1.0]), [2.0, 1.0]);
        assert_eq!(
            scaled("a BUT b but c", &[2.0, 0.0, 3.0, 0.0, 4.0]),
            [1.0, 0.0, 4.5, 0.0, 6.0]
        );
    }

    #[test]
    fn repeated_values_scale_the_first_equal_position() {
        // Python's walk over [1.9, 1.9, 0, 1.9]: index(1.9) is 0, then 1 (0 is 0.95 by
        // then), "but" itself is 0, then index(1.9) is 3.
        assert_eq!(
            scaled("good good but good", &[1.9, 1.9, 0.0, 1.9]),
            [0.95, 0.95, 0.0, 1.9 * 1.5]
        );
        // The halved 2.0 equals the later 1.0, so the later step halves index 0 again.
        assert_eq!(scaled("a but b", &[2.0, 0.0, 1.0]), [0.5, 0.0, 1.0]);
        // Step 0 halves s[0] to 1.0; step 1 reads 1.0, whose first occurrence is now
        // index 0, so index 0 is halved again and index 1 keeps 1.0.
        assert_eq!(scaled("a b but", &[2.0, 1.0, 0.0]), [0.5, 1.0, 0.0]);
        // After "but": 1.0 -> 1.5 at index 2, then index 3 reads 1.5 and finds index 2.
        assert_eq!(
            scaled("but x a b", &[0.0, 0.0, 1.0, 1.5]),
            [0.0, 0.0, 2.25, 1.5]
        );
    }
}
