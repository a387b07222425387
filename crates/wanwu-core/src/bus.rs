//! The platform's notices: every change other than telemetry that live subscribers
//! (WebSocket) and rules see: device events, presence changes, twin changes, alarm changes
//! and command status. Telemetry has its own, batched path ([`crate::ingest::IngestFanout`]).
//!
//! Publishers never wait: each subscriber has a bounded queue, and what does not fit is
//! dropped for that subscriber and counted (see [`crate::fanout`]).

use crate::fanout::Fanout;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What a [`Notice`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A device event of the product's thing model was stored.
    Event,
    /// A device connected or disconnected.
    Presence,
    /// A device's twin changed (reported or desired).
    Twin,
    /// An alarm was raised, repeated, acknowledged or cleared.
    Alarm,
    /// A command changed status (queued, sent, succeeded, failed, expired).
    Command,
}

/// One change on the platform, about one device.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Notice {
    /// Tenant of the device.
    pub tenant: String,
    /// The device the change is about.
    pub device: String,
    /// What changed.
    pub kind: NoticeKind,
    /// When, ms since the Unix epoch.
    pub ts: i64,
    /// The change as its API shows it (the stored event, the presence record, the twin,
    /// the alarm, the command).
    pub body: serde_json::Value,
}

/// Where notices are published; subscribers take a bounded queue each.
pub type Bus = Fanout<Arc<Notice>>;

/// A new, empty bus.
pub fn new_bus() -> Arc<Bus> {
    Arc::new(Fanout::new("bus"))
}
