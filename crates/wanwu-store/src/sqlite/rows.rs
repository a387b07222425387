//! Mapping between rows and model types.

use crate::error::StoreError;
use crate::store::TokenHash;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use wanwu_model::entity::{ApiToken, Asset, Device, ProductRecord, Role, Tenant};
use wanwu_model::value::GeoPoint;

/// Columns read by [`tenant`], for `concat!` into static SQL.
macro_rules! tenant_columns {
    () => {
        "id, name, created_at, updated_at"
    };
}
/// Columns read by [`api_token`] and [`token_hash`] (`hash`).
macro_rules! api_token_columns {
    () => {
        "id, tenant, name, role, platform_admin, created_at, hash"
    };
}
/// Columns read by [`product`].
macro_rules! product_columns {
    () => {
        "tenant, definition, retention_days, created_at, updated_at"
    };
}
/// Columns read by [`device`].
macro_rules! device_columns {
    () => {
        "tenant, id, product, name, tags, asset, lat, lon, created_at, updated_at"
    };
}
/// Columns read by [`asset`].
macro_rules! asset_columns {
    () => {
        "tenant, id, parent, name, kind, lat, lon, created_at, updated_at"
    };
}
pub(super) use {
    api_token_columns, asset_columns, device_columns, product_columns, tenant_columns,
};

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("stored {what} is unreadable: {e}"))
}

pub(super) fn tenant(row: &SqliteRow) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) fn api_token(row: &SqliteRow) -> Result<ApiToken, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(ApiToken {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
        platform_admin: row.try_get("platform_admin")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn token_hash(row: &SqliteRow, column: &str) -> Result<TokenHash, StoreError> {
    let bytes: Vec<u8> = row.try_get(column)?;
    bytes
        .try_into()
        .map_err(|_| corrupt("token hash", "wrong length"))
}

pub(super) fn product(row: &SqliteRow) -> Result<ProductRecord, StoreError> {
    let definition: String = row.try_get("definition")?;
    Ok(ProductRecord {
        tenant: row.try_get("tenant")?,
        definition: serde_json::from_str(&definition).map_err(|e| corrupt("product", e))?,
        retention_days: row.try_get("retention_days")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn location(row: &SqliteRow) -> Result<Option<GeoPoint>, StoreError> {
    let lat: Option<f64> = row.try_get("lat")?;
    let lon: Option<f64> = row.try_get("lon")?;
    Ok(lat.zip(lon).map(|(lat, lon)| GeoPoint { lat, lon }))
}

pub(super) fn device(row: &SqliteRow) -> Result<Device, StoreError> {
    let tags: String = row.try_get("tags")?;
    Ok(Device {
        tenant: row.try_get("tenant")?,
        id: row.try_get("id")?,
        product: row.try_get("product")?,
        name: row.try_get("name")?,
        tags: serde_json::from_str(&tags).map_err(|e| corrupt("tags", e))?,
        asset: row.try_get("asset")?,
        location: location(row)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) fn asset(row: &SqliteRow) -> Result<Asset, StoreError> {
    Ok(Asset {
        tenant: row.try_get("tenant")?,
        id: row.try_get("id")?,
        parent: row.try_get("parent")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        location: location(row)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// JSON text of device tags.
pub(super) fn tags_json(device: &Device) -> String {
    serde_json::to_string(&device.tags).unwrap_or_else(|_| "{}".into())
}
