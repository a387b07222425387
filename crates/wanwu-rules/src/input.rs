//! What the platform feeds the engine: inputs (messages, twin and alarm changes), and the
//! directory the engine asks about devices and twins.

use crate::alarm::Alarm;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use wanwu_model::{Message, MessageKind, Value};

/// What an input is about; message triggers choose among these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// Telemetry values.
    Telemetry,
    /// A thing-model event; `values` are its parameters.
    Event,
    /// The device connected or disconnected; `values` is `{"online": bool}`.
    Presence,
    /// The device's twin changed; `values` are the changed keys.
    Twin,
    /// An alarm of the device changed (alarm triggers only).
    Alarm,
}

/// One thing that happened to a device, as the rule engine sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Tenant of the device.
    pub tenant: String,
    /// Device id.
    pub device: String,
    /// What it is about.
    pub kind: InputKind,
    /// Time of the values, ms since the Unix epoch.
    pub ts: i64,
    /// Values by key.
    #[serde(default)]
    pub values: BTreeMap<String, Value>,
    /// Name of the event, for events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The alarm after the change, for alarm changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<Box<Alarm>>,
    /// How many rule actions led to this input: 0 for what a device sent; an action planned
    /// while handling an input of `hops` h carries h + 1 (see [`crate::engine`]).
    #[serde(default)]
    pub hops: u8,
}

impl Input {
    /// A telemetry input.
    pub fn telemetry(
        tenant: impl Into<String>,
        device: impl Into<String>,
        ts: i64,
        values: BTreeMap<String, Value>,
    ) -> Input {
        Input {
            tenant: tenant.into(),
            device: device.into(),
            kind: InputKind::Telemetry,
            ts,
            values,
            event: None,
            alarm: None,
            hops: 0,
        }
    }

    /// The input of a validated message, or `None` for kinds rules do not see (command
    /// replies). A shadow report becomes a twin change. `hops` is the message's hop count.
    pub fn from_message(message: &Message, hops: u8) -> Option<Input> {
        let kind = match message.kind {
            MessageKind::Telemetry => InputKind::Telemetry,
            MessageKind::Event => InputKind::Event,
            MessageKind::ShadowReport => InputKind::Twin,
            MessageKind::Presence => InputKind::Presence,
            MessageKind::CommandReply => return None,
        };
        Some(Input {
            tenant: message.tenant.clone(),
            device: message.device.clone(),
            kind,
            ts: message.ts,
            values: message.values.clone(),
            event: None,
            alarm: None,
            hops,
        })
    }

    /// The input of an alarm change, on the alarm's device.
    pub fn alarm_change(alarm: Alarm, ts: i64, hops: u8) -> Input {
        Input {
            tenant: alarm.tenant.clone(),
            device: alarm.device.clone(),
            kind: InputKind::Alarm,
            ts,
            values: BTreeMap::new(),
            event: None,
            alarm: Some(Box::new(alarm)),
            hops,
        }
    }
}

/// What rules may know about a device.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceInfo {
    /// Device id.
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// Product id.
    pub product: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Free attributes.
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// The device's asset and every ancestor of it, nearest first (empty without an asset).
    #[serde(default)]
    pub assets: Vec<String>,
}

/// A device's twin: what it reported and what is desired.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwinSnapshot {
    /// Reported state.
    #[serde(default)]
    pub reported: serde_json::Map<String, serde_json::Value>,
    /// Desired state.
    #[serde(default)]
    pub desired: serde_json::Map<String, serde_json::Value>,
}

/// Where the engine looks devices and twins up; the platform implements it over its registry
/// cache and twin store. Calls are made on the evaluation workers and must not block long.
pub trait Directory: Send + Sync + 'static {
    /// The device, with its asset ancestors, or `None` when unknown.
    fn device(&self, tenant: &str, device: &str) -> Option<Arc<DeviceInfo>>;
    /// The device's twin, or `None` when it has none. Asked only by rules that use `twin`.
    fn twin(&self, tenant: &str, device: &str) -> Option<TwinSnapshot>;
}

/// Entries by tenant, then by device: looked up without building a key.
type Nested<T> = HashMap<String, HashMap<String, T>>;

/// A [`Directory`] kept in memory: for embedding, tests and benchmarks.
#[derive(Default)]
pub struct MemoryDirectory {
    devices: RwLock<Nested<Arc<DeviceInfo>>>,
    twins: RwLock<Nested<TwinSnapshot>>,
}

impl MemoryDirectory {
    /// Adds or replaces a device.
    pub fn put_device(&self, device: DeviceInfo) {
        write(&self.devices)
            .entry(device.tenant.clone())
            .or_default()
            .insert(device.id.clone(), Arc::new(device));
    }

    /// Sets a device's twin.
    pub fn put_twin(&self, tenant: &str, device: &str, twin: TwinSnapshot) {
        write(&self.twins)
            .entry(tenant.to_owned())
            .or_default()
            .insert(device.to_owned(), twin);
    }
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Directory for MemoryDirectory {
    fn device(&self, tenant: &str, device: &str) -> Option<Arc<DeviceInfo>> {
        read(&self.devices).get(tenant)?.get(device).cloned()
    }

    fn twin(&self, tenant: &str, device: &str) -> Option<TwinSnapshot> {
        read(&self.twins).get(tenant)?.get(device).cloned()
    }
}
