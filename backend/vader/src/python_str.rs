//! Python `str` semantics that the reference implementation relies on: which characters
//! `str.split()`/`str.strip()` treat as whitespace, `str.isupper()`, `str.lower()` and
//! `str.strip(string.punctuation)`. Everything works on code points, as Python does.

use std::borrow::Cow;

/// `str.isspace()` for one code point: Unicode `White_Space` plus the four ASCII
/// information separators U+001C..U+001F, which Python counts because their bidirectional
/// class is B or S.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `str.split()` without arguments: runs of whitespace separate words, no empty words.
pub(crate) fn split_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(is_space).filter(|word| !word.is_empty())
}

/// `str.strip()` without arguments.
pub(crate) fn strip_spaces(text: &str) -> &str {
    text.trim_matches(is_space)
}

/// `str.isupper()`: at least one uppercase character and no lowercase or titlecase one.
pub(crate) fn is_upper(word: &str) -> bool {
    let mut cased = false;
    for c in word.chars() {
        if c.is_lowercase() || is_titlecase(c) {
            return false;
        }
        cased |= c.is_uppercase();
    }
    cased
}

/// General category Lt, which `str.isupper()` rejects but `char` has no predicate for.
/// The set has been stable since Unicode 3.
fn is_titlecase(c: char) -> bool {
    matches!(
        c,
        '\u{1c5}'
            | '\u{1c8}'
            | '\u{1cb}'
            | '\u{1f2}'
            | '\u{1f88}'..='\u{1f8f}'
            | '\u{1f98}'..='\u{1f9f}'
            | '\u{1fa8}'..='\u{1faf}'
            | '\u{1fbc}'
            | '\u{1fcc}'
            | '\u{1ffc}'
    )
}

/// `str.lower()` (full case mapping, including the Greek final sigma rule), borrowing when
/// the word is already lowercase ASCII, which is the common case.
pub(crate) fn lower(word: &str) -> Cow<'_, str> {
    if word.is_ascii() {
        if word.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(word.to_ascii_lowercase())
        } else {
            Cow::Borrowed(word)
        }
    } else {
        Cow::Owned(word.to_lowercase())
    }
}

/// `word.strip(string.punctuation)`: the 32 ASCII punctuation characters, both ends.
pub(crate) fn strip_ascii_punctuation(word: &str) -> &str {
    word.trim_matches(|c: char| c.is_ascii_punctuation())
}

/// `len(text) <= limit` in code points, without counting past the limit.
pub(crate) fn has_at_most_chars(text: &str, limit: usize) -> bool {
    text.chars().nth(limit).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_includes_information_separators_but_not_zero_width_space() {
        for c in [
            '\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1c}', '\u{1f}', '\u{85}', '\u{a0}',
        ] {
            assert!(is_space(c), "{c:?}");
        }
        for c in ['\u{2028}', '\u{2029}', '\u{202f}', '\u{3000}', '\u{1680}'] {
            assert!(is_space(c), "{c:?}");
        }
        for c in ['\u{200b}', '\u{180e}', '\u{feff}', '\u{1b}', 'a'] {
            assert!(!is_space(c), "{c:?}");
        }
        let words: Vec<&str> = split_words("\u{1c}a\u{3000}b  c\u{a0}").collect();
        assert_eq!(words, ["a", "b", "c"]);
    }

    #[test]
    fn isupper_follows_python() {
        assert!(is_upper("GOOD"));
        assert!(is_upper("GOOD!!"));
        assert!(is_upper("ΚΑΛΟ"));
        assert!(is_upper("ХОРОШО"));
        assert!(is_upper("Ⅻ"), "Other_Uppercase roman numeral");
        assert!(!is_upper("Good"));
        assert!(!is_upper(":)"));
        assert!(!is_upper("123"));
        assert!(!is_upper("中文"));
        assert!(!is_upper("ǅ"), "titlecase letter alone");
        assert!(!is_upper("Aǅ"), "titlecase letter among capitals");
        assert!(!is_upper(""));
    }

    #[test]
    fn lower_uses_full_unicode_mapping() {
        assert_eq!(lower("Hello"), "hello");
        assert!(matches!(lower("hello"), Cow::Borrowed(_)));
        assert_eq!(lower("ΟΔΟΣ"), "οδος");
        assert_eq!(lower("İ"), "i\u{307}");
        assert_eq!(lower("\u{212a}"), "k", "Kelvin sign lowers to ASCII");
    }

    #[test]
    fn punctuation_strip_is_ascii_only() {
        assert_eq!(strip_ascii_punctuation("'hello!!'"), "hello");
        assert_eq!(strip_ascii_punctuation(":)"), "");
        assert_eq!(strip_ascii_punctuation("«hi»"), "«hi»");
        assert!(has_at_most_chars("éé", 2));
        assert!(!has_at_most_chars("abc", 2));
    }
}
