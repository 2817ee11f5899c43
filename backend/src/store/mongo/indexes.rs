//! The collection's indexes: newest-first history, and the unique index on idempotency keys
//! that settles which of several requests with one key was first.
//!
//! The driver connects lazily and MongoDB may be down at start-up, so the indexes are created
//! in the background until the server answers. A batch carrying idempotency keys first makes
//! sure they exist (once per process; later batches only check a flag), so keys are never
//! written without the index that guards them.

use std::time::Duration;

use mongodb::bson::doc;
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use tokio::sync::OnceCell;

use super::document::AnalysisDocument;
use super::operations::Operations;
use crate::store::{StoreError, report_unavailable};

const HISTORY_INDEX: &str = "history_newest_first";
const IDEMPOTENCY_KEY_INDEX: &str = "idempotency_key_unique";
const RETRY_INTERVAL: Duration = Duration::from_secs(5);

pub struct Indexes {
    collection: Collection<AnalysisDocument>,
    operations: Operations,
    in_place: OnceCell<()>,
}

impl Indexes {
    pub fn new(collection: Collection<AnalysisDocument>, operations: Operations) -> Self {
        Self {
            collection,
            operations,
            in_place: OnceCell::new(),
        }
    }

    /// Creates the indexes unless this process already did.
    pub async fn ensure(&self) -> Result<(), StoreError> {
        self.in_place
            .get_or_try_init(|| async {
                let collection = self.collection.clone();
                self.operations
                    .run(async move { collection.create_indexes(wanted()).await })
                    .await?;
                log::info!(
                    "MongoDB indexes {HISTORY_INDEX} and {IDEMPOTENCY_KEY_INDEX} are in place"
                );
                Ok(())
            })
            .await
            .copied()
    }

    /// Keeps trying until the indexes exist (run in the background from start-up).
    pub async fn ensure_until_done(&self) {
        while let Err(error) = self.ensure().await {
            report_unavailable(&error);
            tokio::time::sleep(RETRY_INTERVAL).await;
        }
    }
}

fn wanted() -> [IndexModel; 2] {
    let history = IndexModel::builder()
        .keys(doc! { "created_at": -1, "_id": -1 })
        .options(
            IndexOptions::builder()
                .name(HISTORY_INDEX.to_owned())
                .build(),
        )
        .build();
    // Sparse: analyses without a key (the field is left out, never null) are not indexed, and
    // equality look-ups on a key can use it.
    let idempotency_keys = IndexModel::builder()
        .keys(doc! { "idempotency_key": 1 })
        .options(
            IndexOptions::builder()
                .name(IDEMPOTENCY_KEY_INDEX.to_owned())
                .unique(true)
                .sparse(true)
                .build(),
        )
        .build();
    [history, idempotency_keys]
}
