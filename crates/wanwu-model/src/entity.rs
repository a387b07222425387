//! Tenants, API tokens, devices and assets as the registry keeps them, and the inputs that
//! create or change them. Inputs reject unknown fields and are checked by `validate`.

use crate::error::{ValidationErrors, join};
use crate::id::check_id;
use crate::thing::{MAX_NAME_LEN, Product};
use crate::value::GeoPoint;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most tags a device may carry.
pub const MAX_TAGS: usize = 64;
/// Longest tag value.
pub const MAX_TAG_VALUE_LEN: usize = 200;

/// A tenant: an isolated space of products, devices, assets and tokens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tenant {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Creation time, ms since the Unix epoch.
    pub created_at: i64,
    /// Last change, ms since the Unix epoch.
    pub updated_at: i64,
}

/// What an API token may do within its tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including tokens.
    Admin,
    /// Read and write products, devices and assets; not tokens.
    Operator,
    /// Read only.
    Viewer,
}

impl Role {
    /// The role's name as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    /// Parses the JSON name of a role.
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "admin" => Some(Role::Admin),
            "operator" => Some(Role::Operator),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// An API token as listed; the secret itself is shown once at creation and never stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiToken {
    /// Id (not secret).
    pub id: String,
    /// Tenant the token acts in.
    pub tenant: String,
    /// Display name.
    pub name: String,
    /// What the token may do.
    pub role: Role,
    /// True for the platform admin token, which manages tenants and may act for any tenant.
    pub platform_admin: bool,
    /// Creation time, ms since the Unix epoch.
    pub created_at: i64,
}

/// A product as stored: the definition plus bookkeeping.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProductRecord {
    /// Tenant owning the product.
    pub tenant: String,
    /// The thing model.
    #[serde(flatten)]
    pub definition: Product,
    /// How long the telemetry of the product's devices is kept, in days; absent leaves it
    /// to the platform's configuration (`[tsdb]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    /// Creation time, ms since the Unix epoch.
    pub created_at: i64,
    /// Last change, ms since the Unix epoch.
    pub updated_at: i64,
}

/// Longest retention a product may set, in days (100 years).
pub const MAX_RETENTION_DAYS: u32 = 36_500;

/// Checks a product's `retention_days`: between 1 and [`MAX_RETENTION_DAYS`].
pub fn check_retention_days(days: Option<u32>) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    if let Some(days) = days
        && !(1..=MAX_RETENTION_DAYS).contains(&days)
    {
        errors.push(
            "retention_days",
            format!("must be between 1 and {MAX_RETENTION_DAYS} days, got {days}"),
        );
    }
    errors.into_result()
}

/// A device as stored (its token hash is kept by the store only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Device {
    /// Id, unique within the tenant; the MQTT username.
    pub id: String,
    /// Tenant owning the device.
    pub tenant: String,
    /// Product (thing model) of the device.
    pub product: String,
    /// Display name.
    pub name: String,
    /// Free key/value labels.
    pub tags: BTreeMap<String, String>,
    /// Asset the device belongs to.
    pub asset: Option<String>,
    /// Where the device is.
    pub location: Option<GeoPoint>,
    /// Creation time, ms since the Unix epoch.
    pub created_at: i64,
    /// Last change, ms since the Unix epoch.
    pub updated_at: i64,
}

/// An asset: a node of the tenant's tree of places and things (city, district, street, site).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Asset {
    /// Id, unique within the tenant.
    pub id: String,
    /// Tenant owning the asset.
    pub tenant: String,
    /// Parent asset; `None` for a root.
    pub parent: Option<String>,
    /// Display name.
    pub name: String,
    /// What the asset is, e.g. `city`, `district`, `street`, `site`.
    pub kind: String,
    /// Where the asset is.
    pub location: Option<GeoPoint>,
    /// Creation time, ms since the Unix epoch.
    pub created_at: i64,
    /// Last change, ms since the Unix epoch.
    pub updated_at: i64,
}

/// Input creating a tenant.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// Input changing a tenant.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    /// New display name.
    pub name: Option<String>,
}

/// Input creating an API token.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiToken {
    /// Display name.
    pub name: String,
    /// What the token may do.
    pub role: Role,
    /// Tenant the token acts in; defaults to the caller's.
    #[serde(default)]
    pub tenant: Option<String>,
}

