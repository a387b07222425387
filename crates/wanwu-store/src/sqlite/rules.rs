//! Rule and scene rows on SQLite: one table per [`DefinitionKind`], the same columns; and
//! the kept outcomes of rules' firings.

use super::{SqliteStore, affected_one, on_unique};
use crate::error::StoreError;
use crate::page::{Page, PageRequest};
use crate::store::{DefinitionKind, DefinitionRecord, RuleOutcomeRecord};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

fn table(kind: DefinitionKind) -> &'static str {
    match kind {
        DefinitionKind::Rule => "rules",
        DefinitionKind::Scene => "scenes",
    }
}

fn entity(kind: DefinitionKind) -> &'static str {
    match kind {
        DefinitionKind::Rule => "rule",
        DefinitionKind::Scene => "scene",
    }
}

fn definition(row: &SqliteRow) -> Result<DefinitionRecord, StoreError> {
    Ok(DefinitionRecord {
        tenant: row.try_get("tenant")?,
        id: row.try_get("id")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        definition: row.try_get("definition")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const COLUMNS: &str = "tenant, id, enabled, definition, created_at, updated_at";

impl SqliteStore {
    pub(super) async fn insert_definition_row(
        &self,
        kind: DefinitionKind,
        record: &DefinitionRecord,
    ) -> Result<(), StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {} ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            table(kind)
        )))
        .bind(&record.tenant)
        .bind(&record.id)
        .bind(i64::from(record.enabled))
        .bind(&record.definition)
        .bind(record.created_at)
        .bind(record.updated_at)
        .execute(&self.writer)
        .await
        .map_err(on_unique(entity(kind), &record.id))?;
        Ok(())
    }

    pub(super) async fn update_definition_row(
        &self,
        kind: DefinitionKind,
        record: &DefinitionRecord,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {} SET enabled = ?3, definition = ?4, updated_at = ?5 \
             WHERE tenant = ?1 AND id = ?2",
            table(kind)
        )))
        .bind(&record.tenant)
        .bind(&record.id)
        .bind(i64::from(record.enabled))
        .bind(&record.definition)
        .bind(record.updated_at)
        .execute(&self.writer)
        .await?;
        affected_one(done.rows_affected(), entity(kind), &record.id)
    }

    pub(super) async fn get_definition_row(
        &self,
        kind: DefinitionKind,
        tenant: &str,
        id: &str,
    ) -> Result<DefinitionRecord, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {} WHERE tenant = ?1 AND id = ?2",
            table(kind)
        )))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.reader)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            entity: entity(kind),
            id: id.to_owned(),
        })?;
        definition(&row)
    }

    pub(super) async fn list_definition_rows(
        &self,
        kind: DefinitionKind,
        tenant: &str,
        page: &PageRequest,
    ) -> Result<Page<DefinitionRecord>, StoreError> {
        let limit = page.effective_limit();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {} WHERE tenant = ?1 AND (?2 IS NULL OR id > ?2) \
             ORDER BY id LIMIT ?3",
            table(kind)
        )))
        .bind(tenant)
        .bind(&page.cursor)
        .bind(limit + 1)
        .fetch_all(&self.reader)
        .await?;
        let items = rows.iter().map(definition).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(items, limit, |d| &d.id))
    }

    pub(super) async fn all_definition_rows(
        &self,
        kind: DefinitionKind,
    ) -> Result<Vec<DefinitionRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {} ORDER BY tenant, id",
            table(kind)
        )))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(definition).collect()
    }

    pub(super) async fn delete_definition_row(
        &self,
        kind: DefinitionKind,
        tenant: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {} WHERE tenant = ?1 AND id = ?2",
            table(kind)
        )))
        .bind(tenant)
        .bind(id)
        .execute(&self.writer)
        .await?;
        affected_one(done.rows_affected(), entity(kind), id)
    }
}

fn rule_outcome(row: &SqliteRow) -> Result<RuleOutcomeRecord, StoreError> {
    Ok(RuleOutcomeRecord {
        tenant: row.try_get("tenant")?,
        rule: row.try_get("rule")?,
        ts: row.try_get("ts")?,
        outcome: row.try_get("outcome")?,
    })
}

