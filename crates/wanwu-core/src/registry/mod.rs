//! Tenants, API tokens, products, devices and assets: every operation is scoped to the
//! caller's tenant ([`Scope`]), checked against its role, validated, and one store
//! transaction. One module per entity.

mod assets;
mod devices;
mod products;
mod tenants;
mod tokens;

pub use devices::{DeviceWithToken, MAX_BATCH};
pub use tokens::CreatedApiToken;

use crate::auth::{ApiPrincipal, Auth};
use crate::error::CoreError;
use crate::product_cache::ProductCache;
use crate::scope::Scope;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wanwu_store::Store;

/// The registry of a platform.
#[derive(Clone)]
pub struct Registry {
    store: Arc<dyn Store>,
    auth: Arc<Auth>,
    products: Arc<ProductCache>,
    placement_changes: Arc<AtomicU64>,
}

impl Registry {
    /// A registry on `store`, invalidating `auth`'s caches and its product cache on changes.
    pub fn new(store: Arc<dyn Store>, auth: Arc<Auth>) -> Self {
        Registry {
            products: Arc::new(ProductCache::new(store.clone())),
            store,
            auth,
            placement_changes: Arc::default(),
        }
    }

    /// A counter that grows whenever a device moves to another asset, an asset moves in the
    /// tree, or either is deleted: caches of where devices sit compare it to drop what they
    /// hold.
    pub fn placement_changes(&self) -> u64 {
        self.placement_changes.load(Ordering::Acquire)
    }

    fn placement_changed(&self) {
        self.placement_changes.fetch_add(1, Ordering::AcqRel);
    }

    /// The scope `principal` acts in: its own tenant, or `requested` when that differs and
    /// the principal is the platform admin (the tenant must exist). Anyone else naming
    /// another tenant is refused.
    pub async fn scope(
        &self,
        principal: ApiPrincipal,
        requested: Option<&str>,
    ) -> Result<Scope, CoreError> {
        match requested {
            Some(tenant) if tenant != principal.tenant => {
                if !principal.platform_admin {
                    return Err(CoreError::Forbidden(
                        "only the platform admin may act for another tenant".into(),
                    ));
                }
                self.store.get_tenant(tenant).await?;
                Ok(Scope {
                    tenant: tenant.to_owned(),
                    principal,
                })
            }
            _ => Ok(Scope::own(principal)),
        }
    }
}
