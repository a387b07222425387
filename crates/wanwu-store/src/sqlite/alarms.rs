//! Alarm rows on SQLite.

use super::SqliteStore;
use crate::error::StoreError;
use crate::page::{Page, PageRequest};
use crate::store::{AlarmFilter, AlarmRecord};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

fn alarm(row: &SqliteRow) -> Result<AlarmRecord, StoreError> {
    Ok(AlarmRecord {
        tenant: row.try_get("tenant")?,
        id: row.try_get("id")?,
        device: row.try_get("device")?,
        alarm_type: row.try_get("type")?,
        severity: row.try_get("severity")?,
        status: row.try_get("status")?,
        last_ts: row.try_get("last_ts")?,
        document: row.try_get("document")?,
    })
}

const COLUMNS: &str = "tenant, id, device, type, severity, status, last_ts, document";

impl SqliteStore {
    pub(super) async fn put_alarm_row(&self, record: &AlarmRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO alarms (tenant, id, device, type, severity, status, last_ts, document) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (tenant, id) DO UPDATE SET \
             severity = excluded.severity, status = excluded.status, last_ts = excluded.last_ts, \
             document = excluded.document",
        )
        .bind(&record.tenant)
        .bind(&record.id)
        .bind(&record.device)
        .bind(&record.alarm_type)
        .bind(&record.severity)
        .bind(&record.status)
        .bind(record.last_ts)
        .bind(&record.document)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub(super) async fn get_alarm_row(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<AlarmRecord, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM alarms WHERE tenant = ?1 AND id = ?2"
        )))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.reader)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            entity: "alarm",
            id: id.to_owned(),
        })?;
        alarm(&row)
    }

    pub(super) async fn list_alarm_rows(
        &self,
        tenant: &str,
        filter: &AlarmFilter,
        page: &PageRequest,
    ) -> Result<Page<AlarmRecord>, StoreError> {
        let limit = page.effective_limit();
        let devices = filter
            .devices
            .as_ref()
            .map(|d| serde_json::Value::from(d.clone()).to_string());
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM alarms WHERE tenant = ?1 AND (?2 IS NULL OR id > ?2) \
             AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR severity = ?4) \
             AND (?5 IS NULL OR device IN (SELECT value FROM json_each(?5))) \
             ORDER BY id LIMIT ?6"
        )))
        .bind(tenant)
        .bind(&page.cursor)
        .bind(&filter.status)
        .bind(&filter.severity)
        .bind(devices)
        .bind(limit + 1)
        .fetch_all(&self.reader)
        .await?;
        let items = rows.iter().map(alarm).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(items, limit, |a| &a.id))
    }

    pub(super) async fn open_alarm_rows(&self) -> Result<Vec<AlarmRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM alarms WHERE status <> 'cleared'"
        )))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(alarm).collect()
    }
}