/// Input changing an API token.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenPatch {
    /// New display name.
    pub name: Option<String>,
    /// New role.
    pub role: Option<Role>,
}

/// Input changing a product; what is given replaces the current part.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    /// New display name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New properties.
    pub properties: Option<Vec<crate::thing::Property>>,
    /// New events.
    pub events: Option<Vec<crate::thing::Event>>,
    /// New commands.
    pub commands: Option<Vec<crate::thing::Command>>,
    /// New telemetry retention in days; `null` leaves it to the platform's configuration.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>)]
    pub retention_days: Option<Option<u32>>,
}

impl ProductPatch {
    /// `product` with this patch applied.
    pub fn apply(self, mut product: Product) -> Product {
        if let Some(name) = self.name {
            product.name = name;
        }
        if let Some(description) = self.description {
            product.description = Some(description);
        }
        if let Some(properties) = self.properties {
            product.properties = properties;
        }
        if let Some(events) = self.events {
            product.events = events;
        }
        if let Some(commands) = self.commands {
            product.commands = commands;
        }
        product
    }
}

/// Input creating a device.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// Id; generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Product of the device.
    pub product: String,
    /// Display name; defaults to the id.
    #[serde(default)]
    pub name: Option<String>,
    /// Free key/value labels.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Asset the device belongs to.
    #[serde(default)]
    pub asset: Option<String>,
    /// Where the device is.
    #[serde(default)]
    pub location: Option<GeoPoint>,
}

/// Input changing a device. `asset` and `location` take `null` to clear them.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevicePatch {
    /// New display name.
    pub name: Option<String>,
    /// New tags (replacing all).
    pub tags: Option<BTreeMap<String, String>>,
    /// New asset; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub asset: Option<Option<String>>,
    /// New location; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<GeoPoint>)]
    pub location: Option<Option<GeoPoint>>,
}

/// Input creating an asset.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAsset {
    /// Id.
    pub id: String,
    /// Parent asset; absent for a root.
    #[serde(default)]
    pub parent: Option<String>,
    /// Display name.
    pub name: String,
    /// What the asset is, e.g. `city`, `district`, `street`, `site`.
    pub kind: String,
    /// Where the asset is.
    #[serde(default)]
    pub location: Option<GeoPoint>,
}

/// Input changing an asset. `parent` and `location` take `null` to clear them.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetPatch {
    /// New parent; `null` makes the asset a root.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub parent: Option<Option<String>>,
    /// New display name.
    pub name: Option<String>,
    /// New kind.
    pub kind: Option<String>,
    /// New location; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<GeoPoint>)]
    pub location: Option<Option<GeoPoint>>,
}

/// Tells a field given as `null` (`Some(None)`) from an absent one (`None`).
fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Records an error when a display name is empty or too long.
pub fn check_name(errors: &mut ValidationErrors, path: &str, name: &str) {
    if name.trim().is_empty() {
        errors.push(path, "must not be empty");
    } else if name.chars().count() > MAX_NAME_LEN {
        errors.push(path, format!("must be at most {MAX_NAME_LEN} characters"));
    }
}

fn check_tags(errors: &mut ValidationErrors, path: &str, tags: &BTreeMap<String, String>) {
    if tags.len() > MAX_TAGS {
        errors.push(path, format!("at most {MAX_TAGS} tags allowed"));
    }
    for (key, value) in tags {
        check_id(errors, &join(path, key), key);
        if value.chars().count() > MAX_TAG_VALUE_LEN {
            errors.push(
                join(path, key),
                format!("must be at most {MAX_TAG_VALUE_LEN} characters"),
            );
        }
    }
}

fn check_location(errors: &mut ValidationErrors, path: &str, location: Option<&GeoPoint>) {
    if let Some(problem) = location.and_then(GeoPoint::problem) {
        errors.push(path, problem);
    }
}

impl NewTenant {
    /// Checks the input.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        check_id(&mut errors, "id", &self.id);
        check_name(&mut errors, "name", &self.name);
        errors.into_result()
    }
}

impl TenantPatch {
    /// Checks the input.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let Some(name) = &self.name {
            check_name(&mut errors, "name", name);
        }
        errors.into_result()
    }
}

impl NewApiToken {
    /// Checks the input.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        check_name(&mut errors, "name", &self.name);
        if let Some(tenant) = &self.tenant {
            check_id(&mut errors, "tenant", tenant);
        }
        errors.into_result()
    }
}

