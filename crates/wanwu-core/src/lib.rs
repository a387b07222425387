//! The platform: device registry, ingest pipeline, twin, commands, rules and alarms.
//!
//! [`Platform`] is a struct of components, one module per job:
//! - [`auth`]: token secrets and their hashes, device and API-token authentication with an
//!   in-memory cache in front of the store;
//! - [`registry`]: tenants, API tokens, products, devices and assets, every operation scoped
//!   to a tenant and checked against the caller's role ([`scope`]);
//! - [`presence`]: which devices are connected and when they were last seen;
//! - [`bootstrap`]: what the first start creates (tenant `default`, the platform admin token).
//!
//! The ingest pipeline, twin, commands and rules join as further components.

pub mod auth;
pub mod bootstrap;
pub mod clock;
pub mod error;
pub mod presence;
pub mod registry;
pub mod scope;
pub mod token;

pub use auth::{ApiPrincipal, Auth, DevicePrincipal};
pub use bootstrap::{BootstrapOutcome, DEFAULT_TENANT, PLATFORM_ADMIN_TOKEN_ID};
pub use error::CoreError;
pub use presence::{Presence, PresenceState};
pub use registry::Registry;
pub use scope::Scope;

use std::path::Path;
use std::sync::Arc;
use wanwu_store::{SqliteStore, Store};

/// File name of the metadata database inside the data directory.
pub const METADATA_DB_FILE: &str = "metadata.db";

/// The running platform: its components share one metadata store.
#[derive(Clone)]
pub struct Platform {
    /// The metadata store.
    pub store: Arc<dyn Store>,
    /// Authentication of devices and API tokens.
    pub auth: Arc<Auth>,
    /// Tenants, tokens, products, devices and assets.
    pub registry: Registry,
    /// Connection state of devices.
    pub presence: Arc<Presence>,
}

impl Platform {
    /// A platform on `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        let auth = Arc::new(Auth::new(store.clone()));
        Platform {
            registry: Registry::new(store.clone(), auth.clone()),
            store,
            auth,
            presence: Arc::new(Presence::default()),
        }
    }

    /// A platform on the embedded SQLite store in `data_dir` (created if missing).
    pub async fn open(data_dir: &Path) -> Result<Self, CoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            CoreError::Internal(format!(
                "creating data directory {}: {e}",
                data_dir.display()
            ))
        })?;
        let store = SqliteStore::open(&data_dir.join(METADATA_DB_FILE)).await?;
        Ok(Self::new(Arc::new(store)))
    }

    /// Device authentication for MQTT CONNECT and HTTP ingest: the device whose id is
    /// `device_id` and whose token is `token`, or `None`.
    pub async fn authenticate_device(
        &self,
        device_id: &str,
        token: &str,
    ) -> Option<DevicePrincipal> {
        self.auth.authenticate_device(device_id, token).await
    }

    /// API authentication: who holds `token`, or `None`.
    pub async fn authenticate_api_token(&self, token: &str) -> Option<ApiPrincipal> {
        self.auth.authenticate_api_token(token).await
    }

    /// Finishes pending work and closes the store.
    pub async fn shutdown(&self) {
        self.store.close().await;
    }
}
