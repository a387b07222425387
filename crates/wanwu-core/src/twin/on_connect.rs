//! Sends a device its delta when it connects: a broker presence hook that wraps another
//! (the presence tracker) and, for device connections, hands the delta off to a task.

use super::Twins;
use crate::mqtt::ClientIdentity;
use std::sync::Arc;
use wanwu_mqtt::{PresenceEvent, PresenceHook, PresenceKind};

/// Runs `inner`, then sends the twin's delta to every device that connects.
pub struct DeltaOnConnect<H> {
    inner: H,
    twins: Arc<Twins>,
}

impl<H> DeltaOnConnect<H> {
    /// Wraps `inner`; deltas come from `twins`.
    pub fn new(inner: H, twins: Arc<Twins>) -> Self {
        DeltaOnConnect { inner, twins }
    }
}

impl<H: PresenceHook> PresenceHook for DeltaOnConnect<H> {
    fn on_presence(&self, event: PresenceEvent) {
        let connected_device = match (&event.kind, ClientIdentity::of(&event.principal)) {
            (PresenceKind::Connected, Some(ClientIdentity::Device(device))) => {
                Some((device.tenant.clone(), device.device.clone()))
            }
            _ => None,
        };
        self.inner.on_presence(event);
        if let Some((tenant, device)) = connected_device {
            let twins = self.twins.clone();
            tokio::spawn(async move { twins.on_connected(&tenant, &device).await });
        }
    }
}
