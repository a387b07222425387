//! Work to start when a device connects: a broker presence hook that runs another hook (the
//! presence tracker) first and then hands each device connection to an action, which must not
//! block (it spawns what takes time).

use crate::mqtt::ClientIdentity;
use wanwu_mqtt::{PresenceEvent, PresenceHook, PresenceKind};

/// Runs `inner`, then `action(tenant, device)` for every device that connects.
pub struct OnDeviceConnect<H, F> {
    inner: H,
    action: F,
}

impl<H, F> OnDeviceConnect<H, F> {
    /// Wraps `inner` with `action`.
    pub fn new(inner: H, action: F) -> Self {
        OnDeviceConnect { inner, action }
    }
}

impl<H, F> PresenceHook for OnDeviceConnect<H, F>
where
    H: PresenceHook,
    F: Fn(String, String) + Send + Sync + 'static,
{
    fn on_presence(&self, event: PresenceEvent) {
        let connected_device = match (&event.kind, ClientIdentity::of(&event.principal)) {
            (PresenceKind::Connected, Some(ClientIdentity::Device(device))) => {
                Some((device.tenant.clone(), device.device.clone()))
            }
            _ => None,
        };
        self.inner.on_presence(event);
        if let Some((tenant, device)) = connected_device {
            (self.action)(tenant, device);
        }
    }
}
