//! The valence of each token in context: lexicon rating adjusted by "no", ALL CAPS
//! emphasis, preceding boosters and dampeners, negations, "never so/this",
//! "without doubt", special-case idioms and "least". A faithful port of the reference's
//! `polarity_scores` loop and `sentiment_valence`, including its quirks; all lookbacks are
//! guarded by the same `i > n` tests as in the reference, so no index can go out of range.

use crate::modifiers::{C_INCR, N_SCALAR, booster, is_negation, special_case};
use crate::text::{SentiText, Token};

/// One sentiment value per token, in token order (0 for non-lexicon words, boosters and
/// the "kind" of "kind of").
pub(crate) fn token_sentiments(text: &SentiText<'_>) -> Vec<f64> {
    let tokens = &text.tokens;
    (0..tokens.len())
        .map(|i| {
            let item = &tokens[i];
            let starts_kind_of =
                item.lower == "kind" && tokens.get(i + 1).is_some_and(|next| next.lower == "of");
            if booster(&[&item.lower]).is_some() || starts_kind_of {
                0.0
            } else {
                sentiment_valence(tokens, i, text.is_cap_diff)
            }
        })
        .collect()
}

fn lower_at<'a>(tokens: &'a [Token<'_>], i: usize) -> &'a str {
    &tokens[i].lower
}

fn sentiment_valence(tokens: &[Token<'_>], i: usize, is_cap_diff: bool) -> f64 {
    let item = &tokens[i];
    let Some(rating) = item.valence else {
        return 0.0;
    };
    let mut valence = rating;
    // "no" right before another lexicon word negates that word instead of counting itself.
    if item.lower == "no" && tokens.get(i + 1).is_some_and(|next| next.valence.is_some()) {
        valence = 0.0;
    }
    let is_no = |k: usize| lower_at(tokens, k) == "no";
    if (i > 0 && is_no(i - 1))
        || (i > 1 && is_no(i - 2))
        || (i > 2 && is_no(i - 3) && matches!(lower_at(tokens, i - 1), "or" | "nor"))
    {
        valence = rating * N_SCALAR;
    }
    if item.is_upper && is_cap_diff {
        if valence > 0.0 {
            valence += C_INCR;
        } else {
            valence -= C_INCR;
        }
    }
    for start_i in 0..3 {
        if i > start_i && tokens[i - (start_i + 1)].valence.is_none() {
            let mut scalar = scalar_inc_dec(&tokens[i - (start_i + 1)], valence, is_cap_diff);
            // Modifiers further away count less.
            if start_i == 1 && scalar != 0.0 {
                scalar *= 0.95;
            }
            if start_i == 2 && scalar != 0.0 {
                scalar *= 0.9;
            }
            valence += scalar;
            valence = negation_check(valence, tokens, start_i, i);
            if start_i == 2 {
                valence = special_idioms_check(valence, tokens, i);
            }
        }
    }
    least_check(valence, tokens, i)
}

/// How a preceding booster or dampener shifts `valence`, away from zero or towards it.
fn scalar_inc_dec(word: &Token<'_>, valence: f64, is_cap_diff: bool) -> f64 {
    let Some(mut scalar) = booster(&[&word.lower]) else {
        return 0.0;
    };
    if valence < 0.0 {
        scalar *= -1.0;
    }
    if word.is_upper && is_cap_diff {
        if valence > 0.0 {
            scalar += C_INCR;
        } else {
            scalar -= C_INCR;
        }
    }
    scalar
}

/// `_negation_check`; the caller guarantees `i > start_i`.
fn negation_check(valence: f64, tokens: &[Token<'_>], start_i: usize, i: usize) -> f64 {
    let w = |back: usize| lower_at(tokens, i - back);
    let so_or_this = |word: &str| word == "so" || word == "this";
    match start_i {
        0 if is_negation(w(1)) => valence * N_SCALAR,
        1 if w(2) == "never" && so_or_this(w(1)) => valence * 1.25,
        1 if w(2) == "without" && w(1) == "doubt" => valence,
        1 if is_negation(w(2)) => valence * N_SCALAR,
        // The reference's operator precedence makes "so"/"this" right before the word
        // amplify on its own: `never and (so or this) or (so or this)`.
        2 if (w(3) == "never" && so_or_this(w(2))) || so_or_this(w(1)) => valence * 1.25,
        2 if w(3) == "without" && (w(2) == "doubt" || w(1) == "doubt") => valence,
        2 if is_negation(w(3)) => valence * N_SCALAR,
        _ => valence,
    }
}

/// `_special_idioms_check`; the caller guarantees `i >= 3`.
fn special_idioms_check(valence: f64, tokens: &[Token<'_>], i: usize) -> f64 {
    let mut valence = valence;
    let w = |k: usize| lower_at(tokens, k);
    let (three, two, one, zero) = (w(i - 3), w(i - 2), w(i - 1), w(i));
    let preceding: [&[&str]; 5] = [
        &[one, zero],
        &[two, one, zero],
        &[two, one],
        &[three, two, one],
        &[three, two],
    ];
    if let Some(idiom) = preceding.into_iter().find_map(special_case) {
        valence = idiom;
    }
    if tokens.len() - 1 > i
        && let Some(idiom) = special_case(&[zero, w(i + 1)])
    {
        valence = idiom;
    }
    if tokens.len() - 1 > i + 1
        && let Some(idiom) = special_case(&[zero, w(i + 1), w(i + 2)])
    {
        valence = idiom;
    }
    // Booster bigrams such as "sort of" before the word.
    let n_grams: [&[&str]; 3] = [&[three, two, one], &[three, two], &[two, one]];
    for n_gram in n_grams {
        if let Some(scalar) = booster(n_gram) {
            valence += scalar;
        }
    }
    valence
}

/// `_least_check`: "least" negates the next word, except in "at least" and "very least".
fn least_check(valence: f64, tokens: &[Token<'_>], i: usize) -> f64 {
    let follows_least =
        |i: usize| tokens[i - 1].valence.is_none() && tokens[i - 1].lower == "least";
    if i > 1 && follows_least(i) {
        if !matches!(lower_at(tokens, i - 2), "at" | "very") {
            return valence * N_SCALAR;
        }
    } else if i > 0 && follows_least(i) {
        return valence * N_SCALAR;
    }
    valence
}
