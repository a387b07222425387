//! The device twin: what each device reported, what applications want it to be, and the
//! difference between the two ([`document`] holds the rules).
//!
//! Reported values come from shadow reports (`devices/{id}/shadow/reported`) and from
//! telemetry (the ingest fan-out, processor `twin`); desired values from
//! `PATCH /devices/{id}/shadow/desired` (JSON merge patch on read_write properties,
//! optionally conditional on the version). Every change is written to the metadata store
//! before it is acknowledged, so the twin survives a restart; documents are kept in memory
//! once read, behind one lock per device, so concurrent updates of a device never lose one
//! another.
//!
//! The device hears of desired changes on `devices/{id}/shadow/delta` (`{"delta", "version"}`)
//! when they happen and when it connects (a device with a clean session subscribes after
//! connecting: it asks with `devices/{id}/shadow/get` and gets the whole twin on
//! `devices/{id}/shadow`).
//!
//! Every stored change is published on the platform [`Bus`] as a
//! [`NoticeKind::Twin`](crate::bus::NoticeKind::Twin)
//! notice whose body is a [`TwinChange`] (changed keys, version, delta).

pub mod document;
pub mod notice;

pub use document::{KeyMetadata, TwinDocument, TwinMetadata, TwinView};
pub use notice::TwinChange;

use crate::auth::DevicePrincipal;
use crate::bus::Bus;
use crate::clock::now_ms;
use crate::downlink::Downlink;
use crate::error::CoreError;
use crate::ingest::Ingested;
use crate::registry::Registry;
use crate::scope::Scope;
use dashmap::DashMap;
use serde_json::{Value as Json, json};
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc};
use wanwu_model::ValidationErrors;
use wanwu_store::{Store, TwinRecord};

/// Suffix of the topic carrying the delta to the device.
pub const DELTA_TOPIC: &str = "shadow/delta";
/// Suffix of the topic answering `shadow/get`.
pub const SHADOW_TOPIC: &str = "shadow";
/// Capacity of the twin's queue of telemetry batches from ingest.
pub const TELEMETRY_QUEUE: usize = 4096;

/// Why a twin operation failed; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum TwinError {
    /// Not found, invalid, forbidden, or the store failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// `If-Match` named another version than the twin's.
    #[error("the twin is at version {actual}, not {expected}")]
    VersionMismatch {
        /// The version the caller expected.
        expected: u64,
        /// The twin's version.
        actual: u64,
    },
}

type Slot = Arc<Mutex<Option<TwinDocument>>>;

/// The twins of every device.
pub struct Twins {
    store: Arc<dyn Store>,
    registry: Registry,
    downlink: Arc<Downlink>,
    bus: Arc<Bus>,
    slots: DashMap<(String, String), Slot>,
}

impl Twins {
    /// Twins kept in `store`, validated against `registry`'s products, sent through
    /// `downlink`, their changes published on `bus`.
    pub fn new(
        store: Arc<dyn Store>,
        registry: Registry,
        downlink: Arc<Downlink>,
        bus: Arc<Bus>,
    ) -> Self {
        Twins {
            store,
            registry,
            downlink,
            bus,
            slots: DashMap::new(),
        }
    }

    /// The twin of device `id` in the caller's tenant.
    pub async fn get(&self, scope: &Scope, id: &str) -> Result<TwinView, CoreError> {
        self.registry.get_device(scope, id).await?;
        Ok(self.read(&scope.tenant, id).await?.view())
    }

    /// Applies a merge patch to the desired state of device `id`: keys must be read_write
    /// properties, values valid, `null` deletes. With `if_match`, the twin must be at that
    /// version. The device gets the delta when a value changed.
    pub async fn patch_desired(
        &self,
        scope: &Scope,
        id: &str,
        patch: &Json,
        if_match: Option<u64>,
    ) -> Result<TwinView, TwinError> {
        scope.require_write()?;
        let device = self.registry.get_device(scope, id).await?;
        let product = self
            .registry
            .product_of(&scope.tenant, &device.product)
            .await?;
        let patch = document::validate_desired(&product, patch).map_err(CoreError::Invalid)?;
        let (changed, twin) = self
            .update(&scope.tenant, id, |twin| {
                if let Some(expected) = if_match
                    && expected != twin.version
                {
                    return Err(TwinError::VersionMismatch {
                        expected,
                        actual: twin.version,
                    });
                }
                Ok(twin.patch_desired(&patch, now_ms()))
            })
            .await?;
        if changed {
            metrics::counter!("wanwu_twin_updates_total", "side" => "desired").increment(1);
            self.send_delta(&scope.tenant, id, &twin).await;
        }
        Ok(twin.view())
    }

    /// Records a shadow report (a JSON object of property values) of `device`.
    pub async fn report(&self, device: &DevicePrincipal, payload: &[u8]) -> Result<(), CoreError> {
        let json: Json = serde_json::from_slice(payload)
            .map_err(|e| ValidationErrors::single("", format!("not JSON: {e}")))?;
        let product = self
            .registry
            .product_of(&device.tenant, &device.product)
            .await?;
        let values = document::validate_reported(&product, &json)?;
        let ts = now_ms();
        let (changed, _) = self
            .update(&device.tenant, &device.device, |twin| {
                Ok(twin.report(values.iter().map(|(k, v)| (k.as_str(), v.clone(), ts))))
            })
            .await
            .map_err(|e| match e {
                TwinError::Core(e) => e,
                other => CoreError::Internal(other.to_string()),
            })?;
        if changed {
            metrics::counter!("wanwu_twin_updates_total", "side" => "reported").increment(1);
        }
        Ok(())
    }

