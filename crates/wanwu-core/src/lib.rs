//! The platform: device registry, ingest pipeline, twin, commands, rules and alarms.
//!
//! [`Platform`] is a struct of components, one module per job:
//! - [`auth`]: token secrets and their hashes, device and API-token authentication with an
//!   in-memory cache in front of the store;
//! - [`registry`]: tenants, API tokens, products, devices and assets, every operation scoped
//!   to a tenant and checked against the caller's role ([`scope`]);
//! - [`presence`]: which devices are connected and when they were last seen;
//! - [`bootstrap`]: what the first start creates (tenant `default`, the platform admin token);
//! - [`uplink`]: the one entry point for what devices send ([`Platform::handle_uplink`]);
//! - [`downlink`]: the way back down to devices through the broker, once it runs;
//! - [`commands`]: commands to devices, from send to reply or expiry;
//! - [`events`]: device events of the thing model, stored with the telemetry;
//! - [`mqtt`]: the broker hooks (authentication, topic ACL, device uplinks, presence);
//! - [`bus`]: notices of changes (events, presence, twin, alarms, commands) for live
//!   subscribers and rules; telemetry goes through the ingest [`fanout`].
//!
//! The ingest pipeline, twin, commands and rules join as further components.

pub mod alarms;
pub mod auth;
pub mod bootstrap;
pub mod bus;
pub mod clock;
pub mod commands;
pub mod downlink;
pub mod error;
pub mod events;
pub mod fanout;
pub mod ingest;
pub mod mqtt;
pub mod presence;
pub mod product_cache;
pub mod registry;
pub mod retention;
pub mod rules;
pub mod scope;
pub mod telemetry;
pub mod token;
pub mod twin;
pub mod uplink;

pub use auth::{ApiPrincipal, Auth, DevicePrincipal};
pub use bootstrap::{BootstrapOutcome, DEFAULT_TENANT, PLATFORM_ADMIN_TOKEN_ID};
pub use bus::{Bus, Notice, NoticeKind};
pub use downlink::{Downlink, DownlinkError};
pub use error::CoreError;
pub use ingest::{Ingest, IngestConfig, IngestError, IngestReceipt, TelemetryOptions};
pub use presence::{ConnectionDetails, OfflineReason, Presence, PresenceState};
pub use registry::Registry;
pub use scope::Scope;
pub use telemetry::Telemetry;
pub use twin::Twins;
pub use uplink::{DeviceUplink, Disposition, Refusal};
/// The embedded time-series engine telemetry is stored in.
pub use wanwu_tsdb as tsdb;

use std::path::Path;
use std::sync::Arc;
use wanwu_store::{SqliteStore, Store};

/// File name of the metadata database inside the data directory.
pub const METADATA_DB_FILE: &str = "metadata.db";
/// Directory of the time-series store inside the data directory.
pub const TSDB_DIR: &str = "tsdb";

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
    /// Messages to devices, through the broker once it is attached.
    pub downlink: Arc<Downlink>,
    /// The ingest pipeline: validated telemetry into the store, latest values, processors.
    pub ingest: Arc<Ingest>,
    /// Telemetry queries, exports and deletes.
    pub telemetry: Arc<Telemetry>,
    /// Alarms: raised, acknowledged, cleared; kept in the store.
    pub alarms: Arc<alarms::Alarms>,
    /// Rules and scenes: stored, compiled, evaluated off the ingest path.
    pub rules: Arc<rules::Rules>,
    /// Device twins: reported and desired state.
    pub twins: Arc<Twins>,
    /// Commands to devices: sent, queued, answered, expired; kept in the store.
    pub commands: Arc<commands::Commands>,
    /// Device events of the thing model, kept with the telemetry.
    pub events: Arc<events::Events>,
    /// Notices of events, presence, twin, alarm and command changes for live subscribers
    /// and rules.
    pub bus: Arc<Bus>,
    /// Telemetry retention per product, over the configuration's.
    pub retention: Arc<retention::ProductRetention>,
    tsdb: tsdb::Engine,
}

