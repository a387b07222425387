//! Telemetry retention per product: the configuration's policy with each product's own
//! `retention_days` over it, handed to the time-series engine, whose sweep (every 10 s) drops
//! whole partitions of the product's devices once they are older.
//!
//! Precedence, most specific first: the product's `retention_days` (product API); the
//! configuration's `[tsdb.product_retention_days]`, `"TENANT/PRODUCT"` then `"PRODUCT"`; the
//! configuration's `retention_days`; else telemetry is kept forever.

use crate::error::CoreError;
use std::sync::Arc;
use std::time::Duration;
use wanwu_store::Store;
use wanwu_tsdb::{Engine, Retention};

/// Keeps the engine's retention in step with the products' `retention_days`.
pub struct ProductRetention {
    /// The configuration's policy, before any product's own retention.
    configured: Retention,
    store: Arc<dyn Store>,
    tsdb: Engine,
    /// One refresh at a time, so an older list of products never wins over a newer one.
    refresh: tokio::sync::Mutex<()>,
}

impl ProductRetention {
    /// Starts from the retention `tsdb` was opened with (the configuration's).
    pub fn new(store: Arc<dyn Store>, tsdb: Engine) -> Self {
        Self {
            configured: tsdb.retention(),
            store,
            tsdb,
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// Reads every product's retention from the store and hands the combined policy to the
    /// engine; call after a product's retention changed.
    pub async fn refresh(&self) -> Result<(), CoreError> {
        let _one_at_a_time = self.refresh.lock().await;
        let products = self.store.product_retentions().await?;
        self.tsdb
            .set_retention(with_products(&self.configured, &products));
        Ok(())
    }
}

/// `configured` with each product's own retention (tenant, product, days) over it.
pub fn with_products(configured: &Retention, products: &[(String, String, u32)]) -> Retention {
    let mut retention = configured.clone();
    for (tenant, product, days) in products {
        retention.groups.insert(
            (tenant.clone(), product.clone()),
            Duration::from_secs(u64::from(*days) * 86_400),
        );
    }
    retention
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_products_own_retention_wins_over_the_configuration() {
        let day = |d: u64| Duration::from_secs(d * 86_400);
        let mut configured = Retention {
            default: Some(day(365)),
            ..Retention::default()
        };
        configured
            .groups_in_all_tenants
            .insert("aq".into(), day(30));
        configured
            .groups
            .insert(("t2".into(), "aq".into()), day(90));
        let combined = with_products(
            &configured,
            &[("t1".into(), "aq".into(), 7), ("t2".into(), "aq".into(), 2)],
        );
        assert_eq!(combined.of("t1", "aq"), Some(day(7)));
        assert_eq!(combined.of("t2", "aq"), Some(day(2)));
        assert_eq!(combined.of("t3", "aq"), Some(day(30)));
        assert_eq!(combined.of("t1", "other"), Some(day(365)));
    }
}
