//! Assets: the tenant's tree of places and things, and the devices under a subtree.

use super::Registry;
use crate::clock::now_ms;
use crate::error::CoreError;
use crate::scope::Scope;
use wanwu_model::entity::{Asset, AssetPatch, Device, NewAsset};
use wanwu_store::{AssetFilter, Page, PageRequest};

impl Registry {
    /// Creates an asset under an existing parent (or as a root).
    pub async fn create_asset(&self, scope: &Scope, input: NewAsset) -> Result<Asset, CoreError> {
        scope.require_write()?;
        input.validate()?;
        let now = now_ms();
        let asset = Asset {
            id: input.id,
            tenant: scope.tenant.clone(),
            parent: input.parent,
            name: input.name,
            kind: input.kind,
            location: input.location,
            created_at: now,
            updated_at: now,
        };
        self.store.create_asset(&asset).await?;
        Ok(asset)
    }

    /// A page of the tenant's assets matching `filter`.
    pub async fn list_assets(
        &self,
        scope: &Scope,
        filter: &AssetFilter,
        page: &PageRequest,
    ) -> Result<Page<Asset>, CoreError> {
        Ok(self.store.list_assets(&scope.tenant, filter, page).await?)
    }

    /// One asset.
    pub async fn get_asset(&self, scope: &Scope, id: &str) -> Result<Asset, CoreError> {
        Ok(self.store.get_asset(&scope.tenant, id).await?)
    }

    /// Changes an asset; moving it below itself is refused.
    pub async fn update_asset(
        &self,
        scope: &Scope,
        id: &str,
        patch: AssetPatch,
    ) -> Result<Asset, CoreError> {
        scope.require_write()?;
        patch.validate()?;
        let mut asset = patch.apply(self.store.get_asset(&scope.tenant, id).await?);
        asset.updated_at = now_ms();
        self.store.update_asset(&asset).await?;
        self.placement_changed();
        Ok(asset)
    }

    /// Deletes an asset without children or devices.
    pub async fn delete_asset(&self, scope: &Scope, id: &str) -> Result<(), CoreError> {
        scope.require_write()?;
        self.store.delete_asset(&scope.tenant, id).await?;
        self.placement_changed();
        Ok(())
    }

    /// A page of the devices under the asset or anywhere below it.
    pub async fn devices_under_asset(
        &self,
        scope: &Scope,
        id: &str,
        page: &PageRequest,
    ) -> Result<Page<Device>, CoreError> {
        Ok(self
            .store
            .list_devices_in_subtree(&scope.tenant, id, page)
            .await?)
    }
}