impl Platform {
    /// A platform on `store`, keeping telemetry in `tsdb`.
    pub fn new(store: Arc<dyn Store>, tsdb: tsdb::Engine, ingest: IngestConfig) -> Self {
        let auth = Arc::new(Auth::new(store.clone()));
        let registry = Registry::new(store.clone(), auth.clone());
        let ingest = Arc::new(Ingest::new(tsdb.clone(), registry.clone(), ingest));
        let downlink = Arc::new(Downlink::default());
        let bus = bus::new_bus();
        let twins = Arc::new(Twins::new(
            store.clone(),
            registry.clone(),
            downlink.clone(),
            bus.clone(),
        ));
        let presence = Arc::new(Presence::default());
        let commands = Arc::new(commands::Commands::new(
            store.clone(),
            registry.clone(),
            presence.clone(),
            downlink.clone(),
            bus.clone(),
        ));
        commands.start_sweep();
        let events = Arc::new(events::Events::new(
            tsdb.clone(),
            registry.clone(),
            bus.clone(),
            ingest.config().max_future_skew,
        ));
        Self::start_processors(&ingest, &twins);
        Platform {
            telemetry: Arc::new(Telemetry::new(
                tsdb.clone(),
                registry.clone(),
                ingest.clone(),
            )),
            alarms: Arc::new(alarms::Alarms::new(
                store.clone(),
                registry.clone(),
                bus.clone(),
            )),
            rules: Arc::new(rules::Rules::new(
                store.clone(),
                Arc::new(rules::directory::PlatformDirectory::new(
                    registry.clone(),
                    twins.clone(),
                )),
            )),
            ingest,
            retention: Arc::new(retention::ProductRetention::new(
                store.clone(),
                tsdb.clone(),
            )),
            tsdb,
            registry,
            store,
            auth,
            presence,
            downlink,
            twins,
            commands,
            events,
            bus,
        }
    }

    /// Starts the processors fed by ingest (the twin) on the current Tokio runtime; without
    /// a runtime they do not run and telemetry reaches only the store.
    fn start_processors(ingest: &Ingest, twins: &Arc<Twins>) {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let queue = ingest.fanout().subscribe("twin", twin::TELEMETRY_QUEUE);
                runtime.spawn(twins.clone().follow_telemetry(queue));
            }
            Err(_) => tracing::warn!("no async runtime: telemetry does not update twins"),
        }
    }

    /// A platform on the embedded stores in `data_dir` (created if missing), with the
    /// default telemetry options.
    pub async fn open(data_dir: &Path) -> Result<Self, CoreError> {
        Self::open_with(data_dir, TelemetryOptions::default()).await
    }

    /// A platform on the embedded stores in `data_dir` (created if missing): metadata in
    /// SQLite, telemetry in the time-series engine in `DATA/tsdb`.
    pub async fn open_with(data_dir: &Path, options: TelemetryOptions) -> Result<Self, CoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            CoreError::Internal(format!(
                "creating data directory {}: {e}",
                data_dir.display()
            ))
        })?;
        let store = SqliteStore::open(&data_dir.join(METADATA_DB_FILE)).await?;
        let tsdb_dir = data_dir.join(TSDB_DIR);
        let tsdb = tsdb::Engine::open(&tsdb_dir, options.tsdb)
            .await
            .map_err(|e| CoreError::Internal(format!("opening {}: {e}", tsdb_dir.display())))?;
        let report = tsdb.recovery_report();
        if !report.damage.is_empty() {
            tracing::warn!(
                ?report,
                "telemetry log damaged; kept everything before the damage"
            );
        }
        let platform = Self::new(Arc::new(store), tsdb, options.ingest);
        platform.retention.refresh().await?;
        platform.rules.start(&platform).await?;
        Ok(platform)
    }

    /// Validates and stores a telemetry payload of `device` (any of the three forms); returns
    /// once the points are durable in the write-ahead log. See [`ingest`].
    pub async fn ingest_telemetry(
        &self,
        device: &DevicePrincipal,
        payload: &[u8],
    ) -> Result<IngestReceipt, IngestError> {
        self.ingest.ingest(device, payload).await
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

    /// Stops the rule stage, finishes pending work and closes the stores (the time-series
    /// head is flushed).
    pub async fn shutdown(&self) {
        self.rules.stop().await;
        self.rules.flush_outcomes().await;
        if let Err(e) = self.tsdb.clone().close().await {
            tracing::error!(error = %e, "closing the time-series store");
        }
        self.store.close().await;
    }
}
