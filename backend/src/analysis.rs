//! The analysis record: what `POST /analyze` computes and stores, and `GET /history` returns.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};
use vader::Scores;

use crate::idempotency::IdempotencyKey;

/// VADER's customary cut-offs on the compound score.
const POSITIVE_THRESHOLD: f64 = 0.05;
const NEGATIVE_THRESHOLD: f64 = -0.05;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Positive,
    Neutral,
    Negative,
}

impl Label {
    pub fn from_compound(compound: f64) -> Self {
        if compound >= POSITIVE_THRESHOLD {
            Label::Positive
        } else if compound <= NEGATIVE_THRESHOLD {
            Label::Negative
        } else {
            Label::Neutral
        }
    }
}

/// An analysis computed but not yet stored: it has no id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAnalysis {
    pub text: String,
    pub scores: Scores,
    pub created_at: DateTime<Utc>,
    /// The client's `Idempotency-Key`, kept with the analysis (never shown in history).
    pub idempotency_key: Option<IdempotencyKey>,
}

impl NewAnalysis {
    /// Stamps the analysis with a store-assigned id.
    pub fn stored_as(self, id: String) -> Analysis {
        Analysis {
            id,
            text: self.text,
            scores: self.scores,
            created_at: self.created_at,
        }
    }
}

/// A stored analysis. The id is opaque to clients: each store chooses its form, and it is the
/// cursor of `GET /history?before=`.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub id: String,
    pub text: String,
    pub scores: Scores,
    pub created_at: DateTime<Utc>,
}

impl Serialize for Analysis {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct ScoresView {
            neg: f64,
            neu: f64,
            pos: f64,
            compound: f64,
        }
        let scores = self.scores;
        let mut record = serializer.serialize_struct("Analysis", 6)?;
        record.serialize_field("id", &self.id)?;
        record.serialize_field("text", &self.text)?;
        // `sentiment` keeps clients of the classic `{"text", "sentiment"}` API working.
        record.serialize_field("sentiment", &scores.compound)?;
        record.serialize_field("label", &Label::from_compound(scores.compound))?;
        record.serialize_field(
            "scores",
            &ScoresView {
                neg: scores.neg,
                neu: scores.neu,
                pos: scores.pos,
                compound: scores.compound,
            },
        )?;
        record.serialize_field(
            "created_at",
            &self.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        )?;
        record.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_vader_thresholds() {
        assert_eq!(Label::from_compound(0.05), Label::Positive);
        assert_eq!(Label::from_compound(0.0499), Label::Neutral);
        assert_eq!(Label::from_compound(-0.0499), Label::Neutral);
        assert_eq!(Label::from_compound(-0.05), Label::Negative);
    }

    #[test]
    fn serializes_the_public_shape() {
        let analysis = NewAnalysis {
            text: "good".into(),
            scores: Scores {
                neg: 0.0,
                neu: 0.0,
                pos: 1.0,
                compound: 0.4404,
            },
            created_at: DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
            idempotency_key: None,
        }
        .stored_as("7".into());
        let json = serde_json::to_value(&analysis).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "id": "7", "text": "good", "sentiment": 0.4404, "label": "positive",
                "scores": {"neg": 0.0, "neu": 0.0, "pos": 1.0, "compound": 0.4404},
                "created_at": "2023-11-14T22:13:20.123Z"
            })
        );
    }
}
