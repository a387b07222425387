//! Authentication of devices and API tokens, with an in-memory cache in front of the store.
//!
//! Lookups go by token hash, which is globally unique: an MQTT username (the device id)
//! carries no tenant, so the hash finds the device and the id must then match. The caches
//! map token hashes to principals; registry changes invalidate them (device update, delete
//! and token rotation; API token change and deletion; tenant deletion). A generation counter
//! keeps a lookup that raced with an invalidation from caching what it read before.

use crate::token::{self, MAX_TOKEN_LEN, TokenKind};
use dashmap::DashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wanwu_model::entity::Role;
use wanwu_store::{Store, TokenHash};

/// An authenticated device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevicePrincipal {
    /// Tenant of the device.
    pub tenant: String,
    /// Device id.
    pub device: String,
    /// Product of the device.
    pub product: String,
}

/// An authenticated API token holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiPrincipal {
    /// Tenant the token belongs to.
    pub tenant: String,
    /// What the token may do.
    pub role: Role,
    /// Id of the token.
    pub token_id: String,
    /// True for the platform admin: manages tenants and may act for any tenant.
    pub platform_admin: bool,
}

/// Authenticates devices and API tokens; owns the caches.
pub struct Auth {
    store: Arc<dyn Store>,
    devices: DashMap<TokenHash, DevicePrincipal>,
    device_hashes: DashMap<(String, String), TokenHash>,
    api_tokens: DashMap<TokenHash, ApiPrincipal>,
    generation: AtomicU64,
}

impl Auth {
    /// Authentication backed by `store`, with empty caches.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Auth {
            store,
            devices: DashMap::new(),
            device_hashes: DashMap::new(),
            api_tokens: DashMap::new(),
            generation: AtomicU64::new(0),
        }
    }

    /// The device whose id is `device_id` and whose token is `token`, or `None`.
    pub async fn authenticate_device(
        &self,
        device_id: &str,
        token: &str,
    ) -> Option<DevicePrincipal> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let hash = token::hash(TokenKind::Device, token);
        let principal = match self.devices.get(&hash) {
            Some(cached) => {
                metrics::counter!("wanwu_auth_device_total", "source" => "cache").increment(1);
                cached.clone()
            }
            None => {
                metrics::counter!("wanwu_auth_device_total", "source" => "store").increment(1);
                self.load_device(&hash).await?
            }
        };
        if principal.device == device_id {
            Some(principal)
        } else {
            metrics::counter!("wanwu_auth_device_denied_total").increment(1);
            None
        }
    }

    /// The device of `hash` from the store, cached unless an invalidation raced with it.
    async fn load_device(&self, hash: &TokenHash) -> Option<DevicePrincipal> {
        let generation = self.generation.load(Ordering::Acquire);
        let found = match self.store.find_device_by_token(hash).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "device authentication lookup failed");
                None
            }
        };
        let Some(found) = found.filter(|f| token::hashes_equal(&f.token_hash, hash)) else {
            metrics::counter!("wanwu_auth_device_denied_total").increment(1);
            return None;
        };
        let principal = DevicePrincipal {
            tenant: found.tenant,
            device: found.device,
            product: found.product,
        };
        let key = (principal.tenant.clone(), principal.device.clone());
        self.devices.insert(*hash, principal.clone());
        self.device_hashes.insert(key.clone(), *hash);
        if self.generation.load(Ordering::Acquire) != generation {
            self.devices.remove(hash);
            self.device_hashes.remove(&key);
        }
        Some(principal)
    }

    /// Who holds the API token `token`, or `None`.
    pub async fn authenticate_api_token(&self, token: &str) -> Option<ApiPrincipal> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let hash = token::hash(TokenKind::Api, token);
        if let Some(cached) = self.api_tokens.get(&hash) {
            return Some(cached.clone());
        }
        let generation = self.generation.load(Ordering::Acquire);
        let found = match self.store.find_api_token(&hash).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "API token lookup failed");
                None
            }
        };
        let record = found.filter(|r| token::hashes_equal(&r.hash, &hash))?;
        let principal = ApiPrincipal {
            tenant: record.token.tenant,
            role: record.token.role,
            token_id: record.token.id,
            platform_admin: record.token.platform_admin,
        };
        self.api_tokens.insert(hash, principal.clone());
        if self.generation.load(Ordering::Acquire) != generation {
            self.api_tokens.remove(&hash);
        }
        Some(principal)
    }

    /// Drops the cached credentials of a device; call after the store changed it.
    pub fn forget_device(&self, tenant: &str, device: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Some((_, hash)) = self
            .device_hashes
            .remove(&(tenant.to_owned(), device.to_owned()))
        {
            self.devices.remove(&hash);
        }
    }

    /// Drops a cached API token; call after the store changed or deleted it.
    pub fn forget_api_token(&self, token_id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.api_tokens.retain(|_, p| p.token_id != token_id);
    }

    /// Drops every cached API token of a tenant; call after the tenant was deleted.
    pub fn forget_tenant(&self, tenant: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.api_tokens.retain(|_, p| p.tenant != tenant);
        self.device_hashes.retain(|(t, _), hash| {
            let keep = t != tenant;
            if !keep {
                self.devices.remove(hash);
            }
            keep
        });
    }

    /// Number of cached device credentials.
    pub fn cached_devices(&self) -> usize {
        self.devices.len()
    }
}
