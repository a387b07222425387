//! Where a device sits: its product and the chain of assets from its own up to the root,
//! so that a subscription to a product or an asset subtree can be matched per message
//! without asking the store each time.
//!
//! The cache is dropped whole whenever the registry reports a placement change (a device
//! moved or deleted, an asset moved or deleted, see
//! [`Registry::placement_changes`](wanwu_core::Registry::placement_changes)); a lookup that
//! raced such a change is answered but not kept. The cache holds at most
//! [`MAX_CACHED_DEVICES`] devices and starts over when full.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use wanwu_core::Registry;
use wanwu_store::Store;

/// Most devices whose placement is held.
pub const MAX_CACHED_DEVICES: usize = 100_000;
/// Deepest asset tree followed up from a device (guards against a damaged tree).
const MAX_ASSET_DEPTH: usize = 64;

/// The product of a device and the assets it sits under.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    /// The device's product; empty when the device is unknown.
    pub product: String,
    /// The device's asset, its parent, and so on up to a root.
    pub assets: Vec<String>,
}

#[derive(Default)]
struct Held {
    changes: u64,
    devices: HashMap<(String, String), Arc<Placement>>,
}

/// Placements of devices, cached.
pub struct Placements {
    store: Arc<dyn Store>,
    registry: Registry,
    held: Mutex<Held>,
}

impl Placements {
    /// Placements read from `store`, invalidated by `registry`'s placement changes.
    pub fn new(store: Arc<dyn Store>, registry: Registry) -> Self {
        Placements {
            store,
            registry,
            held: Mutex::new(Held::default()),
        }
    }

    /// Where `device` of `tenant` sits; an unknown device has an empty placement.
    pub async fn of(&self, tenant: &str, device: &str) -> Arc<Placement> {
        let changes = self.registry.placement_changes();
        if let Some(placement) = self.cached(tenant, device, changes) {
            return placement;
        }
        let placement = Arc::new(self.look_up(tenant, device).await);
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.changes == changes && self.registry.placement_changes() == changes {
            if held.devices.len() >= MAX_CACHED_DEVICES {
                held.devices.clear();
            }
            held.devices
                .insert((tenant.to_owned(), device.to_owned()), placement.clone());
        }
        placement
    }

    fn cached(&self, tenant: &str, device: &str, changes: u64) -> Option<Arc<Placement>> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.changes != changes {
            held.devices.clear();
            held.changes = changes;
            return None;
        }
        held.devices
            .get(&(tenant.to_owned(), device.to_owned()))
            .cloned()
    }

    async fn look_up(&self, tenant: &str, device: &str) -> Placement {
        let Ok(device) = self.store.get_device(tenant, device).await else {
            return Placement::default();
        };
        let mut assets = Vec::new();
        let mut next = device.asset;
        while let Some(id) = next.take() {
            if assets.len() >= MAX_ASSET_DEPTH || assets.contains(&id) {
                break;
            }
            next = match self.store.get_asset(tenant, &id).await {
                Ok(asset) => asset.parent,
                Err(_) => None,
            };
            assets.push(id);
        }
        Placement {
            product: device.product,
            assets,
        }
    }

    /// Number of devices whose placement is held.
    pub fn len(&self) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .devices
            .len()
    }

    /// Whether no placement is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