impl SqliteStore {
    pub(super) async fn append_rule_outcome_rows(
        &self,
        outcomes: &[RuleOutcomeRecord],
        trim: &[(String, String)],
        keep: u32,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        for record in outcomes {
            sqlx::query(
                "INSERT INTO rule_outcomes (tenant, rule, ts, outcome) VALUES (?1, ?2, ?3, ?4)",
            )
            .bind(&record.tenant)
            .bind(&record.rule)
            .bind(record.ts)
            .bind(&record.outcome)
            .execute(&mut *tx)
            .await?;
        }
        for (tenant, rule) in trim {
            sqlx::query(
                "DELETE FROM rule_outcomes WHERE tenant = ?1 AND rule = ?2 AND seq <= \
                 (SELECT seq FROM rule_outcomes WHERE tenant = ?1 AND rule = ?2 \
                  ORDER BY seq DESC LIMIT 1 OFFSET ?3)",
            )
            .bind(tenant)
            .bind(rule)
            .bind(i64::from(keep))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn all_rule_outcome_rows(&self) -> Result<Vec<RuleOutcomeRecord>, StoreError> {
        let rows = sqlx::query("SELECT tenant, rule, ts, outcome FROM rule_outcomes ORDER BY seq")
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(rule_outcome).collect()
    }

    pub(super) async fn delete_rule_outcome_rows(
        &self,
        tenant: &str,
        rule: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM rule_outcomes WHERE tenant = ?1 AND rule = ?2")
            .bind(tenant)
            .bind(rule)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    fn record(id: &str, enabled: bool) -> DefinitionRecord {
        DefinitionRecord {
            tenant: "t".into(),
            id: id.into(),
            enabled,
            definition: format!(r#"{{"id":"{id}"}}"#),
            created_at: 1,
            updated_at: 1,
        }
    }

    #[tokio::test]
    async fn definitions_round_trip_per_kind_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let kind = DefinitionKind::Rule;
        store
            .insert_definition(kind, &record("a", true))
            .await
            .unwrap();
        let again = store.insert_definition(kind, &record("a", true)).await;
        assert!(matches!(again, Err(StoreError::AlreadyExists { .. })));
        let mut changed = record("a", false);
        changed.updated_at = 5;
        store.update_definition(kind, &changed).await.unwrap();
        let missing = store.update_definition(kind, &record("b", true)).await;
        assert!(matches!(
            missing,
            Err(StoreError::NotFound { entity: "rule", .. })
        ));
        let scenes = store.all_definitions(DefinitionKind::Scene).await.unwrap();
        assert!(scenes.is_empty(), "rules and scenes are apart");
        store.close().await;

        let store = SqliteStore::open(&path).await.unwrap();
        let got = store.get_definition(kind, "t", "a").await.unwrap();
        assert_eq!((got.enabled, got.created_at, got.updated_at), (false, 1, 5));
        let page = store
            .list_definitions(kind, "t", &PageRequest::default())
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert!(store.get_definition(kind, "other", "a").await.is_err());
        store.delete_definition(kind, "t", "a").await.unwrap();
        assert!(store.all_definitions(kind).await.unwrap().is_empty());
    }

    fn outcome(rule: &str, ts: i64) -> RuleOutcomeRecord {
        RuleOutcomeRecord {
            tenant: "t".into(),
            rule: rule.into(),
            ts,
            outcome: format!("{{\"ts\":{ts}}}"),
        }
    }

    #[tokio::test]
    async fn rule_outcomes_keep_the_newest_per_rule_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let first: Vec<_> = (1..=4).map(|ts| outcome("a", ts)).collect();
        let a = [("t".to_owned(), "a".to_owned())];
        store.append_rule_outcomes(&first, &[], 3).await.unwrap();
        store
            .append_rule_outcomes(&[outcome("a", 5), outcome("b", 6)], &a, 3)
            .await
            .unwrap();
        store.close().await;

        let store = SqliteStore::open(&path).await.unwrap();
        let kept: Vec<_> = store
            .all_rule_outcomes()
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.rule, r.ts))
            .collect();
        let expected = [("a", 3), ("a", 4), ("a", 5), ("b", 6)].map(|(r, ts)| (r.to_owned(), ts));
        assert_eq!(kept, expected);

        store.delete_rule_outcomes("t", "a").await.unwrap();
        let left = store.all_rule_outcomes().await.unwrap();
        assert_eq!(left, vec![outcome("b", 6)]);
    }
}
