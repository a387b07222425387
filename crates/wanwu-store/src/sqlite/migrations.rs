//! Schema migrations, embedded in the binary and applied in order on open. The schema
//! version is SQLite's `user_version`.

use crate::error::StoreError;
use sqlx::SqlitePool;

/// Every migration, in order; index + 1 is the schema version it produces.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_registry.sql"),
    include_str!("../../migrations/0002_twins.sql"),
    include_str!("../../migrations/0003_alarms.sql"),
    include_str!("../../migrations/0004_commands.sql"),
    include_str!("../../migrations/0005_rules.sql"),
    include_str!("../../migrations/0006_rule_outcomes.sql"),
    include_str!("../../migrations/0007_product_retention.sql"),
];

/// Applies every migration newer than the database's schema version, each in its own
/// transaction.
pub(super) async fn apply(pool: &SqlitePool) -> Result<(), StoreError> {
    let version: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(pool)
        .await?;
    if version as usize > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "database schema version {version} is newer than this program ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let mut tx = pool.begin().await?;
        sqlx::raw_sql(*sql).execute(&mut *tx).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA user_version = {}",
            i + 1
        )))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(version = i + 1, "applied metadata migration");
    }
    Ok(())
}
