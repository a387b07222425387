//! Device presence from the broker's connection events, each change also published on the
//! platform bus as a [`NoticeKind::Presence`] notice (`{"status", "protocol",
//! "client_address", "reason"}`).

use super::identity::ClientIdentity;
use crate::bus::{Bus, Notice, NoticeKind};
use crate::clock::now_ms;
use crate::presence::{ConnectionDetails, OfflineReason, Presence};
use serde_json::json;
use std::sync::Arc;
use wanwu_mqtt::{DisconnectReason, PresenceEvent, PresenceHook, PresenceKind, ProtocolVersion};

/// Records devices' MQTT connections and disconnections in [`Presence`] and tells the bus.
#[derive(Clone)]
pub struct PresenceTracker {
    presence: Arc<Presence>,
    bus: Arc<Bus>,
}

impl PresenceTracker {
    /// A tracker writing to `presence` and publishing on `bus`.
    pub fn new(presence: Arc<Presence>, bus: Arc<Bus>) -> Self {
        PresenceTracker { presence, bus }
    }

    fn notify(&self, tenant: &str, device: &str, ts: i64, body: serde_json::Value) {
        self.bus.publish(Arc::new(Notice {
            tenant: tenant.to_owned(),
            device: device.to_owned(),
            kind: NoticeKind::Presence,
            ts,
            body,
        }));
    }
}

impl PresenceHook for PresenceTracker {
    fn on_presence(&self, event: PresenceEvent) {
        let Some(ClientIdentity::Device(device)) = ClientIdentity::of(&event.principal) else {
            return;
        };
        let now = now_ms();
        match event.kind {
            PresenceKind::Connected => {
                let details = ConnectionDetails {
                    protocol: protocol_name(event.protocol),
                    client_address: event.peer,
                    connected_at: now,
                };
                self.presence
                    .connected(&device.tenant, &device.device, details);
                let body = json!({"status": "online", "protocol": details.protocol,
                    "client_address": details.client_address.to_string()});
                self.notify(&device.tenant, &device.device, now, body);
            }
            PresenceKind::Disconnected(reason) => {
                let reason = offline_reason(reason);
                self.presence
                    .disconnected(&device.tenant, &device.device, now, reason);
                let online = self.presence.get(&device.tenant, &device.device).online;
                let body = json!({"status": if online { "online" } else { "offline" },
                    "reason": reason.as_str()});
                self.notify(&device.tenant, &device.device, now, body);
            }
        }
    }
}

fn protocol_name(version: ProtocolVersion) -> &'static str {
    match version {
        ProtocolVersion::V311 => "mqtt/3.1.1",
        ProtocolVersion::V5 => "mqtt/5",
    }
}

fn offline_reason(reason: DisconnectReason) -> OfflineReason {
    match reason {
        DisconnectReason::ClientDisconnect => OfflineReason::Disconnect,
        DisconnectReason::KeepaliveTimeout => OfflineReason::KeepaliveExpired,
        DisconnectReason::TakenOver => OfflineReason::TakenOver,
        DisconnectReason::ConnectionLost => OfflineReason::ConnectionLost,
        DisconnectReason::ProtocolViolation(_) => OfflineReason::ProtocolError,
        DisconnectReason::ServerShutdown => OfflineReason::ServerShutdown,
    }
}
