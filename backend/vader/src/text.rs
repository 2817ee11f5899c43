//! Turning raw text into VADER's tokens: emoji replaced by their descriptions, then the
//! reference's `SentiText` (whitespace split, punctuation stripped from words but kept on
//! emoticons, the "some but not all words are ALL CAPS" flag).

use std::borrow::Cow;

use crate::lexicon::{EmojiDescriptions, Valences};
use crate::python_str::{has_at_most_chars, is_upper, lower, split_words, strip_ascii_punctuation};

/// One word or emoticon, with what the rules ask about it precomputed.
pub(crate) struct Token<'t> {
    /// `str.lower()` of the token, used for every dictionary comparison.
    pub lower: Cow<'t, str>,
    /// `str.isupper()` of the token as written.
    pub is_upper: bool,
    /// The lexicon valence of `lower`, if it is a lexicon word.
    pub valence: Option<f64>,
}

/// The tokens of one text plus the text-wide facts the scoring needs.
pub(crate) struct SentiText<'t> {
    pub tokens: Vec<Token<'t>>,
    /// Some, but not all, tokens are ALL CAPS: only then does capitalisation add emphasis.
    pub is_cap_diff: bool,
}

/// The reference's emoji pass: each code point that is an emoji becomes its description,
/// preceded by a space unless the previous character was a space (a following word is
/// glued on: "😀x" becomes "grinning facex", as in the reference).
pub(crate) fn describe_emoji(text: &str, emoji: &EmojiDescriptions) -> String {
    let mut described = String::with_capacity(text.len());
    let mut prev_space = true;
    for c in text.chars() {
        match emoji.get(c) {
            Some(description) => {
                if !prev_space {
                    described.push(' ');
                }
                described.push_str(description);
                prev_space = false;
            }
            None => {
                described.push(c);
                prev_space = c == ' ';
            }
        }
    }
    described
}

/// `_strip_punc_if_word`: strip surrounding ASCII punctuation unless that leaves two code
/// points or fewer, in which case the token was probably an emoticon and is kept whole.
fn strip_punctuation_if_word(token: &str) -> &str {
    let stripped = strip_ascii_punctuation(token);
    if has_at_most_chars(stripped, 2) {
        token
    } else {
        stripped
    }
}

impl<'t> SentiText<'t> {
    pub(crate) fn new(text: &'t str, valences: &Valences) -> Self {
        let tokens: Vec<Token<'t>> = split_words(text)
            .map(strip_punctuation_if_word)
            .map(|word| {
                let lower = lower(word);
                let valence = valences.get(lower.as_ref()).copied();
                Token {
                    is_upper: is_upper(word),
                    lower,
                    valence,
                }
            })
            .collect();
        let all_caps = tokens.iter().filter(|token| token.is_upper).count();
        let is_cap_diff = all_caps > 0 && all_caps < tokens.len();
        SentiText {
            tokens,
            is_cap_diff,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::{emoji_descriptions, valences};

    fn lowered(text: &str) -> Vec<String> {
        let valences = valences();
        SentiText::new(text, &valences)
            .tokens
            .iter()
            .map(|t| t.lower.to_string())
            .collect()
    }

    #[test]
    fn emoji_get_spaced_descriptions_but_following_text_is_glued() {
        let emoji = emoji_descriptions();
        assert_eq!(describe_emoji("a😀", &emoji), "a grinning face");
        assert_eq!(describe_emoji("😀 a", &emoji), "grinning face a");
        assert_eq!(describe_emoji("😀a", &emoji), "grinning facea");
        assert_eq!(describe_emoji("💘💋", &emoji), "heart with arrow kiss mark");
        assert_eq!(describe_emoji("x\t😀", &emoji), "x\t grinning face");
        assert_eq!(describe_emoji("plain", &emoji), "plain");
    }

    #[test]
    fn punctuation_is_stripped_from_words_only() {
        assert_eq!(
            lowered("Hello!!! :) (great) ok, :-D"),
            ["hello", ":)", "great", "ok,", ":-d"]
        );
        assert_eq!(lowered("'don't'"), ["don't"]);
        assert_eq!(lowered("!!! ??"), ["!!!", "??"]);
        assert_eq!(lowered("«éé»!"), ["«éé»"]);
        assert_eq!(lowered("éé!"), ["éé!"], "two code points left, kept whole");
    }

    #[test]
    fn cap_differential_needs_both_kinds_of_words() {
        let valences = valences();
        assert!(SentiText::new("VERY good", &valences).is_cap_diff);
        assert!(!SentiText::new("VERY GOOD", &valences).is_cap_diff);
        assert!(!SentiText::new("very good", &valences).is_cap_diff);
        assert!(SentiText::new("ОЧЕНЬ good", &valences).is_cap_diff);
        assert!(!SentiText::new("", &valences).is_cap_diff);
    }
}
