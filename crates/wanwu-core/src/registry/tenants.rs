//! Tenants: managed by the platform admin only.

use super::Registry;
use crate::clock::now_ms;
use crate::error::CoreError;
use crate::scope::Scope;
use wanwu_model::entity::{NewTenant, Tenant, TenantPatch};
use wanwu_store::{Page, PageRequest};

impl Registry {
    /// Creates a tenant.
    pub async fn create_tenant(
        &self,
        scope: &Scope,
        input: NewTenant,
    ) -> Result<Tenant, CoreError> {
        scope.require_platform_admin()?;
        input.validate()?;
        let now = now_ms();
        let tenant = Tenant {
            id: input.id,
            name: input.name,
            created_at: now,
            updated_at: now,
        };
        self.store.create_tenant(&tenant).await?;
        Ok(tenant)
    }

    /// A page of tenants.
    pub async fn list_tenants(
        &self,
        scope: &Scope,
        page: &PageRequest,
    ) -> Result<Page<Tenant>, CoreError> {
        scope.require_platform_admin()?;
        Ok(self.store.list_tenants(page).await?)
    }

    /// One tenant.
    pub async fn get_tenant(&self, scope: &Scope, id: &str) -> Result<Tenant, CoreError> {
        scope.require_platform_admin()?;
        Ok(self.store.get_tenant(id).await?)
    }

    /// Changes a tenant.
    pub async fn update_tenant(
        &self,
        scope: &Scope,
        id: &str,
        patch: TenantPatch,
    ) -> Result<Tenant, CoreError> {
        scope.require_platform_admin()?;
        patch.validate()?;
        let mut tenant = self.store.get_tenant(id).await?;
        if let Some(name) = patch.name {
            tenant.name = name;
        }
        tenant.updated_at = now_ms();
        self.store.update_tenant(&tenant).await?;
        Ok(tenant)
    }

    /// Deletes an empty tenant and its API tokens.
    pub async fn delete_tenant(&self, scope: &Scope, id: &str) -> Result<(), CoreError> {
        scope.require_platform_admin()?;
        self.store.delete_tenant(id).await?;
        self.auth.forget_tenant(id);
        Ok(())
    }
}
