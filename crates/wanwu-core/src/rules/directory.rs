//! The [`Directory`] the live engine reads: devices (with asset ancestors) and twins kept in
//! memory, filled from the registry and the twin service by the lookup tasks of
//! [`crate::rules::admission`] before a device's first input is handed over, so that neither
//! the feeders nor the evaluation threads wait on the store.

use crate::registry::Registry;
use crate::rules::system_scope;
use crate::twin::Twins;
use dashmap::DashMap;
use serde_json::{Map, Value as Json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wanwu_rules::{DeviceInfo, Directory, MemoryDirectory, TwinSnapshot};

/// How long a device read from the registry is used before it is read again (tags, asset
/// and name changes reach rules within this time).
pub const REFRESH_AFTER: Duration = Duration::from_secs(30);
/// Deepest asset tree walked for a device's ancestors.
const MAX_ASSET_DEPTH: usize = 64;

/// How current a device's entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Never read (or gone): inputs must wait for a lookup.
    Unknown,
    /// Read within [`REFRESH_AFTER`].
    Fresh,
    /// Read longer ago: usable, to be read again.
    Stale,
}

/// Devices and twins of every tenant, as rules see them.
pub struct PlatformDirectory {
    memory: MemoryDirectory,
    loaded: DashMap<(String, String), Instant>,
    registry: Registry,
    twins: Arc<Twins>,
}

impl PlatformDirectory {
    /// A directory reading `registry` and `twins`.
    pub fn new(registry: Registry, twins: Arc<Twins>) -> Self {
        PlatformDirectory {
            memory: MemoryDirectory::default(),
            loaded: DashMap::new(),
            registry,
            twins,
        }
    }

    /// Whether `device` of `tenant` is in memory, and read recently enough.
    pub fn freshness(&self, tenant: &str, device: &str) -> Freshness {
        match self.loaded.get(&(tenant.to_owned(), device.to_owned())) {
            None => Freshness::Unknown,
            Some(at) if at.elapsed() < REFRESH_AFTER => Freshness::Fresh,
            Some(_) => Freshness::Stale,
        }
    }

    /// Counts `device` of `tenant` as fresh from now on (its refresh is under way).
    pub fn mark_fresh(&self, tenant: &str, device: &str) {
        self.loaded
            .insert((tenant.to_owned(), device.to_owned()), Instant::now());
    }

    /// Reads `device` of `tenant` (and its asset ancestors and twin) from the registry and
    /// the twin service into memory; false when it does not exist (it is then forgotten).
    pub async fn load(&self, tenant: &str, device: &str) -> bool {
        let key = (tenant.to_owned(), device.to_owned());
        let scope = system_scope(tenant);
        let Ok(record) = self.registry.get_device(&scope, device).await else {
            self.loaded.remove(&key);
            return false;
        };
        let mut assets = Vec::new();
        let mut next = record.asset.clone();
        while let Some(id) = next.take()
            && assets.len() < MAX_ASSET_DEPTH
        {
            next = match self.registry.get_asset(&scope, &id).await {
                Ok(asset) => asset.parent,
                Err(_) => None,
            };
            assets.push(id);
        }
        self.memory.put_device(DeviceInfo {
            id: record.id,
            tenant: record.tenant,
            product: record.product,
            name: record.name,
            tags: record.tags,
            attributes: Map::new(),
            assets,
        });
        if let Ok(twin) = self.twins.get(&scope, device).await {
            self.memory.put_twin(
                tenant,
                device,
                TwinSnapshot {
                    reported: twin.reported,
                    desired: twin.desired,
                },
            );
        }
        self.loaded.insert(key, Instant::now());
        true
    }

    /// Applies the changed keys of a twin notice (`null` removes a key).
    pub fn apply_twin_change(&self, tenant: &str, device: &str, body: &Json) {
        let mut twin = self.memory.twin(tenant, device).unwrap_or_default();
        merge(&mut twin.reported, body.get("reported"));
        merge(&mut twin.desired, body.get("desired"));
        self.memory.put_twin(tenant, device, twin);
    }
}

fn merge(side: &mut Map<String, Json>, changes: Option<&Json>) {
    for (key, value) in changes.and_then(Json::as_object).into_iter().flatten() {
        if value.is_null() {
            side.remove(key);
        } else {
            side.insert(key.clone(), value.clone());
        }
    }
}

impl Directory for PlatformDirectory {
    fn device(&self, tenant: &str, device: &str) -> Option<Arc<DeviceInfo>> {
        self.memory.device(tenant, device)
    }

    fn twin(&self, tenant: &str, device: &str) -> Option<TwinSnapshot> {
        self.memory.twin(tenant, device)
    }
}