    /// Records the values of stored telemetry as reported state.
    pub async fn record_telemetry(&self, batch: &Ingested) {
        let values = batch.points.iter().flat_map(|point| {
            point
                .values
                .iter()
                .map(|(k, v)| (k.as_str(), document::canonical(v), point.ts))
        });
        let values: Vec<_> = values.collect();
        let outcome = self
            .update(&batch.tenant, &batch.device, |twin| Ok(twin.report(values)))
            .await;
        match outcome {
            Ok((true, _)) => {
                metrics::counter!("wanwu_twin_updates_total", "side" => "reported").increment(1)
            }
            Ok((false, _)) => {}
            Err(error) => {
                metrics::counter!("wanwu_twin_update_failures_total").increment(1);
                tracing::debug!(%error, device = %batch.device, "telemetry not recorded in the twin");
            }
        }
    }

    /// Feeds telemetry batches from ingest into the twins until the queue closes.
    pub async fn follow_telemetry(self: Arc<Self>, mut queue: mpsc::Receiver<Arc<Ingested>>) {
        while let Some(batch) = queue.recv().await {
            self.record_telemetry(&batch).await;
        }
    }

    /// Answers `devices/{id}/shadow/get`: the whole twin on `devices/{id}/shadow`.
    pub async fn answer_get(&self, device: &DevicePrincipal) -> Result<(), CoreError> {
        let twin = self.read(&device.tenant, &device.device).await?;
        let body = serde_json::to_value(twin.view())
            .map_err(|e| CoreError::Internal(format!("twin as JSON: {e}")))?;
        self.publish(&device.tenant, &device.device, SHADOW_TOPIC, &body)
            .await;
        Ok(())
    }

    /// Sends the delta to a device that just connected, if there is one, from a task.
    pub fn send_delta_on_connect(self: &Arc<Self>, tenant: String, device: String) {
        let twins = self.clone();
        tokio::spawn(async move {
            match twins.read(&tenant, &device).await {
                Ok(twin) => twins.send_delta(&tenant, &device, &twin).await,
                Err(error) => tracing::warn!(%error, device, "twin not read on connect"),
            }
        });
    }

    /// Forgets the twin of a deleted device (the store deletes it with the device).
    pub fn forget(&self, tenant: &str, device: &str) {
        self.slots.remove(&(tenant.to_owned(), device.to_owned()));
    }

    async fn send_delta(&self, tenant: &str, device: &str, twin: &TwinDocument) {
        let delta = twin.delta();
        if !delta.is_empty() {
            let body = json!({"delta": delta, "version": twin.version});
            self.publish(tenant, device, DELTA_TOPIC, &body).await;
        }
    }

    async fn publish(&self, tenant: &str, device: &str, suffix: &str, body: &Json) {
        if let Err(error) = self
            .downlink
            .publish_to_device(tenant, device, suffix, body)
            .await
        {
            metrics::counter!("wanwu_twin_downlink_failures_total").increment(1);
            tracing::debug!(%error, device, suffix, "twin message not sent");
        }
    }

    fn slot(&self, tenant: &str, device: &str) -> Slot {
        self.slots
            .entry((tenant.to_owned(), device.to_owned()))
            .or_default()
            .clone()
    }

    async fn load(&self, tenant: &str, device: &str) -> Result<TwinDocument, CoreError> {
        match self.store.get_twin(tenant, device).await? {
            None => Ok(TwinDocument::default()),
            Some(record) => serde_json::from_str(&record.document).map_err(|e| {
                CoreError::Internal(format!("stored twin of {device} is damaged: {e}"))
            }),
        }
    }

    /// A copy of the device's twin.
    async fn read(&self, tenant: &str, device: &str) -> Result<TwinDocument, CoreError> {
        let slot = self.slot(tenant, device);
        let mut held = slot.lock().await;
        if held.is_none() {
            *held = Some(self.load(tenant, device).await?);
        }
        Ok(held.clone().unwrap_or_default())
    }

    /// Runs `change` on a copy of the twin under the device's lock; when it reports a change,
    /// stores the copy, publishes the change on the bus and only then keeps it. Returns
    /// whether it changed and the twin after.
    async fn update(
        &self,
        tenant: &str,
        device: &str,
        change: impl FnOnce(&mut TwinDocument) -> Result<bool, TwinError>,
    ) -> Result<(bool, TwinDocument), TwinError> {
        let slot = self.slot(tenant, device);
        let mut held = slot.lock().await;
        let loaded;
        let before = match held.as_ref() {
            Some(twin) => twin,
            None => {
                loaded = self.load(tenant, device).await?;
                &loaded
            }
        };
        let mut twin = before.clone();
        let changed = change(&mut twin)?;
        if changed {
            let record = TwinRecord {
                version: twin.version,
                document: serde_json::to_string(&twin)
                    .map_err(|e| CoreError::Internal(format!("twin as JSON: {e}")))?,
            };
            self.store
                .put_twin(tenant, device, &record)
                .await
                .map_err(CoreError::from)?;
            if self.bus.processors() > 0 {
                let notice =
                    TwinChange::between(before, &twin).into_notice(tenant, device, now_ms());
                self.bus.publish(Arc::new(notice));
            }
        }
        // Times of repeated values are kept in memory only; values are stored first.
        *held = Some(twin.clone());
        Ok((changed, twin))
    }
}
