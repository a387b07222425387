//! Devices: created one by one or in batches (all or nothing), each with a token returned
//! once; the store keeps its hash. Changes invalidate the authentication cache.

use super::Registry;
use crate::clock::now_ms;
use crate::error::CoreError;
use crate::scope::Scope;
use crate::token::{self, TokenKind};
use std::collections::HashSet;
use wanwu_model::ValidationErrors;
use wanwu_model::entity::{Device, DevicePatch, NewDevice};
use wanwu_store::{DeviceFilter, NewDeviceRecord, Page, PageRequest};

/// Most devices one batch may create.
pub const MAX_BATCH: usize = 1000;

/// A device with its token, shown this once.
#[derive(Clone, Debug)]
pub struct DeviceWithToken {
    /// The device.
    pub device: Device,
    /// Its token.
    pub token: String,
}

/// Path prefix of device `i` of a batch in errors.
fn batch_prefix(i: usize) -> String {
    format!("devices[{i}].")
}

/// Path prefix of a single device in errors.
fn single_prefix(_: usize) -> String {
    String::new()
}

impl Registry {
    /// Creates one device.
    pub async fn create_device(
        &self,
        scope: &Scope,
        input: NewDevice,
    ) -> Result<DeviceWithToken, CoreError> {
        let mut created = self
            .create_devices(scope, vec![input], &single_prefix)
            .await?;
        created
            .pop()
            .ok_or_else(|| CoreError::Internal("device batch of one created nothing".into()))
    }

    /// Creates up to [`MAX_BATCH`] devices, all or none; errors name `devices[i].field`.
    pub async fn create_device_batch(
        &self,
        scope: &Scope,
        inputs: Vec<NewDevice>,
    ) -> Result<Vec<DeviceWithToken>, CoreError> {
        if inputs.is_empty() || inputs.len() > MAX_BATCH {
            return Err(ValidationErrors::single(
                "devices",
                format!(
                    "a batch holds 1 to {MAX_BATCH} devices, got {}",
                    inputs.len()
                ),
            )
            .into());
        }
        self.create_devices(scope, inputs, &batch_prefix).await
    }

    async fn create_devices(
        &self,
        scope: &Scope,
        inputs: Vec<NewDevice>,
        prefix: &(dyn Fn(usize) -> String + Sync),
    ) -> Result<Vec<DeviceWithToken>, CoreError> {
        scope.require_write()?;
        let mut errors = ValidationErrors::default();
        let mut ids = HashSet::new();
        for (i, input) in inputs.iter().enumerate() {
            if let Err(e) = input.validate_at(prefix(i).trim_end_matches('.')) {
                errors.extend(e);
            }
            if let Some(id) = &input.id
                && !ids.insert(id.as_str())
            {
                errors.push(
                    format!("{}id", prefix(i)),
                    format!("duplicate id {id:?} in the batch"),
                );
            }
        }
        errors.into_result()?;
        let now = now_ms();
        let mut records = Vec::with_capacity(inputs.len());
        let mut tokens = Vec::with_capacity(inputs.len());
        for input in inputs {
            let id = input.id.unwrap_or_else(|| token::random_id("dev"));
            let secret = token::generate(TokenKind::Device);
            records.push(NewDeviceRecord {
                token_hash: token::hash(TokenKind::Device, &secret),
                device: Device {
                    name: input.name.unwrap_or_else(|| id.clone()),
                    id,
                    tenant: scope.tenant.clone(),
                    product: input.product,
                    tags: input.tags,
                    asset: input.asset,
                    location: input.location,
                    created_at: now,
                    updated_at: now,
                },
            });
            tokens.push(secret);
        }
        self.store
            .create_devices(&scope.tenant, &records, prefix)
            .await?;
        Ok(records
            .into_iter()
            .zip(tokens)
            .map(|(record, token)| DeviceWithToken {
                device: record.device,
                token,
            })
            .collect())
    }

    /// A page of the tenant's devices matching `filter`.
    pub async fn list_devices(
        &self,
        scope: &Scope,
        filter: &DeviceFilter,
        page: &PageRequest,
    ) -> Result<Page<Device>, CoreError> {
        Ok(self.store.list_devices(&scope.tenant, filter, page).await?)
    }

    /// One device.
    pub async fn get_device(&self, scope: &Scope, id: &str) -> Result<Device, CoreError> {
        Ok(self.store.get_device(&scope.tenant, id).await?)
    }

    /// Changes a device's name, tags, asset or location.
    pub async fn update_device(
        &self,
        scope: &Scope,
        id: &str,
        patch: DevicePatch,
    ) -> Result<Device, CoreError> {
        scope.require_write()?;
        patch.validate()?;
        let mut device = patch.apply(self.store.get_device(&scope.tenant, id).await?);
        device.updated_at = now_ms();
        self.store.update_device(&device).await?;
        self.auth.forget_device(&scope.tenant, id);
        self.placement_changed();
        Ok(device)
    }

    /// Gives a device a new token; the old one stops working at once.
    pub async fn rotate_device_token(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<DeviceWithToken, CoreError> {
        scope.require_write()?;
        let secret = token::generate(TokenKind::Device);
        self.store
            .set_device_token(&scope.tenant, id, &token::hash(TokenKind::Device, &secret))
            .await?;
        self.auth.forget_device(&scope.tenant, id);
        Ok(DeviceWithToken {
            device: self.store.get_device(&scope.tenant, id).await?,
            token: secret,
        })
    }

    /// Deletes a device; its token stops working at once.
    pub async fn delete_device(&self, scope: &Scope, id: &str) -> Result<(), CoreError> {
        scope.require_write()?;
        self.store.delete_device(&scope.tenant, id).await?;
        self.auth.forget_device(&scope.tenant, id);
        self.placement_changed();
        Ok(())
    }
}
