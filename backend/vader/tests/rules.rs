//! One test per VADER rule, through the public API, with the scores vaderSentiment 3.3.2
//! gives for the same text (copied from the reference; `tests/reference.rs` covers the
//! corpus at large, these name what each rule does).

use std::sync::{Arc, LazyLock};

use vader::{Scores, SentimentIntensityAnalyzer};

static ANALYZER: LazyLock<SentimentIntensityAnalyzer> =
    LazyLock::new(SentimentIntensityAnalyzer::new);

fn scores(text: &str) -> (f64, f64, f64, f64) {
    let Scores {
        neg,
        neu,
        pos,
        compound,
    } = ANALYZER.polarity_scores(text);
    (neg, neu, pos, compound)
}

#[test]
fn lexicon_word_alone() {
    assert_eq!(scores("good"), (0.0, 0.0, 1.0, 0.4404));
}

#[test]
fn negation_words_and_nt_contractions_flip_and_dampen() {
    assert_eq!(scores("not good"), (0.706, 0.294, 0.0, -0.3412));
    assert_eq!(scores("isn't good"), (0.706, 0.294, 0.0, -0.3412));
    assert_eq!(scores("never good"), (0.706, 0.294, 0.0, -0.3412));
}

#[test]
fn no_negates_a_following_lexicon_word_but_counts_alone() {
    assert_eq!(scores("no good"), (0.706, 0.294, 0.0, -0.3412));
    assert_eq!(scores("no"), (1.0, 0.0, 0.0, -0.296));
    assert_eq!(scores("no problem"), (0.0, 0.307, 0.693, 0.3089));
    assert_eq!(
        scores("the food is no or nor good"),
        (0.238, 0.541, 0.221, -0.0412)
    );
}

#[test]
fn all_caps_emphasis_needs_mixed_case() {
    assert_eq!(scores("GOOD food"), (0.0, 0.216, 0.784, 0.5622));
    assert_eq!(scores("GOOD FOOD"), (0.0, 0.256, 0.744, 0.4404));
    assert_eq!(scores("VERY good"), (0.0, 0.203, 0.797, 0.6028));
}

#[test]
fn boosters_and_dampeners() {
    assert_eq!(scores("very good"), (0.0, 0.238, 0.762, 0.4927));
    assert_eq!(scores("kind of good"), (0.0, 0.408, 0.592, 0.4404));
    assert_eq!(scores("x kind of good"), (0.0, 0.535, 0.465, 0.3832));
    assert_eq!(scores("sort of bad"), (0.636, 0.364, 0.0, -0.5423));
}

#[test]
fn never_so_amplifies_and_without_doubt_does_not_negate() {
    assert_eq!(scores("never so good"), (0.0, 0.348, 0.652, 0.5777));
    assert_eq!(scores("without doubt good"), (0.0, 0.166, 0.834, 0.6136));
    assert_eq!(scores("without a doubt good"), (0.0, 0.285, 0.715, 0.6136));
}

#[test]
fn special_idioms_apply_only_three_words_in() {
    assert_eq!(scores("the shit"), (0.783, 0.217, 0.0, -0.5574));
    assert_eq!(scores("x y z the shit"), (0.0, 0.5, 0.5, 0.6124));
    assert_eq!(scores("x y yeah right"), (0.0, 0.577, 0.423, 0.296));
    assert_eq!(scores("x y z yeah right"), (0.429, 0.571, 0.0, -0.4588));
    assert_eq!(
        scores("x y z the bomb is good"),
        (0.0, 0.385, 0.615, 0.8402)
    );
}

#[test]
fn but_shifts_weight_to_the_second_clause() {
    assert_eq!(scores("good but bad"), (0.617, 0.13, 0.253, -0.5859));
    assert_eq!(scores("bad but good"), (0.317, 0.141, 0.542, 0.3818));
}

#[test]
fn least_negates_except_after_at_or_very() {
    assert_eq!(scores("least good"), (0.706, 0.294, 0.0, -0.3412));
    assert_eq!(scores("x least good"), (0.546, 0.454, 0.0, -0.3412));
    assert_eq!(scores("at least good"), (0.0, 0.408, 0.592, 0.4404));
    assert_eq!(scores("very least good"), (0.0, 0.386, 0.614, 0.4902));
}

#[test]
fn exclamation_and_question_marks_add_emphasis() {
    assert_eq!(scores("good!"), (0.0, 0.0, 1.0, 0.4926));
    assert_eq!(scores("good!!!!!!"), (0.0, 0.0, 1.0, 0.6209));
    assert_eq!(scores("good??"), (0.0, 0.0, 1.0, 0.504));
    assert_eq!(scores("good????"), (0.0, 0.0, 1.0, 0.594));
    assert_eq!(scores("?"), (0.0, 1.0, 0.0, 0.0));
}

#[test]
fn emoji_are_scored_through_their_descriptions() {
    assert_eq!(scores("😀"), (0.0, 0.286, 0.714, 0.3612));
    // The description is glued to a following word, as in the reference.
    assert_eq!(scores("😀good"), (0.0, 0.286, 0.714, 0.3612));
    assert_eq!(scores("good😀"), (0.0, 0.156, 0.844, 0.6597));
    assert_eq!(scores("no 😀"), (0.513, 0.487, 0.0, -0.2755));
}

#[test]
fn empty_and_whitespace_texts_score_all_zero() {
    for text in ["", " ", "\t\n\u{3000}\u{1c}"] {
        assert_eq!(scores(text), (0.0, 0.0, 0.0, 0.0), "{text:?}");
    }
}

#[test]
fn one_analyzer_is_shared_across_threads() {
    let analyzer = Arc::new(SentimentIntensityAnalyzer::default());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let analyzer = Arc::clone(&analyzer);
            std::thread::spawn(move || {
                analyzer.polarity_scores("VADER is smart, handsome, and funny!")
            })
        })
        .collect();
    for handle in handles {
        let scores = handle.join().expect("scoring thread finished");
        assert_eq!(scores.compound, 0.8439);
    }
}
