//! Adversarial and random inputs: scoring never panics and the scores stay in range
//! (proportions sum to about 1, or are all 0 for a text without words; compound in [-1, 1]).

use std::sync::LazyLock;

use proptest::prelude::*;
use vader::{Scores, SentimentIntensityAnalyzer};

static ANALYZER: LazyLock<SentimentIntensityAnalyzer> =
    LazyLock::new(SentimentIntensityAnalyzer::new);

fn assert_in_range(text: &str, scores: Scores) {
    let Scores {
        neg,
        neu,
        pos,
        compound,
    } = scores;
    let shown: String = text.chars().take(80).collect();
    for share in [neg, neu, pos] {
        assert!((0.0..=1.0).contains(&share), "{shown:?}: {scores:?}");
    }
    let total = neg + neu + pos;
    // Each share is rounded to 3 decimals, so the sum may be off by up to 0.0015.
    assert!(
        total == 0.0 || (total - 1.0).abs() <= 0.0015 + 1e-12,
        "{shown:?}: {scores:?}"
    );
    assert!((-1.0..=1.0).contains(&compound), "{shown:?}: {scores:?}");
    assert!(total != 0.0 || compound == 0.0, "{shown:?}: {scores:?}");
}

fn check(text: &str) {
    assert_in_range(text, ANALYZER.polarity_scores(text));
}

/// Words every rule looks for, so that each rule fires at the very start and very end.
const SPECIAL_WORDS: &[&str] = &[
    "but",
    "BUT",
    "no",
    "NO",
    "not",
    "n't",
    "kind",
    "of",
    "kind of",
    "least",
    "at least",
    "very least",
    "never",
    "never so",
    "never this",
    "so",
    "this",
    "without",
    "doubt",
    "without doubt",
    "or",
    "nor",
    "the shit",
    "the bomb",
    "bad ass",
    "yeah right",
    "kiss of death",
    "to die for",
    "beating heart",
    "bus stop",
    "just enough",
    "sort of",
    "very",
    "VERY",
    "good",
    "GOOD",
    ":)",
    "<3",
    "!",
    "?",
    "😀",
    "💔",
    "👍🏽",
    "👨‍👩‍👧",
];

#[test]
fn degenerate_texts() {
    let long_word = "a".repeat(100_000);
    let texts = [
        "",
        " ",
        "\t\n\r\u{b}\u{c}\u{1c}\u{1d}\u{1e}\u{1f}\u{85}\u{a0}\u{2028}\u{3000}",
        "!",
        "?",
        "!?!?!?!?!?",
        "...",
        "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        "a",
        "I",
        "\u{0}",
        "\u{0}\u{1}\u{7}\u{1b}\u{7f}",
        "\u{301}",
        "\u{301}\u{302}\u{303} \u{301}",
        "\u{200d}",
        "\u{fe0f}",
        "\u{1f3fb}",
        "\u{feff}",
        "\u{10ffff}",
        "\u{e0001}",
        "\u{fffd}",
        "ΣΣΣ ς Σ",
        "İ",
        &long_word,
    ];
    for text in texts {
        check(text);
    }
}

#[test]
fn special_words_at_the_start_middle_and_end() {
    for word in SPECIAL_WORDS {
        for text in [
            word.to_string(),
            format!("{word} good"),
            format!("good {word}"),
            format!("x y z {word}"),
            format!("{word} {word} {word}"),
            format!("{word}!!!"),
            word.to_uppercase(),
        ] {
            check(&text);
        }
        for other in SPECIAL_WORDS {
            check(&format!("{word} {other}"));
            check(&format!("{word} {other} good"));
        }
    }
}

#[test]
fn megabyte_texts() {
    let sentence = "The food was NOT very good, but the service was the bomb!!! 😀 ";
    let text = sentence.repeat(1_000_000 / sentence.len() + 1);
    check(&text);
    let buts = "but good ".repeat(120_000);
    check(&buts);
    let emoji = "😀💔🙏".repeat(90_000);
    check(&emoji);
    let punctuation = "!?.,".repeat(250_000);
    check(&punctuation);
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(SPECIAL_WORDS).prop_map(str::to_string),
        "[a-zA-Z']{1,8}",
        "[!?.,:;()<3*'\"-]{1,4}",
        any::<char>().prop_map(String::from),
        "\\PC{1,6}",
    ]
}

fn separator() -> impl Strategy<Value = &'static str> {
    prop::sample::select(
        &[
            " ", " ", "  ", "\t", "\u{a0}", "\u{3000}", "\u{1c}", "", "\n",
        ][..],
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn random_texts_never_panic_and_stay_in_range(
        parts in prop::collection::vec((token(), separator()), 0..24)
    ) {
        let text: String = parts.iter().flat_map(|(token, separator)| [token.as_str(), *separator]).collect();
        check(&text);
    }

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        check(&text);
    }
}
