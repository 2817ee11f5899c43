//! The embedded store's schema, and its migration from files made by earlier versions.
//!
//! Files made before idempotency keys lack the `idempotency_key` column and its unique index:
//! opening one adds both. The check and the change run in one IMMEDIATE transaction, so two
//! processes opening the same old file at once migrate it once.

use rusqlite::{Connection, TransactionBehavior};

use crate::store::StoreError;

const ANALYSES: &str = "
CREATE TABLE IF NOT EXISTS analyses (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    neg REAL NOT NULL,
    neu REAL NOT NULL,
    pos REAL NOT NULL,
    compound REAL NOT NULL,
    created_at_ms INTEGER NOT NULL,
    idempotency_key TEXT
);";

const ADD_IDEMPOTENCY_KEY: &str = "ALTER TABLE analyses ADD COLUMN idempotency_key TEXT;";

/// Partial, so the analyses sent without a key cost the index nothing. Inserts name the same
/// `WHERE` in their `ON CONFLICT` target, which is how SQLite lets an upsert use this index.
const IDEMPOTENCY_KEY_INDEX: &str = "
CREATE UNIQUE INDEX IF NOT EXISTS analyses_idempotency_key
    ON analyses (idempotency_key) WHERE idempotency_key IS NOT NULL;";

/// Creates the schema, or brings an older one up to date.
pub fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    transaction.execute_batch(ANALYSES)?;
    let has_key_column: bool = transaction.query_row(
        "SELECT count(*) > 0 FROM pragma_table_info('analyses') WHERE name = 'idempotency_key'",
        [],
        |row| row.get(0),
    )?;
    if !has_key_column {
        log::info!("adding idempotency keys to the embedded store");
        transaction.execute_batch(ADD_IDEMPOTENCY_KEY)?;
    }
    transaction.execute_batch(IDEMPOTENCY_KEY_INDEX)?;
    transaction.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table as the first release created it.
    const FIRST_RELEASE: &str = "
    CREATE TABLE analyses (
        id INTEGER PRIMARY KEY, text TEXT NOT NULL, neg REAL NOT NULL, neu REAL NOT NULL,
        pos REAL NOT NULL, compound REAL NOT NULL, created_at_ms INTEGER NOT NULL
    );
    INSERT INTO analyses (text, neg, neu, pos, compound, created_at_ms)
        VALUES ('kept', 0, 1, 0, 0, 1700000000000);";

    fn index_names(connection: &Connection) -> Vec<String> {
        let mut select = connection
            .prepare("SELECT name FROM pragma_index_list('analyses') ORDER BY name")
            .unwrap();
        select
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn an_old_table_gains_the_key_column_and_its_unique_index() {
        let mut connection = Connection::open_in_memory().unwrap();
        connection.execute_batch(FIRST_RELEASE).unwrap();
        migrate(&mut connection).unwrap();
        migrate(&mut connection).expect("migrating twice changes nothing");
        assert_eq!(index_names(&connection), ["analyses_idempotency_key"]);
        let kept: (String, Option<String>) = connection
            .query_row("SELECT text, idempotency_key FROM analyses", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .unwrap();
        assert_eq!(kept, ("kept".to_owned(), None));
        let insert = "INSERT INTO analyses (text, neg, neu, pos, compound, created_at_ms, \
                      idempotency_key) VALUES ('a', 0, 1, 0, 0, 1, 'k')";
        connection.execute(insert, []).unwrap();
        assert!(
            connection.execute(insert, []).is_err(),
            "the index refuses a second row with the same key"
        );
    }

    #[test]
    fn a_fresh_store_gets_the_current_schema() {
        let mut connection = Connection::open_in_memory().unwrap();
        migrate(&mut connection).unwrap();
        assert_eq!(index_names(&connection), ["analyses_idempotency_key"]);
    }
}
