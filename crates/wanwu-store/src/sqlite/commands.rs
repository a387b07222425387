//! Command rows on SQLite.

use super::{SqliteStore, affected_one, on_unique};
use crate::error::StoreError;
use crate::page::{Page, PageRequest};
use crate::store::{CommandFilter, CommandRecord};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

fn command(row: &SqliteRow) -> Result<CommandRecord, StoreError> {
    Ok(CommandRecord {
        tenant: row.try_get("tenant")?,
        id: row.try_get("id")?,
        device: row.try_get("device")?,
        status: row.try_get("status")?,
        expires_at: row.try_get("expires_at")?,
        document: row.try_get("document")?,
    })
}

const COLUMNS: &str = "tenant, id, device, status, expires_at, document";

/// Statuses from which a command can still change.
const UNFINISHED: &str = "status IN ('queued', 'sent')";

impl SqliteStore {
    pub(super) async fn insert_command_row(
        &self,
        record: &CommandRecord,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO commands (tenant, id, device, status, expires_at, document) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6 \
             WHERE EXISTS (SELECT 1 FROM devices WHERE tenant = ?1 AND id = ?3)",
        )
        .bind(&record.tenant)
        .bind(&record.id)
        .bind(&record.device)
        .bind(&record.status)
        .bind(record.expires_at)
        .bind(&record.document)
        .execute(&self.writer)
        .await
        .map_err(on_unique("command", &record.id))
        .and_then(|done| affected_one(done.rows_affected(), "device", &record.device))
    }

    pub(super) async fn update_command_row(
        &self,
        record: &CommandRecord,
        from_status: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE commands SET status = ?4, expires_at = ?5, document = ?6 \
             WHERE tenant = ?1 AND id = ?2 AND device = ?3 AND status = ?7",
        )
        .bind(&record.tenant)
        .bind(&record.id)
        .bind(&record.device)
        .bind(&record.status)
        .bind(record.expires_at)
        .bind(&record.document)
        .bind(from_status)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn get_command_row(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<CommandRecord, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM commands WHERE tenant = ?1 AND id = ?2"
        )))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.reader)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            entity: "command",
            id: id.to_owned(),
        })?;
        command(&row)
    }

    pub(super) async fn list_command_rows(
        &self,
        tenant: &str,
        filter: &CommandFilter,
        page: &PageRequest,
    ) -> Result<Page<CommandRecord>, StoreError> {
        let limit = page.effective_limit();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM commands WHERE tenant = ?1 AND (?2 IS NULL OR id > ?2) \
             AND (?3 IS NULL OR device = ?3) AND (?4 IS NULL OR status = ?4) \
             ORDER BY id LIMIT ?5"
        )))
        .bind(tenant)
        .bind(&page.cursor)
        .bind(&filter.device)
        .bind(&filter.status)
        .bind(limit + 1)
        .fetch_all(&self.reader)
        .await?;
        let items = rows.iter().map(command).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(items, limit, |c| &c.id))
    }

    pub(super) async fn queued_command_rows(
        &self,
        tenant: &str,
        device: &str,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM commands WHERE tenant = ?1 AND device = ?2 \
             AND status = 'queued' ORDER BY id"
        )))
        .bind(tenant)
        .bind(device)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(command).collect()
    }

    pub(super) async fn overdue_command_rows(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM commands WHERE {UNFINISHED} AND expires_at <= ?1 \
             ORDER BY expires_at LIMIT ?2"
        )))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(command).collect()
    }
}
