//! The public entry point: the lexicons loaded once, and the scoring pipeline (emoji
//! descriptions, tokens, per-token valence, "but", final scores).

use crate::contrast::but_check;
use crate::lexicon::{EmojiDescriptions, Valences, emoji_descriptions, valences};
use crate::scores::{Scores, score_valence};
use crate::text::{SentiText, describe_emoji};
use crate::valence::token_sentiments;

/// VADER scorer matching vaderSentiment 3.3.2. Build it once (a few milliseconds: the
/// embedded lexicons are parsed into hash maps) and share it: it is immutable, `Send` and
/// `Sync`.
pub struct SentimentIntensityAnalyzer {
    valences: Valences,
    emoji: EmojiDescriptions,
}

impl SentimentIntensityAnalyzer {
    pub fn new() -> Self {
        SentimentIntensityAnalyzer {
            valences: valences(),
            emoji: emoji_descriptions(),
        }
    }

    /// Scores `text`. Never panics; the work is linear in the length of the text.
    pub fn polarity_scores(&self, text: &str) -> Scores {
        let described = describe_emoji(text, &self.emoji);
        let senti_text = SentiText::new(&described, &self.valences);
        let mut sentiments = token_sentiments(&senti_text);
        but_check(&senti_text.tokens, &mut sentiments);
        score_valence(&sentiments, &described)
    }
}

impl Default for SentimentIntensityAnalyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for SentimentIntensityAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentimentIntensityAnalyzer")
            .field("lexicon_words", &self.valences.len())
            .field("emoji", &self.emoji.len())
            .finish()
    }
}
