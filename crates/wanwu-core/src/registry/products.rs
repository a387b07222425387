//! Products: the thing models of a tenant.

use super::Registry;
use crate::clock::now_ms;
use crate::error::CoreError;
use crate::scope::Scope;
use std::sync::Arc;
use wanwu_model::entity::{ProductPatch, ProductRecord, check_retention_days};
use wanwu_model::thing::Product;
use wanwu_store::{Page, PageRequest};

impl Registry {
    /// Creates a product after validating its definition.
    pub async fn create_product(
        &self,
        scope: &Scope,
        product: Product,
    ) -> Result<ProductRecord, CoreError> {
        self.create_product_with_retention(scope, product, None)
            .await
    }

    /// Creates a product whose telemetry is kept `retention_days` (`None`: the platform's
    /// configuration), after validating both.
    pub async fn create_product_with_retention(
        &self,
        scope: &Scope,
        product: Product,
        retention_days: Option<u32>,
    ) -> Result<ProductRecord, CoreError> {
        scope.require_write()?;
        product.validate()?;
        check_retention_days(retention_days)?;
        let now = now_ms();
        let record = ProductRecord {
            tenant: scope.tenant.clone(),
            definition: product,
            retention_days,
            created_at: now,
            updated_at: now,
        };
        self.store.create_product(&scope.tenant, &record).await?;
        Ok(record)
    }

    /// A page of the tenant's products.
    pub async fn list_products(
        &self,
        scope: &Scope,
        page: &PageRequest,
    ) -> Result<Page<ProductRecord>, CoreError> {
        Ok(self.store.list_products(&scope.tenant, page).await?)
    }

    /// One product.
    pub async fn get_product(&self, scope: &Scope, id: &str) -> Result<ProductRecord, CoreError> {
        Ok(self.store.get_product(&scope.tenant, id).await?)
    }

    /// The product of a device in `tenant`, for the ingest path (no role check); cached in
    /// memory until the product changes.
    pub async fn product_of(&self, tenant: &str, product: &str) -> Result<Arc<Product>, CoreError> {
        self.products.get(tenant, product).await
    }

    /// Changes a product; the whole new definition is validated.
    pub async fn update_product(
        &self,
        scope: &Scope,
        id: &str,
        patch: ProductPatch,
    ) -> Result<ProductRecord, CoreError> {
        scope.require_write()?;
        let mut record = self.store.get_product(&scope.tenant, id).await?;
        let retention = patch.retention_days;
        record.definition = patch.apply(record.definition);
        record.definition.validate()?;
        if let Some(days) = retention {
            check_retention_days(days)?;
        }
        record.updated_at = now_ms();
        self.store
            .update_product(&scope.tenant, &record.definition, record.updated_at)
            .await?;
        if let Some(days) = retention {
            self.store
                .set_product_retention(&scope.tenant, id, days)
                .await?;
            record.retention_days = days;
        }
        self.products.forget(&scope.tenant, id);
        Ok(record)
    }

    /// Deletes a product no device uses.
    pub async fn delete_product(&self, scope: &Scope, id: &str) -> Result<(), CoreError> {
        scope.require_write()?;
        self.store.delete_product(&scope.tenant, id).await?;
        self.products.forget(&scope.tenant, id);
        Ok(())
    }
}
