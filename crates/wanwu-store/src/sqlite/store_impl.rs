//! [`Store`] on SQLite: every method is one transaction on the writer, or one read.

use super::rows::{
    self, api_token_columns, asset_columns, device_columns, product_columns, tenant_columns,
};
use super::{SqliteStore, affected_one, on_unique};
use crate::error::StoreError;
use crate::page::{Page, PageRequest};
use crate::store::{
    AlarmFilter, AlarmRecord, ApiTokenRecord, AssetFilter, CommandFilter, CommandRecord,
    DefinitionKind, DefinitionRecord, DeviceAuth, DeviceFilter, EntityCounts, NewDeviceRecord,
    RuleOutcomeRecord, Store, TokenHash, TwinRecord,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, SqliteConnection, Transaction};
use std::collections::BTreeSet;
use wanwu_model::entity::{ApiToken, Asset, Device, ProductRecord, Tenant};
use wanwu_model::thing::Product;

/// True when a row of `table` with the tenant and id exists.
async fn exists(
    conn: &mut SqliteConnection,
    sql: &'static str,
    tenant: &str,
    id: &str,
) -> Result<bool, StoreError> {
    Ok(sqlx::query(sql)
        .bind(tenant)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .is_some())
}

const PRODUCT_EXISTS: &str = "SELECT 1 FROM products WHERE tenant = ?1 AND id = ?2";
const ASSET_EXISTS: &str = "SELECT 1 FROM assets WHERE tenant = ?1 AND id = ?2";

/// Fails with [`StoreError::MissingReference`] unless the asset exists.
async fn require_asset(
    conn: &mut SqliteConnection,
    tenant: &str,
    id: &str,
    path: String,
) -> Result<(), StoreError> {
    if exists(conn, ASSET_EXISTS, tenant, id).await? {
        Ok(())
    } else {
        Err(StoreError::MissingReference {
            path,
            entity: "asset",
            id: id.to_owned(),
        })
    }
}

fn page_of<T>(
    rows: Vec<SqliteRow>,
    limit: u32,
    map: impl Fn(&SqliteRow) -> Result<T, StoreError>,
    id: impl Fn(&T) -> &str,
) -> Result<Page<T>, StoreError> {
    let items = rows.iter().map(map).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(items, limit, id))
}

