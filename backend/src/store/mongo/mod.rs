//! The production store: MongoDB through the official driver.
//!
//! Writes use the configured write concern (majority by default) with a `wtimeout`, so an
//! acknowledged analysis survives the loss of a replica-set member and a replica set in trouble
//! answers with an error instead of holding the writer forever. Every operation is bounded by
//! the operation timeout (see `operations`), and connecting and choosing a server have their
//! own short timeouts. How a batch is written, and what a partly failed `insert_many` means for
//! each analysis, is in `insert`. History is ordered by `created_at` then `_id`, backed by an
//! index; the `_id` (an ObjectId) is the public id and cursor.

mod document;
mod indexes;
mod insert;
mod operations;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{Document, doc, oid::ObjectId};
use mongodb::options::{Acknowledgment, ClientOptions, ReadConcern, WriteConcern};
use mongodb::{Client, Collection};

use super::{HistoryPage, Outcome, Store, StoreError};
use crate::analysis::{Analysis, NewAnalysis};
use crate::configuration::{StoreSettings, WriteConcernSetting};
use document::AnalysisDocument;
use indexes::Indexes;
use operations::Operations;

/// How long an operation waits for a usable server when the URI does not say; the driver's own
/// default (30 s) would hold requests far longer than any client waits.
const DEFAULT_SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// How long opening a connection may take when the URI does not say (the driver's default: 10 s).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct MongoStore {
    client: Client,
    collection: Collection<AnalysisDocument>,
    write_concern: WriteConcern,
    /// What a look-up of the analysis holding an idempotency key reads: only what the write
    /// concern would have acknowledged, so a replay never vouches for a write that could still
    /// be rolled back.
    replay_read_concern: Option<ReadConcern>,
    idempotency_window: Duration,
    operations: Operations,
    indexes: Arc<Indexes>,
}

impl MongoStore {
    /// Parses the URI and prepares the client. The driver connects lazily, so a server that is
    /// down does not stop start-up: readiness reports it, and the indexes are created once the
    /// server answers.
    pub async fn connect(uri: &str, settings: &StoreSettings) -> Result<Self, StoreError> {
        let operation_timeout = settings.mongodb_operation_timeout_ms;
        let wtimeout = settings.mongodb_wtimeout_ms;
        if operation_timeout <= wtimeout {
            return Err(StoreError::TimeoutsOutOfOrder {
                operation: operation_timeout,
                wtimeout,
            });
        }
        // A `mongodb+srv://` URI is resolved through DNS here.
        let mut options = tokio::time::timeout(operation_timeout, ClientOptions::parse(uri))
            .await
            .map_err(|_| StoreError::TimedOut(operation_timeout))??;
        options
            .app_name
            .get_or_insert_with(|| "sentiment-backend".to_owned());
        options
            .server_selection_timeout
            .get_or_insert(DEFAULT_SERVER_SELECTION_TIMEOUT);
        options
            .connect_timeout
            .get_or_insert(DEFAULT_CONNECT_TIMEOUT);
        let client = Client::with_options(options)?;
        let collection: Collection<AnalysisDocument> = client
            .database(&settings.mongodb_database)
            .collection(&settings.mongodb_collection);
        let acknowledgment = match settings.mongodb_write_concern {
            WriteConcernSetting::Majority => Acknowledgment::Majority,
            WriteConcernSetting::Nodes(nodes) => Acknowledgment::Nodes(nodes),
        };
        let replay_read_concern =
            (acknowledgment == Acknowledgment::Majority).then(ReadConcern::majority);
        let write_concern = WriteConcern::builder()
            .w(acknowledgment)
            .w_timeout(wtimeout)
            .build();
        let operations = Operations::new(operation_timeout);
        let indexes = Arc::new(Indexes::new(collection.clone(), operations.clone()));
        tokio::spawn({
            let indexes = Arc::clone(&indexes);
            async move { indexes.ensure_until_done().await }
        });
        Ok(Self {
            client,
            collection,
            write_concern,
            replay_read_concern,
            idempotency_window: settings.idempotency_window,
            operations,
            indexes,
        })
    }

    /// The filter for analyses older than the cursor, in (created_at, _id) order.
    async fn older_than(&self, before: &str) -> Result<Document, StoreError> {
        let id = ObjectId::parse_str(before)
            .map_err(|_| StoreError::InvalidCursor(before.to_owned()))?;
        let collection = self.collection.clone();
        let anchor = self
            .operations
            .run(async move { collection.find_one(doc! { "_id": id }).await })
            .await?
            .ok_or_else(|| StoreError::InvalidCursor(before.to_owned()))?;
        Ok(doc! { "$or": [
            { "created_at": { "$lt": anchor.created_at } },
            { "created_at": anchor.created_at, "_id": { "$lt": id } },
        ] })
    }
}

#[async_trait]
impl Store for MongoStore {
    async fn insert_batch(&self, batch: Vec<NewAnalysis>) -> Result<Vec<Outcome>, StoreError> {
        Ok(insert::Batch::new(self, batch).write().await)
    }

    async fn history(&self, page: HistoryPage<'_>) -> Result<Vec<Analysis>, StoreError> {
        let filter = match page.before {
            Some(before) => self.older_than(before).await?,
            None => doc! {},
        };
        let collection = self.collection.clone();
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        let max_time = self.operations.timeout();
        let documents: Vec<AnalysisDocument> = self
            .operations
            .run(async move {
                collection
                    .find(filter)
                    .sort(doc! { "created_at": -1, "_id": -1 })
                    .limit(limit)
                    .max_time(max_time)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        Ok(documents
            .iter()
            .map(AnalysisDocument::to_analysis)
            .collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let admin = self.client.database("admin");
        self.operations
            .run(async move { admin.run_command(doc! { "ping": 1 }).await })
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
