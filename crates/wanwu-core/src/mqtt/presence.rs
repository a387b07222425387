//! Device presence from the broker's connection events.

use super::identity::ClientIdentity;
use crate::clock::now_ms;
use crate::presence::{ConnectionDetails, OfflineReason, Presence};
use std::sync::Arc;
use wanwu_mqtt::{DisconnectReason, PresenceEvent, PresenceHook, PresenceKind, ProtocolVersion};

/// Records devices' MQTT connections and disconnections in [`Presence`].
#[derive(Clone, Debug)]
pub struct PresenceTracker {
    presence: Arc<Presence>,
}

impl PresenceTracker {
    /// A tracker writing to `presence`.
    pub fn new(presence: Arc<Presence>) -> Self {
        PresenceTracker { presence }
    }
}

impl PresenceHook for PresenceTracker {
    fn on_presence(&self, event: PresenceEvent) {
        let Some(ClientIdentity::Device(device)) = ClientIdentity::of(&event.principal) else {
            return;
        };
        let now = now_ms();
        match event.kind {
            PresenceKind::Connected => self.presence.connected(
                &device.tenant,
                &device.device,
                ConnectionDetails {
                    protocol: protocol_name(event.protocol),
                    client_address: event.peer,
                    connected_at: now,
                },
            ),
            PresenceKind::Disconnected(reason) => self.presence.disconnected(
                &device.tenant,
                &device.device,
                now,
                offline_reason(reason),
            ),
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
