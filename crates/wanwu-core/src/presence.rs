//! Which devices are connected, and when each was last seen. Protocol adapters report
//! connects, disconnects and traffic; the API reads it for a device's `status`.

use dashmap::DashMap;

/// Connection state of one device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PresenceState {
    /// True while the device holds a connection.
    pub online: bool,
    /// Last time the device was heard from, ms since the Unix epoch.
    pub last_seen: Option<i64>,
}

/// Connection state of every device seen since start, keyed by (tenant, device).
#[derive(Debug, Default)]
pub struct Presence {
    states: DashMap<(String, String), PresenceState>,
}

impl Presence {
    /// The device connected at `ts`.
    pub fn connected(&self, tenant: &str, device: &str, ts: i64) {
        self.update(tenant, device, |s| {
            s.online = true;
            s.last_seen = Some(ts);
        });
    }

    /// The device disconnected at `ts`.
    pub fn disconnected(&self, tenant: &str, device: &str, ts: i64) {
        self.update(tenant, device, |s| {
            s.online = false;
            s.last_seen = Some(ts);
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
