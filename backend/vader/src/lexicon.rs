//! The embedded vaderSentiment 3.3.2 lexicons (see `data/README.md`), parsed the way the
//! reference's `make_lex_dict` and `make_emoji_dict` parse them.

use std::collections::HashMap;

use crate::fast_hash::FastHash;
use crate::python_str::strip_spaces;

const VALENCE_FILE: &str = include_str!("../data/vader_lexicon.txt");
const EMOJI_FILE: &str = include_str!("../data/emoji_utf8_lexicon.txt");

/// Word (or emoticon) to mean valence rating, keyed exactly as in the file.
pub(crate) type Valences = HashMap<&'static str, f64, FastHash>;

/// Emoji to its textual description.
pub(crate) struct EmojiDescriptions {
    by_emoji: HashMap<char, &'static str, FastHash>,
    /// No emoji is below this code point, so most text skips the table lookup.
    lowest: char,
}

impl EmojiDescriptions {
    pub(crate) fn get(&self, c: char) -> Option<&'static str> {
        if c < self.lowest {
            None
        } else {
            self.by_emoji.get(&c).copied()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.by_emoji.len()
    }
}

/// The first two tab-separated fields of a stripped line; the reference would crash on a
/// line without two fields, the tests pin that none is skipped.
fn first_two_fields(line: &str) -> Option<(&str, &str)> {
    let mut fields = strip_spaces(line).split('\t');
    Some((fields.next()?, fields.next()?))
}

fn lines(file: &str) -> impl Iterator<Item = &str> {
    file.trim_end_matches('\n').split('\n')
}

/// `make_lex_dict`: empty lines skipped, a later duplicate overrides an earlier one.
pub(crate) fn valences() -> Valences {
    lines(VALENCE_FILE)
        .filter(|line| !line.is_empty())
        .filter_map(first_two_fields)
        .filter_map(|(word, rating)| Some((word, rating.parse().ok()?)))
        .collect()
}

/// `make_emoji_dict`, keeping only single-code-point keys: the reference looks emoji up one
/// code point at a time, so its multi-code-point keys (ZWJ sequences, skin tones, keycaps)
/// can never match; their parts are translated one by one instead.
pub(crate) fn emoji_descriptions() -> EmojiDescriptions {
    let by_emoji: HashMap<char, &'static str, FastHash> = lines(EMOJI_FILE)
        .filter_map(first_two_fields)
        .filter_map(|(emoji, description)| {
            let mut chars = emoji.chars();
            match (chars.next(), chars.next()) {
                (Some(single), None) => Some((single, description)),
                _ => None,
            }
        })
        .collect();
    let lowest = by_emoji.keys().copied().min().unwrap_or(char::MAX);
    EmojiDescriptions { by_emoji, lowest }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_valence_line_parses_and_later_duplicates_win() {
        let valences = valences();
        // 7520 lines, 14 of them repeat an earlier word.
        assert_eq!(lines(VALENCE_FILE).filter(|l| !l.is_empty()).count(), 7520);
        assert_eq!(valences.len(), 7506);
        assert_eq!(valences.get("good"), Some(&1.9));
        assert_eq!(valences.get(":)"), Some(&2.0));
        assert_eq!(valences.get("no"), Some(&-1.2));
        assert_eq!(valences.get("( '}{' )"), Some(&1.6));
        assert!(!valences.contains_key("but"));
        assert!(!valences.contains_key("least"));
    }

    #[test]
    fn every_emoji_line_parses_and_single_code_points_are_kept() {
        assert_eq!(lines(EMOJI_FILE).filter_map(first_two_fields).count(), 3570);
        let emoji = emoji_descriptions();
        assert_eq!(emoji.len(), 3570 - 2358);
        assert_eq!(emoji.get('😀'), Some("grinning face"));
        assert_eq!(emoji.get('💔'), Some("broken heart"));
        assert_eq!(emoji.get(emoji.lowest), Some("copyright"));
        assert_eq!(emoji.get('a'), None);
    }
}
