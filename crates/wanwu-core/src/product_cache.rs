//! Products by (tenant, id) in memory, for the ingest path: every telemetry payload is checked
//! against its device's product, which must not cost a store read.
//!
//! The registry drops an entry when it changes or deletes the product (a tenant is deleted
//! only when empty, so it leaves no products behind). A generation counter keeps a load that raced with such an
//! invalidation from caching what it read before the change.

use crate::error::CoreError;
use dashmap::DashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wanwu_model::thing::Product;
use wanwu_store::Store;

/// Cache of product definitions in front of the store.
pub struct ProductCache {
    store: Arc<dyn Store>,
    products: DashMap<(String, String), Arc<Product>>,
    generation: AtomicU64,
}

impl ProductCache {
    /// An empty cache in front of `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        ProductCache {
            store,
            products: DashMap::new(),
            generation: AtomicU64::new(0),
        }
    }

    /// The product `id` of `tenant`, from memory or else from the store.
    pub async fn get(&self, tenant: &str, id: &str) -> Result<Arc<Product>, CoreError> {
        let key = (tenant.to_owned(), id.to_owned());
        if let Some(product) = self.products.get(&key) {
            return Ok(product.clone());
        }
        let generation = self.generation.load(Ordering::Acquire);
        let product = Arc::new(self.store.get_product(tenant, id).await?.definition);
        self.products.insert(key.clone(), product.clone());
        if self.generation.load(Ordering::Acquire) != generation {
            self.products.remove(&key);
        }
        Ok(product)
    }

    /// Drops the cached definition of product `id` of `tenant`; call after the store changed it.
    pub fn forget(&self, tenant: &str, id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.products.remove(&(tenant.to_owned(), id.to_owned()));
    }
}
