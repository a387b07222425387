//! Which devices are connected, and when each was last seen. Protocol adapters report
//! connects, disconnects and traffic; the API reads it for a device's `status`.
//!
//! A device may hold several connections at once (a takeover reports the new connection
//! before the old one ends), so the state counts open connections: the device is online
//! while at least one is open, and the details are those of the newest.

use dashmap::DashMap;
use std::net::SocketAddr;

/// How a device is connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionDetails {
    /// Protocol and version, e.g. `mqtt/3.1.1` or `mqtt/5`.
    pub protocol: &'static str,
    /// Remote address of the client.
    pub client_address: SocketAddr,
    /// When the connection opened, ms since the Unix epoch.
    pub connected_at: i64,
}

/// Why a device's connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfflineReason {
    /// The device said goodbye (MQTT DISCONNECT).
    Disconnect,
    /// Nothing arrived within the keepalive allowance.
    KeepaliveExpired,
    /// A newer connection of the same client took over.
    TakenOver,
    /// The connection broke without goodbye.
    ConnectionLost,
    /// The device broke the protocol.
    ProtocolError,
    /// The platform shut down.
    ServerShutdown,
}

impl OfflineReason {
    /// The reason's name as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            OfflineReason::Disconnect => "disconnect",
            OfflineReason::KeepaliveExpired => "keepalive_expired",
            OfflineReason::TakenOver => "taken_over",
            OfflineReason::ConnectionLost => "connection_lost",
            OfflineReason::ProtocolError => "protocol_error",
            OfflineReason::ServerShutdown => "server_shutdown",
        }
    }
}

/// Connection state of one device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PresenceState {
    /// True while the device holds a connection.
    pub online: bool,
    /// Last time the device was heard from, ms since the Unix epoch.
    pub last_seen: Option<i64>,
    /// The newest connection (kept after it ended, for the record).
    pub connection: Option<ConnectionDetails>,
    /// Why the last connection ended, if one did.
    pub last_offline_reason: Option<OfflineReason>,
    /// Open connections.
    open_connections: u32,
}

/// Connection state of every device seen since start, keyed by (tenant, device).
#[derive(Debug, Default)]
pub struct Presence {
    states: DashMap<(String, String), PresenceState>,
}

impl Presence {
    /// The device opened a connection.
    pub fn connected(&self, tenant: &str, device: &str, details: ConnectionDetails) {
        self.update(tenant, device, |s| {
            s.open_connections = s.open_connections.saturating_add(1);
            s.online = true;
            s.last_seen = Some(details.connected_at);
            s.connection = Some(details);
        });
    }

    /// One of the device's connections ended at `ts`.
    pub fn disconnected(&self, tenant: &str, device: &str, ts: i64, reason: OfflineReason) {
        self.update(tenant, device, |s| {
            s.open_connections = s.open_connections.saturating_sub(1);
            s.online = s.open_connections > 0;
            s.last_seen = Some(ts);
            s.last_offline_reason = Some(reason);
        });
    }

    /// The device sent something at `ts`.
    pub fn seen(&self, tenant: &str, device: &str, ts: i64) {
        self.update(tenant, device, |s| s.last_seen = Some(ts));
    }

    /// The state of a device (offline and never seen when unknown).
    pub fn get(&self, tenant: &str, device: &str) -> PresenceState {
        self.states
            .get(&(tenant.to_owned(), device.to_owned()))
            .map(|s| *s)
            .unwrap_or_default()
    }

    /// Forgets a deleted device.
    pub fn remove(&self, tenant: &str, device: &str) {
        self.states.remove(&(tenant.to_owned(), device.to_owned()));
    }

    fn update(&self, tenant: &str, device: &str, f: impl FnOnce(&mut PresenceState)) {
        f(&mut self
            .states
            .entry((tenant.to_owned(), device.to_owned()))
            .or_default());
    }
}