impl ApiTokenPatch {
    /// Checks the input.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let Some(name) = &self.name {
            check_name(&mut errors, "name", name);
        }
        errors.into_result()
    }
}

impl NewDevice {
    /// Checks the input, reporting paths below `path` (empty for a single device,
    /// `devices[3]` inside a batch).
    pub fn validate_at(&self, path: &str) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let Some(id) = &self.id {
            check_id(&mut errors, &join(path, "id"), id);
        }
        check_id(&mut errors, &join(path, "product"), &self.product);
        if let Some(name) = &self.name {
            check_name(&mut errors, &join(path, "name"), name);
        }
        check_tags(&mut errors, &join(path, "tags"), &self.tags);
        if let Some(asset) = &self.asset {
            check_id(&mut errors, &join(path, "asset"), asset);
        }
        check_location(&mut errors, &join(path, "location"), self.location.as_ref());
        errors.into_result()
    }
}

impl DevicePatch {
    /// Checks the input.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let Some(name) = &self.name {
            check_name(&mut errors, "name", name);
        }
        if let Some(tags) = &self.tags {
            check_tags(&mut errors, "tags", tags);
        }
        if let Some(Some(asset)) = &self.asset {
            check_id(&mut errors, "asset", asset);
        }
        if let Some(location) = &self.location {
            check_location(&mut errors, "location", location.as_ref());
        }
        errors.into_result()
    }

    /// `device` with this patch applied.
    pub fn apply(self, mut device: Device) -> Device {
        if let Some(name) = self.name {
            device.name = name;
        }
        if let Some(tags) = self.tags {
            device.tags = tags;
        }
        if let Some(asset) = self.asset {
            device.asset = asset;
        }
        if let Some(location) = self.location {
            device.location = location;
        }
        device
    }
}

impl NewAsset {
    /// Checks the input.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        check_id(&mut errors, "id", &self.id);
        if let Some(parent) = &self.parent {
            check_id(&mut errors, "parent", parent);
        }
        check_name(&mut errors, "name", &self.name);
        check_id(&mut errors, "kind", &self.kind);
        check_location(&mut errors, "location", self.location.as_ref());
        errors.into_result()
    }
}

impl AssetPatch {
    /// Checks the input.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let Some(Some(parent)) = &self.parent {
            check_id(&mut errors, "parent", parent);
        }
        if let Some(name) = &self.name {
            check_name(&mut errors, "name", name);
        }
        if let Some(kind) = &self.kind {
            check_id(&mut errors, "kind", kind);
        }
        if let Some(location) = &self.location {
            check_location(&mut errors, "location", location.as_ref());
        }
        errors.into_result()
    }

    /// `asset` with this patch applied.
    pub fn apply(self, mut asset: Asset) -> Asset {
        if let Some(parent) = self.parent {
            asset.parent = parent;
        }
        if let Some(name) = self.name {
            asset.name = name;
        }
        if let Some(kind) = self.kind {
            asset.kind = kind;
        }
        if let Some(location) = self.location {
            asset.location = location;
        }
        asset
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_tells_null_from_absent() {
        let p: DevicePatch = serde_json::from_value(json!({"asset": null})).unwrap();
        assert_eq!(p.asset, Some(None));
        assert_eq!(p.location, None);
        let p: DevicePatch = serde_json::from_value(json!({"name": "x"})).unwrap();
        assert_eq!(p.asset, None);
    }

    #[test]
    fn device_input_errors_carry_the_batch_path() {
        let d: NewDevice = serde_json::from_value(
            json!({"id": "a/b", "product": "aq", "tags": {"bad key": "v"}, "location": {"lat": 100, "lon": 0}}),
        )
        .unwrap();
        let paths: Vec<_> = d
            .validate_at("devices[3]")
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(
            paths,
            [
                "devices[3].id",
                "devices[3].tags.bad key",
                "devices[3].location"
            ]
        );
    }

    #[test]
    fn inputs_reject_unknown_fields() {
        assert!(serde_json::from_value::<NewDevice>(json!({"product": "aq", "x": 1})).is_err());
        assert!(
            serde_json::from_value::<NewAsset>(
                json!({"id": "a", "name": "A", "kind": "city", "x": 1})
            )
            .is_err()
        );
        assert!(
            serde_json::from_value::<NewApiToken>(json!({"name": "a", "role": "root"})).is_err()
        );
    }
}