/// Runs the device insert of one record inside `tx`.
async fn insert_device(
    tx: &mut Transaction<'static, Sqlite>,
    record: &NewDeviceRecord,
) -> Result<(), StoreError> {
    let d = &record.device;
    sqlx::query(
        "INSERT INTO devices (tenant, id, product, name, tags, asset, lat, lon, token_hash, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .bind(&d.tenant)
    .bind(&d.id)
    .bind(&d.product)
    .bind(&d.name)
    .bind(rows::tags_json(d))
    .bind(&d.asset)
    .bind(d.location.map(|l| l.lat))
    .bind(d.location.map(|l| l.lon))
    .bind(&record.token_hash[..])
    .bind(d.created_at)
    .bind(d.updated_at)
    .execute(&mut **tx)
    .await
    .map_err(on_unique("device", &d.id))?;
    Ok(())
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tenants (id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(&tenant.id)
        .bind(&tenant.name)
        .bind(tenant.created_at)
        .bind(tenant.updated_at)
        .execute(&self.writer)
        .await
        .map_err(on_unique("tenant", &tenant.id))?;
        Ok(())
    }

    async fn get_tenant(&self, id: &str) -> Result<Tenant, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            tenant_columns!(),
            " FROM tenants WHERE id = ?1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        match row {
            Some(row) => rows::tenant(&row),
            None => Err(StoreError::NotFound {
                entity: "tenant",
                id: id.to_owned(),
            }),
        }
    }

    async fn list_tenants(&self, page: &PageRequest) -> Result<Page<Tenant>, StoreError> {
        let limit = page.effective_limit();
        let rows = sqlx::query(concat!(
            "SELECT ",
            tenant_columns!(),
            " FROM tenants WHERE (?1 IS NULL OR id > ?1) ORDER BY id LIMIT ?2"
        ))
        .bind(&page.cursor)
        .bind(limit + 1)
        .fetch_all(&self.reader)
        .await?;
        page_of(rows, limit, rows::tenant, |t| &t.id)
    }

    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE tenants SET name = ?2, updated_at = ?3 WHERE id = ?1")
            .bind(&tenant.id)
            .bind(&tenant.name)
            .bind(tenant.updated_at)
            .execute(&self.writer)
            .await?;
        affected_one(done.rows_affected(), "tenant", &tenant.id)
    }

    async fn delete_tenant(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let holds_admin =
            sqlx::query("SELECT 1 FROM api_tokens WHERE tenant = ?1 AND platform_admin = 1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
        if holds_admin {
            return Err(StoreError::Conflict(format!(
                "tenant {id:?} holds the platform admin token and cannot be deleted"
            )));
        }
        let in_use = sqlx::query(
            "SELECT 1 FROM products WHERE tenant = ?1 UNION ALL SELECT 1 FROM assets WHERE tenant = ?1 LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        if in_use {
            return Err(StoreError::Conflict(format!(
                "tenant {id:?} still has products or assets; delete them first"
            )));
        }
        sqlx::query("DELETE FROM api_tokens WHERE tenant = ?1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM tenants WHERE id = ?1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        affected_one(done.rows_affected(), "tenant", id)?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_api_token(&self, record: &ApiTokenRecord) -> Result<(), StoreError> {
        let t = &record.token;
        sqlx::query(
            "INSERT INTO api_tokens (id, tenant, name, role, platform_admin, hash, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(&t.id)
        .bind(&t.tenant)
        .bind(&t.name)
        .bind(t.role.as_str())
        .bind(t.platform_admin)
        .bind(&record.hash[..])
        .bind(t.created_at)
        .execute(&self.writer)
        .await
        .map_err(on_unique("api token", &t.id))?;
        Ok(())
    }

    async fn get_api_token(&self, tenant: &str, id: &str) -> Result<ApiToken, StoreError> {
        self.get_in_tenant(
            concat!(
                "SELECT ",
                api_token_columns!(),
                " FROM api_tokens WHERE tenant = ?1 AND id = ?2"
            ),
            tenant,
            id,
            "api token",
            rows::api_token,
        )
        .await
    }

    async fn list_api_tokens(
        &self,
        tenant: &str,
        page: &PageRequest,
    ) -> Result<Page<ApiToken>, StoreError> {
        self.list_in_tenant(
            concat!(
            "SELECT ",
            api_token_columns!(),
            " FROM api_tokens WHERE tenant = ?1 AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3"
        ),
            tenant,
            page,
            rows::api_token,
            |t| &t.id,
        )
        .await
    }

    async fn update_api_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        let done =
            sqlx::query("UPDATE api_tokens SET name = ?3, role = ?4 WHERE tenant = ?1 AND id = ?2")
                .bind(&token.tenant)
                .bind(&token.id)
                .bind(&token.name)
                .bind(token.role.as_str())
                .execute(&self.writer)
                .await?;
        affected_one(done.rows_affected(), "api token", &token.id)
    }

    async fn set_api_token_hash(&self, id: &str, hash: &TokenHash) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE api_tokens SET hash = ?2 WHERE id = ?1")
            .bind(id)
            .bind(&hash[..])
            .execute(&self.writer)
            .await
            .map_err(on_unique("api token", id))?;
        affected_one(done.rows_affected(), "api token", id)
    }

    async fn delete_api_token(&self, tenant: &str, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE tenant = ?1 AND id = ?2")
            .bind(tenant)
            .bind(id)
            .execute(&self.writer)
            .await?;
        affected_one(done.rows_affected(), "api token", id)
    }

    async fn find_api_token(&self, hash: &TokenHash) -> Result<Option<ApiTokenRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            api_token_columns!(),
            " FROM api_tokens WHERE hash = ?1"
        ))
        .bind(&hash[..])
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| {
            Ok(ApiTokenRecord {
                token: rows::api_token(&row)?,
                hash: rows::token_hash(&row, "hash")?,
            })
        })
        .transpose()
    }

    async fn platform_admin_token(&self) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            api_token_columns!(),
            " FROM api_tokens WHERE platform_admin = 1 ORDER BY created_at LIMIT 1"
        ))
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| rows::api_token(&row)).transpose()
    }

    async fn create_product(
        &self,
        tenant: &str,
        product: &ProductRecord,
    ) -> Result<(), StoreError> {
        let definition = serde_json::to_string(&product.definition)
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        sqlx::query(
            "INSERT INTO products (tenant, id, definition, created_at, updated_at, retention_days) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(tenant)
        .bind(&product.definition.id)
        .bind(definition)
        .bind(product.created_at)
        .bind(product.updated_at)
        .bind(product.retention_days)
        .execute(&self.writer)
        .await
        .map_err(on_unique("product", &product.definition.id))?;
        Ok(())
    }

    async fn get_product(&self, tenant: &str, id: &str) -> Result<ProductRecord, StoreError> {
        self.get_in_tenant(
            concat!(
                "SELECT ",
                product_columns!(),
                " FROM products WHERE tenant = ?1 AND id = ?2"
            ),
            tenant,
            id,
            "product",
            rows::product,
        )
        .await
    }

    async fn list_products(
        &self,
        tenant: &str,
        page: &PageRequest,
    ) -> Result<Page<ProductRecord>, StoreError> {
        self.list_in_tenant(
            concat!(
                "SELECT ",
                product_columns!(),
                " FROM products WHERE tenant = ?1 AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3"
            ),
            tenant,
            page,
            rows::product,
            |p| &p.definition.id,
        )
        .await
    }

    async fn update_product(
        &self,
        tenant: &str,
        product: &Product,
        updated_at: i64,
    ) -> Result<(), StoreError> {
        let definition =
            serde_json::to_string(product).map_err(|e| StoreError::Backend(e.to_string()))?;
        let done = sqlx::query(
            "UPDATE products SET definition = ?3, updated_at = ?4 WHERE tenant = ?1 AND id = ?2",
        )
        .bind(tenant)
        .bind(&product.id)
        .bind(definition)
        .bind(updated_at)
        .execute(&self.writer)
        .await?;
        affected_one(done.rows_affected(), "product", &product.id)
    }

    async fn set_product_retention(
        &self,
        tenant: &str,
        id: &str,
        days: Option<u32>,
    ) -> Result<(), StoreError> {
        let done =
            sqlx::query("UPDATE products SET retention_days = ?3 WHERE tenant = ?1 AND id = ?2")
                .bind(tenant)
                .bind(id)
                .bind(days)
                .execute(&self.writer)
                .await?;
        affected_one(done.rows_affected(), "product", id)
    }

    async fn product_retentions(&self) -> Result<Vec<(String, String, u32)>, StoreError> {
        let rows: Vec<(String, String, u32)> = sqlx::query_as(
            "SELECT tenant, id, retention_days FROM products WHERE retention_days IS NOT NULL",
        )
        .fetch_all(&self.reader)
        .await?;
        Ok(rows)
    }

    async fn delete_product(&self, tenant: &str, id: &str) -> Result<(), StoreError> {
        self.delete_unless_used(
            "SELECT 1 FROM devices WHERE tenant = ?1 AND product = ?2 LIMIT 1",
            "DELETE FROM products WHERE tenant = ?1 AND id = ?2",
            tenant,
            id,
            "product",
            "is used by devices; delete them first",
        )
        .await
    }

    async fn create_devices(
        &self,
        tenant: &str,
        devices: &[NewDeviceRecord],
        path_prefix: &(dyn Fn(usize) -> String + Sync),
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let mut products_seen = BTreeSet::new();
        let mut assets_seen = BTreeSet::new();
        for (i, record) in devices.iter().enumerate() {
            let d = &record.device;
            if products_seen.insert(d.product.as_str())
                && !exists(&mut tx, PRODUCT_EXISTS, tenant, &d.product).await?
            {
                return Err(StoreError::MissingReference {
                    path: format!("{}product", path_prefix(i)),
                    entity: "product",
                    id: d.product.clone(),
                });
            }
            if let Some(asset) = &d.asset
                && assets_seen.insert(asset.as_str())
            {
                require_asset(&mut tx, tenant, asset, format!("{}asset", path_prefix(i))).await?;
            }
            insert_device(&mut tx, record).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_device(&self, tenant: &str, id: &str) -> Result<Device, StoreError> {
        self.get_in_tenant(
            concat!(
                "SELECT ",
                device_columns!(),
                " FROM devices WHERE tenant = ?1 AND id = ?2"
            ),
            tenant,
            id,
            "device",
            rows::device,
        )
        .await
    }

    async fn list_devices(
        &self,
        tenant: &str,
        filter: &DeviceFilter,
        page: &PageRequest,
    ) -> Result<Page<Device>, StoreError> {
        let limit = page.effective_limit();
        let (tag_path, tag_value) = match &filter.tag {
            Some((key, value)) => (Some(format!("$.\"{key}\"")), Some(value.as_str())),
            None => (None, None),
        };
        let rows = sqlx::query(concat!(
            "SELECT ",
            device_columns!(),
            " FROM devices WHERE tenant = ?1 AND (?2 IS NULL OR id > ?2)",
            " AND (?3 IS NULL OR product = ?3) AND (?4 IS NULL OR asset = ?4)",
            " AND (?5 IS NULL OR json_extract(tags, ?5) = ?6) ORDER BY id LIMIT ?7"
        ))
        .bind(tenant)
        .bind(&page.cursor)
        .bind(&filter.product)
        .bind(&filter.asset)
        .bind(tag_path)
        .bind(tag_value)
        .bind(limit + 1)
        .fetch_all(&self.reader)
        .await?;
        page_of(rows, limit, rows::device, |d| &d.id)
    }

    async fn list_devices_in_subtree(
        &self,
        tenant: &str,
        asset: &str,
        page: &PageRequest,
    ) -> Result<Page<Device>, StoreError> {
        let limit = page.effective_limit();
        let mut conn = self.reader.acquire().await?;
        if !exists(&mut conn, ASSET_EXISTS, tenant, asset).await? {
            return Err(StoreError::NotFound {
                entity: "asset",
                id: asset.to_owned(),
            });
        }
        let rows = sqlx::query(concat!(
            "WITH RECURSIVE subtree(id) AS (",
            " SELECT ?2 UNION SELECT a.id FROM assets a JOIN subtree s ON a.tenant = ?1 AND a.parent = s.id)",
            " SELECT ",
            device_columns!(),
            " FROM devices WHERE tenant = ?1 AND asset IN (SELECT id FROM subtree)",
            " AND (?3 IS NULL OR id > ?3) ORDER BY id LIMIT ?4"
        ))
        .bind(tenant)
        .bind(asset)
        .bind(&page.cursor)
        .bind(limit + 1)
        .fetch_all(&mut *conn)
        .await?;
        page_of(rows, limit, rows::device, |d| &d.id)
    }

    async fn update_device(&self, device: &Device) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        if let Some(asset) = &device.asset {
            require_asset(&mut tx, &device.tenant, asset, "asset".into()).await?;
        }
        let done = sqlx::query(
            "UPDATE devices SET name = ?3, tags = ?4, asset = ?5, lat = ?6, lon = ?7, updated_at = ?8 \
             WHERE tenant = ?1 AND id = ?2",
        )
        .bind(&device.tenant)
        .bind(&device.id)
        .bind(&device.name)
        .bind(rows::tags_json(device))
        .bind(&device.asset)
        .bind(device.location.map(|l| l.lat))
        .bind(device.location.map(|l| l.lon))
        .bind(device.updated_at)
        .execute(&mut *tx)
        .await?;
        affected_one(done.rows_affected(), "device", &device.id)?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_device_token(
        &self,
        tenant: &str,
        id: &str,
        hash: &TokenHash,
    ) -> Result<TokenHash, StoreError> {
        let mut tx = self.writer.begin().await?;
        let old = device_token_hash(&mut tx, tenant, id).await?;
        sqlx::query("UPDATE devices SET token_hash = ?3 WHERE tenant = ?1 AND id = ?2")
            .bind(tenant)
            .bind(id)
            .bind(&hash[..])
            .execute(&mut *tx)
            .await
            .map_err(on_unique("device token", id))?;
        tx.commit().await?;
        Ok(old)
    }

    async fn delete_device(&self, tenant: &str, id: &str) -> Result<TokenHash, StoreError> {
        let mut tx = self.writer.begin().await?;
        let old = device_token_hash(&mut tx, tenant, id).await?;
        sqlx::query("DELETE FROM devices WHERE tenant = ?1 AND id = ?2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(old)
    }

    async fn find_device_by_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<DeviceAuth>, StoreError> {
        let row = sqlx::query(
            "SELECT tenant, id, product, token_hash FROM devices WHERE token_hash = ?1",
        )
        .bind(&hash[..])
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| {
            Ok(DeviceAuth {
                tenant: row.try_get("tenant")?,
                device: row.try_get("id")?,
                product: row.try_get("product")?,
                token_hash: rows::token_hash(&row, "token_hash")?,
            })
        })
        .transpose()
    }

    async fn create_asset(&self, asset: &Asset) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        if let Some(parent) = &asset.parent {
            require_asset(&mut tx, &asset.tenant, parent, "parent".into()).await?;
        }
        sqlx::query(
            "INSERT INTO assets (tenant, id, parent, name, kind, lat, lon, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .bind(&asset.tenant)
        .bind(&asset.id)
        .bind(&asset.parent)
        .bind(&asset.name)
        .bind(&asset.kind)
        .bind(asset.location.map(|l| l.lat))
        .bind(asset.location.map(|l| l.lon))
        .bind(asset.created_at)
        .bind(asset.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(on_unique("asset", &asset.id))?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_asset(&self, tenant: &str, id: &str) -> Result<Asset, StoreError> {
        self.get_in_tenant(
            concat!(
                "SELECT ",
                asset_columns!(),
                " FROM assets WHERE tenant = ?1 AND id = ?2"
            ),
            tenant,
            id,
            "asset",
            rows::asset,
        )
        .await
    }

    async fn list_assets(
        &self,
        tenant: &str,
        filter: &AssetFilter,
        page: &PageRequest,
    ) -> Result<Page<Asset>, StoreError> {
        let limit = page.effective_limit();
        let rows = sqlx::query(concat!(
            "SELECT ",
            asset_columns!(),
            " FROM assets WHERE tenant = ?1 AND (?2 IS NULL OR id > ?2)",
            " AND (?3 IS NULL OR parent = ?3) AND (?4 = 0 OR parent IS NULL)",
            " AND (?5 IS NULL OR kind = ?5) ORDER BY id LIMIT ?6"
        ))
        .bind(tenant)
        .bind(&page.cursor)
        .bind(&filter.parent)
        .bind(filter.roots_only)
        .bind(&filter.kind)
        .bind(limit + 1)
        .fetch_all(&self.reader)
        .await?;
        page_of(rows, limit, rows::asset, |a| &a.id)
    }

    async fn update_asset(&self, asset: &Asset) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        if let Some(parent) = &asset.parent {
            require_asset(&mut tx, &asset.tenant, parent, "parent".into()).await?;
            let cycle = sqlx::query(
                "WITH RECURSIVE ancestors(id) AS (SELECT ?2 UNION \
                 SELECT a.parent FROM assets a JOIN ancestors s ON a.tenant = ?1 AND a.id = s.id \
                 WHERE a.parent IS NOT NULL) SELECT 1 FROM ancestors WHERE id = ?3",
            )
            .bind(&asset.tenant)
            .bind(parent)
            .bind(&asset.id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
            if cycle {
                return Err(StoreError::Conflict(format!(
                    "asset {:?} cannot move under {parent:?}: that is the asset itself or below it",
                    asset.id
                )));
            }
        }
        let done = sqlx::query(
            "UPDATE assets SET parent = ?3, name = ?4, kind = ?5, lat = ?6, lon = ?7, updated_at = ?8 \
             WHERE tenant = ?1 AND id = ?2",
        )
        .bind(&asset.tenant)
        .bind(&asset.id)
        .bind(&asset.parent)
        .bind(&asset.name)
        .bind(&asset.kind)
        .bind(asset.location.map(|l| l.lat))
        .bind(asset.location.map(|l| l.lon))
        .bind(asset.updated_at)
        .execute(&mut *tx)
        .await?;
        affected_one(done.rows_affected(), "asset", &asset.id)?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_asset(&self, tenant: &str, id: &str) -> Result<(), StoreError> {
        self.delete_unless_used(
            "SELECT 1 FROM assets WHERE tenant = ?1 AND parent = ?2 \
             UNION ALL SELECT 1 FROM devices WHERE tenant = ?1 AND asset = ?2 LIMIT 1",
            "DELETE FROM assets WHERE tenant = ?1 AND id = ?2",
            tenant,
            id,
            "asset",
            "still has child assets or devices; move or delete them first",
        )
        .await
    }

    async fn get_twin(&self, tenant: &str, device: &str) -> Result<Option<TwinRecord>, StoreError> {
        let row =
            sqlx::query("SELECT version, document FROM twins WHERE tenant = ?1 AND device = ?2")
                .bind(tenant)
                .bind(device)
                .fetch_optional(&self.reader)
                .await?;
        row.map(|row| {
            let version: i64 = row.try_get("version")?;
            Ok(TwinRecord {
                version: version as u64,
                document: row.try_get("document")?,
            })
        })
        .transpose()
    }

    async fn put_twin(
        &self,
        tenant: &str,
        device: &str,
        twin: &TwinRecord,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO twins (tenant, device, version, document) \
             SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM devices WHERE tenant = ?1 AND id = ?2) \
             ON CONFLICT (tenant, device) DO UPDATE SET version = excluded.version, document = excluded.document",
        )
        .bind(tenant)
        .bind(device)
        .bind(twin.version as i64)
        .bind(&twin.document)
        .execute(&self.writer)
        .await
        .map_err(StoreError::from)
        .and_then(|done| affected_one(done.rows_affected(), "device", device))
    }

    async fn put_alarm(&self, alarm: &AlarmRecord) -> Result<(), StoreError> {
        self.put_alarm_row(alarm).await
    }

    async fn get_alarm(&self, tenant: &str, id: &str) -> Result<AlarmRecord, StoreError> {
        self.get_alarm_row(tenant, id).await
    }

    async fn list_alarms(
        &self,
        tenant: &str,
        filter: &AlarmFilter,
        page: &PageRequest,
    ) -> Result<Page<AlarmRecord>, StoreError> {
        self.list_alarm_rows(tenant, filter, page).await
    }

    async fn open_alarms(&self) -> Result<Vec<AlarmRecord>, StoreError> {
        self.open_alarm_rows().await
    }

    async fn insert_definition(
        &self,
        kind: DefinitionKind,
        record: &DefinitionRecord,
    ) -> Result<(), StoreError> {
        self.insert_definition_row(kind, record).await
    }

    async fn update_definition(
        &self,
        kind: DefinitionKind,
        record: &DefinitionRecord,
    ) -> Result<(), StoreError> {
        self.update_definition_row(kind, record).await
    }

    async fn get_definition(
        &self,
        kind: DefinitionKind,
        tenant: &str,
        id: &str,
    ) -> Result<DefinitionRecord, StoreError> {
        self.get_definition_row(kind, tenant, id).await
    }

    async fn list_definitions(
        &self,
        kind: DefinitionKind,
        tenant: &str,
        page: &PageRequest,
    ) -> Result<Page<DefinitionRecord>, StoreError> {
        self.list_definition_rows(kind, tenant, page).await
    }

    async fn all_definitions(
        &self,
        kind: DefinitionKind,
    ) -> Result<Vec<DefinitionRecord>, StoreError> {
        self.all_definition_rows(kind).await
    }

    async fn delete_definition(
        &self,
        kind: DefinitionKind,
        tenant: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        self.delete_definition_row(kind, tenant, id).await
    }

    async fn append_rule_outcomes(
        &self,
        outcomes: &[RuleOutcomeRecord],
        trim: &[(String, String)],
        keep: u32,
    ) -> Result<(), StoreError> {
        self.append_rule_outcome_rows(outcomes, trim, keep).await
    }

    async fn all_rule_outcomes(&self) -> Result<Vec<RuleOutcomeRecord>, StoreError> {
        self.all_rule_outcome_rows().await
    }

    async fn delete_rule_outcomes(&self, tenant: &str, rule: &str) -> Result<(), StoreError> {
        self.delete_rule_outcome_rows(tenant, rule).await
    }

    async fn insert_command(&self, command: &CommandRecord) -> Result<(), StoreError> {
        self.insert_command_row(command).await
    }

    async fn update_command(
        &self,
        command: &CommandRecord,
        from_status: &str,
    ) -> Result<bool, StoreError> {
        self.update_command_row(command, from_status).await
    }

    async fn get_command(&self, tenant: &str, id: &str) -> Result<CommandRecord, StoreError> {
        self.get_command_row(tenant, id).await
    }

    async fn list_commands(
        &self,
        tenant: &str,
        filter: &CommandFilter,
        page: &PageRequest,
    ) -> Result<Page<CommandRecord>, StoreError> {
        self.list_command_rows(tenant, filter, page).await
    }

    async fn queued_commands(
        &self,
        tenant: &str,
        device: &str,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        self.queued_command_rows(tenant, device).await
    }

    async fn overdue_commands(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        self.overdue_command_rows(now, limit).await
    }

    async fn counts(&self) -> Result<EntityCounts, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT count(*) FROM tenants) AS tenants, (SELECT count(*) FROM api_tokens) AS api_tokens, \
             (SELECT count(*) FROM products) AS products, (SELECT count(*) FROM devices) AS devices, \
             (SELECT count(*) FROM assets) AS assets",
        )
        .fetch_one(&self.reader)
        .await?;
        let get = |column: &str| -> Result<u64, StoreError> {
            Ok(row.try_get::<i64, _>(column)?.max(0) as u64)
        };
        Ok(EntityCounts {
            tenants: get("tenants")?,
            api_tokens: get("api_tokens")?,
            products: get("products")?,
            devices: get("devices")?,
            assets: get("assets")?,
        })
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

impl SqliteStore {
    /// The row of `sql` (binding `?1` tenant, `?2` id) mapped by `map`, or
    /// [`StoreError::NotFound`].
    async fn get_in_tenant<T>(
        &self,
        sql: &'static str,
        tenant: &str,
        id: &str,
        entity: &'static str,
        map: impl Fn(&SqliteRow) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let row = sqlx::query(sql)
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        match row {
            Some(row) => map(&row),
            None => Err(StoreError::NotFound {
                entity,
                id: id.to_owned(),
            }),
        }
    }

    /// In one transaction: [`StoreError::Conflict`] when `in_use_sql` finds a row, else
    /// runs `delete_sql` (both binding `?1` tenant, `?2` id).
    async fn delete_unless_used(
        &self,
        in_use_sql: &'static str,
        delete_sql: &'static str,
        tenant: &str,
        id: &str,
        entity: &'static str,
        conflict: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let in_use = sqlx::query(in_use_sql)
            .bind(tenant)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if in_use {
            return Err(StoreError::Conflict(format!("{entity} {id:?} {conflict}")));
        }
        let done = sqlx::query(delete_sql)
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        affected_one(done.rows_affected(), entity, id)?;
        tx.commit().await?;
        Ok(())
    }

    /// A page of `sql` (binding `?1` tenant, `?2` cursor, `?3` limit) mapped by `map`.
    async fn list_in_tenant<T>(
        &self,
        sql: &'static str,
        tenant: &str,
        page: &PageRequest,
        map: impl Fn(&SqliteRow) -> Result<T, StoreError>,
        id: impl Fn(&T) -> &str,
    ) -> Result<Page<T>, StoreError> {
        let limit = page.effective_limit();
        let rows = sqlx::query(sql)
            .bind(tenant)
            .bind(&page.cursor)
            .bind(limit + 1)
            .fetch_all(&self.reader)
            .await?;
        page_of(rows, limit, map, id)
    }
}

/// The token hash of a device, or [`StoreError::NotFound`].
async fn device_token_hash(
    tx: &mut Transaction<'static, Sqlite>,
    tenant: &str,
    id: &str,
) -> Result<TokenHash, StoreError> {
    let row = sqlx::query("SELECT token_hash FROM devices WHERE tenant = ?1 AND id = ?2")
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            entity: "device",
            id: id.to_owned(),
        })?;
    rows::token_hash(&row, "token_hash")
}
