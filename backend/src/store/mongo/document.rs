//! How an analysis is laid out in MongoDB. The `_id` (an ObjectId made here, before the insert,
//! so every document's fate in a partly failed `insert_many` can be told) is the public id and
//! the history cursor.

use chrono::DateTime;
use mongodb::bson::{self, oid::ObjectId};
use serde::{Deserialize, Serialize};
use vader::Scores;

use crate::analysis::{Analysis, NewAnalysis};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnalysisDocument {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub text: String,
    pub neg: f64,
    pub neu: f64,
    pub pos: f64,
    pub compound: f64,
    pub created_at: bson::DateTime,
    /// Absent, not null, without a key: the sparse unique index then leaves the document out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl AnalysisDocument {
    pub fn new(analysis: &NewAnalysis) -> Self {
        let scores = analysis.scores;
        Self {
            id: ObjectId::new(),
            text: analysis.text.clone(),
            neg: scores.neg,
            neu: scores.neu,
            pos: scores.pos,
            compound: scores.compound,
            created_at: bson::DateTime::from_millis(analysis.created_at.timestamp_millis()),
            idempotency_key: analysis
                .idempotency_key
                .as_ref()
                .map(|key| key.as_str().to_owned()),
        }
    }

    pub fn to_analysis(&self) -> Analysis {
        Analysis {
            id: self.id.to_hex(),
            text: self.text.clone(),
            scores: Scores {
                neg: self.neg,
                neu: self.neu,
                pos: self.pos,
                compound: self.compound,
            },
            created_at: DateTime::from_timestamp_millis(self.created_at.timestamp_millis())
                .unwrap_or_default(),
        }
    }
}
