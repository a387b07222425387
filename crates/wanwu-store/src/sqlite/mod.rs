//! The embedded default store: one SQLite file in WAL mode.
//!
//! Writes go through a pool of one connection, so write transactions never contend for
//! the write lock; reads use a separate pool of read-only connections that see committed
//! data. `synchronous = NORMAL` in WAL mode keeps every committed transaction across a
//! process crash (`kill -9`).

mod alarms;
mod commands;
mod migrations;
mod rows;
mod rules;
mod store_impl;

use crate::error::StoreError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::time::Duration;

/// Readers opened next to the single writer.
const READERS: u32 = 4;

/// The SQLite implementation of [`crate::Store`].
#[derive(Clone, Debug)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options.clone().create_if_missing(true))
            .await
            .map_err(|e| StoreError::Backend(format!("opening {}: {e}", path.display())))?;
        migrations::apply(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore { writer, reader })
    }
}

/// Maps a unique-constraint violation to [`StoreError::AlreadyExists`].
fn on_unique(entity: &'static str, id: &str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match e.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::AlreadyExists {
            entity,
            id: id.to_owned(),
        },
        _ => StoreError::from(e),
    }
}

/// [`StoreError::NotFound`] unless exactly one row was affected.
fn affected_one(rows: u64, entity: &'static str, id: &str) -> Result<(), StoreError> {
    if rows == 0 {
        Err(StoreError::NotFound {
            entity,
            id: id.to_owned(),
        })
    } else {
        Ok(())
    }
}
