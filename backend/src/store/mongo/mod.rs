//! The production store: MongoDB through the official driver.
//!
//! Writes use the configured write concern (majority by default) so an acknowledged analysis
//! survives the loss of a replica-set member. History is ordered by `created_at` then `_id`,
//! backed by an index created at start-up; the `_id` (an ObjectId) is the public id and cursor.

use std::time::Duration;

use async_trait::async_trait;
use chrono::DateTime;
use futures_util::TryStreamExt;
use mongodb::bson::{self, Document, doc, oid::ObjectId};
use mongodb::options::{ClientOptions, IndexOptions, WriteConcern};
use mongodb::{Client, Collection, IndexModel};
use serde::{Deserialize, Serialize};
use vader::Scores;

use super::{HistoryPage, Store, StoreError};
use crate::analysis::{Analysis, NewAnalysis};
use crate::configuration::{StoreSettings, WriteConcernSetting};

/// How long an operation waits for a usable server when the URI does not say; the driver's own
/// default (30 s) would hold requests far longer than any client waits.
const DEFAULT_SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(5);
const INDEX_RETRY_INTERVAL: Duration = Duration::from_secs(5);
const HISTORY_INDEX: &str = "history_newest_first";

#[derive(Debug, Serialize, Deserialize)]
struct AnalysisDocument {
    #[serde(rename = "_id")]
    id: ObjectId,
    text: String,
    neg: f64,
    neu: f64,
    pos: f64,
    compound: f64,
    created_at: bson::DateTime,
}

impl AnalysisDocument {
    fn new(analysis: &NewAnalysis) -> Self {
        let scores = analysis.scores;
        Self {
            id: ObjectId::new(),
            text: analysis.text.clone(),
            neg: scores.neg,
            neu: scores.neu,
            pos: scores.pos,
            compound: scores.compound,
            created_at: bson::DateTime::from_millis(analysis.created_at.timestamp_millis()),
        }
    }

    fn into_analysis(self) -> Analysis {
        Analysis {
            id: self.id.to_hex(),
            text: self.text,
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

pub struct MongoStore {
    client: Client,
    collection: Collection<AnalysisDocument>,
    write_concern: WriteConcern,
}

impl MongoStore {
    /// Parses the URI and prepares the client. The driver connects lazily, so a server that is
    /// down does not stop start-up: readiness reports it, and the index is created once the
    /// server answers.
    pub async fn connect(uri: &str, settings: &StoreSettings) -> Result<Self, StoreError> {
        let mut options = ClientOptions::parse(uri).await?;
        options
            .app_name
            .get_or_insert_with(|| "sentiment-backend".to_owned());
        options
            .server_selection_timeout
            .get_or_insert(DEFAULT_SERVER_SELECTION_TIMEOUT);
        let client = Client::with_options(options)?;
        let collection = client
            .database(&settings.mongodb_database)
            .collection(&settings.mongodb_collection);
        let write_concern = match settings.mongodb_write_concern {
            WriteConcernSetting::Majority => WriteConcern::majority(),
            WriteConcernSetting::Nodes(nodes) => WriteConcern::nodes(nodes),
        };
        let store = Self {
            client,
            collection,
            write_concern,
        };
        tokio::spawn(ensure_history_index(store.collection.clone()));
        Ok(store)
    }

    /// The filter for analyses older than the cursor, in (created_at, _id) order.
    async fn older_than(&self, before: &str) -> Result<Document, StoreError> {
        let id = ObjectId::parse_str(before)
            .map_err(|_| StoreError::InvalidCursor(before.to_owned()))?;
        let anchor = self
            .collection
            .find_one(doc! { "_id": id })
            .await?
            .ok_or_else(|| StoreError::InvalidCursor(before.to_owned()))?;
        Ok(doc! { "$or": [
            { "created_at": { "$lt": anchor.created_at } },
            { "created_at": anchor.created_at, "_id": { "$lt": id } },
        ] })
    }
}

async fn ensure_history_index(collection: Collection<AnalysisDocument>) {
    let index = IndexModel::builder()
        .keys(doc! { "created_at": -1, "_id": -1 })
        .options(
            IndexOptions::builder()
                .name(HISTORY_INDEX.to_owned())
                .build(),
        )
        .build();
    loop {
        match collection.create_index(index.clone()).await {
            Ok(_) => {
                log::info!("MongoDB index {HISTORY_INDEX} is in place");
                return;
            }
            Err(error) => {
                log::warn!("cannot create MongoDB index {HISTORY_INDEX} yet: {error}");
                tokio::time::sleep(INDEX_RETRY_INTERVAL).await;
            }
        }
    }
}

#[async_trait]
impl Store for MongoStore {
    async fn insert_batch(&self, batch: Vec<NewAnalysis>) -> Result<Vec<Analysis>, StoreError> {
        let documents: Vec<AnalysisDocument> = batch.iter().map(AnalysisDocument::new).collect();
        self.collection
            .insert_many(&documents)
            .ordered(true)
            .write_concern(self.write_concern.clone())
            .await?;
        Ok(batch
            .into_iter()
            .zip(documents)
            .map(|(analysis, document)| analysis.stored_as(document.id.to_hex()))
            .collect())
    }

    async fn history(&self, page: HistoryPage<'_>) -> Result<Vec<Analysis>, StoreError> {
        let filter = match page.before {
            Some(before) => self.older_than(before).await?,
            None => doc! {},
        };
        let documents: Vec<AnalysisDocument> = self
            .collection
            .find(filter)
            .sort(doc! { "created_at": -1, "_id": -1 })
            .limit(i64::try_from(page.limit).unwrap_or(i64::MAX))
            .await?
            .try_collect()
            .await?;
        Ok(documents
            .into_iter()
            .map(AnalysisDocument::into_analysis)
            .collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .database("admin")
            .run_command(doc! { "ping": 1 })
            .await?;
        Ok(())
    }

    fn describe(&self) -> String {
        format!(
            "MongoDB collection {}.{}",
            self.collection.namespace().db,
            self.collection.name()
        )
    }
}
