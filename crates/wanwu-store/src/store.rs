//! The [`Store`] trait and the records it exchanges.

use crate::error::StoreError;
use crate::page::{Page, PageRequest};
use wanwu_model::entity::{ApiToken, Asset, Device, ProductRecord, Tenant};
use wanwu_model::thing::Product;

/// A keyed hash of a secret token; the store keeps this, never the token.
pub type TokenHash = [u8; 32];

/// An API token with the hash of its secret.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiTokenRecord {
    /// The token as listed.
    pub token: ApiToken,
    /// Hash of the secret.
    pub hash: TokenHash,
}

/// A device to create, with the hash of its token.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDeviceRecord {
    /// The device.
    pub device: Device,
    /// Hash of its token.
    pub token_hash: TokenHash,
}

/// What device authentication needs: who owns the token hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceAuth {
    /// Tenant of the device.
    pub tenant: String,
    /// Device id.
    pub device: String,
    /// Product of the device.
    pub product: String,
    /// The stored hash (for a constant-time comparison by the caller).
    pub token_hash: TokenHash,
}

/// Filters of the device list; all given filters must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceFilter {
    /// Only devices of this product.
    pub product: Option<String>,
    /// Only devices directly under this asset.
    pub asset: Option<String>,
    /// Only devices with this tag key set to this value.
    pub tag: Option<(String, String)>,
}

/// Filters of the asset list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssetFilter {
    /// Only children of this asset.
    pub parent: Option<String>,
    /// Only root assets (no parent).
    pub roots_only: bool,
    /// Only assets of this kind.
    pub kind: Option<String>,
}

/// The stored twin of a device: its document (JSON, opaque to the store) and version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TwinRecord {
    /// Version of the document; only grows.
    pub version: u64,
    /// The twin document as JSON text.
    pub document: String,
}

/// A stored alarm: the columns lists filter on, and the whole alarm as JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlarmRecord {
    /// Tenant.
    pub tenant: String,
    /// Id, unique within the tenant.
    pub id: String,
    /// Originating device.
    pub device: String,
    /// Alarm type.
    pub alarm_type: String,
    /// Severity (`info`, `minor`, `major`, `critical`).
    pub severity: String,
    /// Status (`active`, `acknowledged`, `cleared`).
    pub status: String,
    /// Latest occurrence, ms since the Unix epoch.
    pub last_ts: i64,
    /// The alarm document as JSON text.
    pub document: String,
}

/// Which alarms a list returns; `None` fields do not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlarmFilter {
    /// Only this status.
    pub status: Option<String>,
    /// Only this severity.
    pub severity: Option<String>,
    /// Only alarms of these devices.
    pub devices: Option<Vec<String>>,
}

/// Which definitions a [`DefinitionRecord`] is: rules and scenes are kept apart, alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DefinitionKind {
    /// A rule (trigger, condition, actions).
    Rule,
    /// A scene (actions run on demand).
    Scene,
}

/// A stored rule or scene: the definition as JSON (opaque to the store) and its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefinitionRecord {
    /// Tenant.
    pub tenant: String,
    /// Id, unique within the tenant and kind.
    pub id: String,
    /// Whether it is active (a disabled rule is kept but not evaluated).
    pub enabled: bool,
    /// The definition as JSON text.
    pub definition: String,
    /// Creation time, ms since the Unix epoch.
    pub created_at: i64,
    /// Last update, ms since the Unix epoch.
    pub updated_at: i64,
}

/// What the actions of one firing of a rule did, as JSON (opaque to the store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleOutcomeRecord {
    /// Tenant.
    pub tenant: String,
    /// The rule's id.
    pub rule: String,
    /// When the rule fired, ms since the Unix epoch.
    pub ts: i64,
    /// The outcome as JSON text.
    pub outcome: String,
}

/// A stored command: the columns lists and sweeps filter on, and the whole command as JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandRecord {
    /// Tenant.
    pub tenant: String,
    /// Id, unique within the tenant; ids sort in creation order.
    pub id: String,
    /// Target device.
    pub device: String,
    /// Status (`queued`, `sent`, `succeeded`, `failed`, `expired`).
    pub status: String,
    /// When an unfinished command expires, ms since the Unix epoch.
    pub expires_at: i64,
    /// The command document as JSON text.
    pub document: String,
}

/// Which commands a list returns; `None` fields do not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandFilter {
    /// Only commands to this device.
    pub device: Option<String>,
    /// Only this status.
    pub status: Option<String>,
}

/// How many entities the store holds, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EntityCounts {
    /// Tenants.
    pub tenants: u64,
    /// API tokens.
    pub api_tokens: u64,
    /// Products.
    pub products: u64,
    /// Devices.
    pub devices: u64,
    /// Assets.
    pub assets: u64,
}

