//! VADER's fixed word lists: the empirically derived constants, negation words, booster
//! and dampener words ("degree adverbs") and the special-case idioms, looked up on
//! lowercased words.

/// Mean intensity increase for a booster word.
const B_INCR: f64 = 0.293;
/// Mean intensity decrease for a dampener word.
const B_DECR: f64 = -0.293;
/// Mean intensity increase for a word written in ALL CAPS among mixed-case words.
pub(crate) const C_INCR: f64 = 0.733;
/// Scalar applied to a negated valence.
pub(crate) const N_SCALAR: f64 = -0.74;

/// Whether a lowercased word negates what follows (vaderSentiment's `negated([word])`):
/// a word of `NEGATE`, or any word containing "n't".
pub(crate) fn is_negation(word: &str) -> bool {
    matches!(
        word,
        "aint"
            | "arent"
            | "cannot"
            | "cant"
            | "couldnt"
            | "darent"
            | "didnt"
            | "doesnt"
            | "ain't"
            | "aren't"
            | "can't"
            | "couldn't"
            | "daren't"
            | "didn't"
            | "doesn't"
            | "dont"
            | "hadnt"
            | "hasnt"
            | "havent"
            | "isnt"
            | "mightnt"
            | "mustnt"
            | "neither"
            | "don't"
            | "hadn't"
            | "hasn't"
            | "haven't"
            | "isn't"
            | "mightn't"
            | "mustn't"
            | "neednt"
            | "needn't"
            | "never"
            | "none"
            | "nope"
            | "nor"
            | "not"
            | "nothing"
            | "nowhere"
            | "oughtnt"
            | "shant"
            | "shouldnt"
            | "uhuh"
            | "wasnt"
            | "werent"
            | "oughtn't"
            | "shan't"
            | "shouldn't"
            | "uh-uh"
            | "wasn't"
            | "weren't"
            | "without"
            | "wont"
            | "wouldnt"
            | "won't"
            | "wouldn't"
            | "rarely"
            | "seldom"
            | "despite"
    ) || word.contains("n't")
}

/// `BOOSTER_DICT[" ".join(words)]` for lowercased words: the one- and two-word keys.
pub(crate) fn booster(words: &[&str]) -> Option<f64> {
    match words {
        [
            "absolutely" | "amazingly" | "awfully" | "completely" | "considerable" | "considerably"
            | "decidedly" | "deeply" | "effing" | "enormous" | "enormously" | "entirely"
            | "especially" | "exceptional" | "exceptionally" | "extreme" | "extremely"
            | "fabulously" | "flipping" | "flippin" | "frackin" | "fracking" | "fricking"
            | "frickin" | "frigging" | "friggin" | "fully" | "fuckin" | "fucking" | "fuggin"
            | "fugging" | "greatly" | "hella" | "highly" | "hugely" | "incredible" | "incredibly"
            | "intensely" | "major" | "majorly" | "more" | "most" | "particularly" | "purely"
            | "quite" | "really" | "remarkably" | "so" | "substantially" | "thoroughly" | "total"
            | "totally" | "tremendous" | "tremendously" | "uber" | "unbelievably" | "unusually"
            | "utter" | "utterly" | "very",
        ] => Some(B_INCR),
        [
            "almost" | "barely" | "hardly" | "kinda" | "kindof" | "kind-of" | "less" | "little"
            | "marginal" | "marginally" | "occasional" | "occasionally" | "partly" | "scarce"
            | "scarcely" | "slight" | "slightly" | "somewhat" | "sorta" | "sortof" | "sort-of",
        ]
        | ["just", "enough"]
        | ["kind", "of"]
        | ["sort", "of"] => Some(B_DECR),
        _ => None,
    }
}

/// `SPECIAL_CASES[" ".join(words)]` for lowercased words: idioms whose valence replaces
/// the computed one.
pub(crate) fn special_case(words: &[&str]) -> Option<f64> {
    match words {
        ["the", "shit"] | ["the", "bomb"] | ["to", "die", "for"] => Some(3.0),
        ["bad", "ass"] | ["badass"] => Some(1.5),
        ["bus", "stop"] => Some(0.0),
        ["yeah", "right"] => Some(-2.0),
        ["kiss", "of", "death"] => Some(-1.5),
        ["beating", "heart"] => Some(3.5),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negations_include_contractions_and_any_nt() {
        assert!(is_negation("not"));
        assert!(is_negation("uh-uh"));
        assert!(is_negation("shouldn't"));
        assert!(is_negation("y'all-can't-even"));
        assert!(!is_negation("no"), "'no' has its own rule");
        assert!(!is_negation("nt"));
    }

    #[test]
    fn boosters_match_whole_phrases_only() {
        assert_eq!(booster(&["very"]), Some(B_INCR));
        assert_eq!(booster(&["kind", "of"]), Some(B_DECR));
        assert_eq!(booster(&["kind"]), None);
        assert_eq!(booster(&["of"]), None);
        assert_eq!(booster(&["very", "very"]), None);
        assert_eq!(special_case(&["the", "bomb"]), Some(3.0));
        assert_eq!(special_case(&["badass"]), Some(1.5));
        assert_eq!(special_case(&["the", "bomb", "x"]), None);
    }
}