/// The metadata store. Each method is one transaction; on error nothing changed.
/// Entities other than tenants live inside a tenant: an id of another tenant is
/// [`StoreError::NotFound`].
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    // --- tenants
    /// Creates a tenant.
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    /// The tenant `id`.
    async fn get_tenant(&self, id: &str) -> Result<Tenant, StoreError>;
    /// A page of tenants.
    async fn list_tenants(&self, page: &PageRequest) -> Result<Page<Tenant>, StoreError>;
    /// Replaces the tenant's name and `updated_at`.
    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    /// Deletes an empty tenant (no products, devices, assets) with its API tokens; a tenant
    /// holding the platform admin token or any entity is a [`StoreError::Conflict`].
    async fn delete_tenant(&self, id: &str) -> Result<(), StoreError>;

    // --- API tokens
    /// Creates an API token.
    async fn create_api_token(&self, token: &ApiTokenRecord) -> Result<(), StoreError>;
    /// The token `id` of `tenant`.
    async fn get_api_token(&self, tenant: &str, id: &str) -> Result<ApiToken, StoreError>;
    /// A page of the tenant's tokens.
    async fn list_api_tokens(
        &self,
        tenant: &str,
        page: &PageRequest,
    ) -> Result<Page<ApiToken>, StoreError>;
    /// Replaces a token's name and role.
    async fn update_api_token(&self, token: &ApiToken) -> Result<(), StoreError>;
    /// Replaces the secret hash of the token `id` (any tenant).
    async fn set_api_token_hash(&self, id: &str, hash: &TokenHash) -> Result<(), StoreError>;
    /// Deletes a token.
    async fn delete_api_token(&self, tenant: &str, id: &str) -> Result<(), StoreError>;
    /// The token whose secret hashes to `hash`, in any tenant.
    async fn find_api_token(&self, hash: &TokenHash) -> Result<Option<ApiTokenRecord>, StoreError>;
    /// The platform admin token, if one exists.
    async fn platform_admin_token(&self) -> Result<Option<ApiToken>, StoreError>;

    // --- products
    /// Creates a product.
    async fn create_product(&self, tenant: &str, product: &ProductRecord)
    -> Result<(), StoreError>;
    /// The product `id` of `tenant`.
    async fn get_product(&self, tenant: &str, id: &str) -> Result<ProductRecord, StoreError>;
    /// A page of the tenant's products.
    async fn list_products(
        &self,
        tenant: &str,
        page: &PageRequest,
    ) -> Result<Page<ProductRecord>, StoreError>;
    /// Replaces a product's definition and `updated_at`.
    async fn update_product(
        &self,
        tenant: &str,
        product: &Product,
        updated_at: i64,
    ) -> Result<(), StoreError>;
    /// Deletes a product no device uses.
    async fn delete_product(&self, tenant: &str, id: &str) -> Result<(), StoreError>;
    /// Sets how long a product's telemetry is kept (`None`: the platform's configuration).
    async fn set_product_retention(
        &self,
        tenant: &str,
        id: &str,
        days: Option<u32>,
    ) -> Result<(), StoreError>;
    /// Every product with its own telemetry retention, in all tenants: (tenant, product, days).
    async fn product_retentions(&self) -> Result<Vec<(String, String, u32)>, StoreError>;

    // --- devices
    /// Creates all `devices` of `tenant` or none. `path_prefix(i)` is the path prefix of
    /// device `i`'s input in errors, with its trailing dot (`devices[3].`; empty for one).
    async fn create_devices(
        &self,
        tenant: &str,
        devices: &[NewDeviceRecord],
        path_prefix: &(dyn Fn(usize) -> String + Sync),
    ) -> Result<(), StoreError>;
    /// The device `id` of `tenant`.
    async fn get_device(&self, tenant: &str, id: &str) -> Result<Device, StoreError>;
    /// A page of the tenant's devices matching `filter`.
    async fn list_devices(
        &self,
        tenant: &str,
        filter: &DeviceFilter,
        page: &PageRequest,
    ) -> Result<Page<Device>, StoreError>;
    /// A page of the devices under `asset` or any asset below it.
    async fn list_devices_in_subtree(
        &self,
        tenant: &str,
        asset: &str,
        page: &PageRequest,
    ) -> Result<Page<Device>, StoreError>;
    /// Replaces a device's name, tags, asset, location and `updated_at`.
    async fn update_device(&self, device: &Device) -> Result<(), StoreError>;
    /// Replaces a device's token hash; returns the previous one.
    async fn set_device_token(
        &self,
        tenant: &str,
        id: &str,
        hash: &TokenHash,
    ) -> Result<TokenHash, StoreError>;
    /// Deletes a device; returns its token hash.
    async fn delete_device(&self, tenant: &str, id: &str) -> Result<TokenHash, StoreError>;
    /// The device whose token hashes to `hash`, in any tenant.
    async fn find_device_by_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<DeviceAuth>, StoreError>;

    // --- assets
    /// Creates an asset.
    async fn create_asset(&self, asset: &Asset) -> Result<(), StoreError>;
    /// The asset `id` of `tenant`.
    async fn get_asset(&self, tenant: &str, id: &str) -> Result<Asset, StoreError>;
    /// A page of the tenant's assets matching `filter`.
    async fn list_assets(
        &self,
        tenant: &str,
        filter: &AssetFilter,
        page: &PageRequest,
    ) -> Result<Page<Asset>, StoreError>;
    /// Replaces an asset's parent, name, kind, location and `updated_at`; a parent that
    /// would make a cycle is a [`StoreError::Conflict`].
    async fn update_asset(&self, asset: &Asset) -> Result<(), StoreError>;
    /// Deletes an asset without children or devices.
    async fn delete_asset(&self, tenant: &str, id: &str) -> Result<(), StoreError>;

    // --- twins
    /// The twin of device `device` of `tenant`, if one was ever stored.
    async fn get_twin(&self, tenant: &str, device: &str) -> Result<Option<TwinRecord>, StoreError>;
    /// Stores the twin of an existing device (replacing the previous one); a missing device
    /// is [`StoreError::NotFound`].
    async fn put_twin(
        &self,
        tenant: &str,
        device: &str,
        twin: &TwinRecord,
    ) -> Result<(), StoreError>;

    // --- alarms
    /// Inserts an alarm or replaces the stored one with the same tenant and id.
    async fn put_alarm(&self, alarm: &AlarmRecord) -> Result<(), StoreError>;
    /// One alarm of a tenant.
    async fn get_alarm(&self, tenant: &str, id: &str) -> Result<AlarmRecord, StoreError>;
    /// A page of a tenant's alarms, ordered by id.
    async fn list_alarms(
        &self,
        tenant: &str,
        filter: &AlarmFilter,
        page: &PageRequest,
    ) -> Result<Page<AlarmRecord>, StoreError>;
    /// Every alarm of every tenant that is not cleared (loaded at start).
    async fn open_alarms(&self) -> Result<Vec<AlarmRecord>, StoreError>;

    // --- rules and scenes
    /// Stores a new definition; an existing id is [`StoreError::AlreadyExists`].
    async fn insert_definition(
        &self,
        kind: DefinitionKind,
        record: &DefinitionRecord,
    ) -> Result<(), StoreError>;
    /// Replaces the definition and `enabled` of an existing one (keeps `created_at`).
    async fn update_definition(
        &self,
        kind: DefinitionKind,
        record: &DefinitionRecord,
    ) -> Result<(), StoreError>;
    /// One definition of a tenant.
    async fn get_definition(
        &self,
        kind: DefinitionKind,
        tenant: &str,
        id: &str,
    ) -> Result<DefinitionRecord, StoreError>;
    /// A page of a tenant's definitions, ordered by id.
    async fn list_definitions(
        &self,
        kind: DefinitionKind,
        tenant: &str,
        page: &PageRequest,
    ) -> Result<Page<DefinitionRecord>, StoreError>;
    /// Every definition of every tenant (loaded at start).
    async fn all_definitions(
        &self,
        kind: DefinitionKind,
    ) -> Result<Vec<DefinitionRecord>, StoreError>;
    /// Deletes a definition.
    async fn delete_definition(
        &self,
        kind: DefinitionKind,
        tenant: &str,
        id: &str,
    ) -> Result<(), StoreError>;

    /// Appends `outcomes` (in order), then keeps only the newest `keep` of each rule
    /// (tenant, rule id) in `trim`, in one transaction.
    async fn append_rule_outcomes(
        &self,
        outcomes: &[RuleOutcomeRecord],
        trim: &[(String, String)],
        keep: u32,
    ) -> Result<(), StoreError>;
    /// Every kept rule outcome of every tenant, oldest first (loaded at start).
    async fn all_rule_outcomes(&self) -> Result<Vec<RuleOutcomeRecord>, StoreError>;
    /// Forgets the outcomes of rule `rule` of `tenant`.
    async fn delete_rule_outcomes(&self, tenant: &str, rule: &str) -> Result<(), StoreError>;

    // --- commands
    /// Inserts a new command of an existing device; a missing device is
    /// [`StoreError::NotFound`], a taken id [`StoreError::AlreadyExists`].
    async fn insert_command(&self, command: &CommandRecord) -> Result<(), StoreError>;
    /// Replaces a command if its stored status is still `from_status`; returns whether it
    /// did (`false`: the command is gone or another change came first).
    async fn update_command(
        &self,
        command: &CommandRecord,
        from_status: &str,
    ) -> Result<bool, StoreError>;
    /// One command of a tenant.
    async fn get_command(&self, tenant: &str, id: &str) -> Result<CommandRecord, StoreError>;
    /// A page of a tenant's commands, ordered by id (creation order).
    async fn list_commands(
        &self,
        tenant: &str,
        filter: &CommandFilter,
        page: &PageRequest,
    ) -> Result<Page<CommandRecord>, StoreError>;
    /// The device's commands waiting for delivery (`queued`), oldest first.
    async fn queued_commands(
        &self,
        tenant: &str,
        device: &str,
    ) -> Result<Vec<CommandRecord>, StoreError>;
    /// Up to `limit` unfinished commands (any tenant) whose `expires_at <= now`, oldest
    /// expiry first.
    async fn overdue_commands(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<CommandRecord>, StoreError>;

    // --- housekeeping
    /// How many entities exist.
    async fn counts(&self) -> Result<EntityCounts, StoreError>;
    /// Finishes pending work and closes the database.
    async fn close(&self);
}
