//! Delivers queued commands to a device that connects: a broker presence hook that wraps
//! another and, for device connections, hands delivery off to a task.
//!
//! The hook runs when the device's CONNECT is accepted, before a device with a clean session
//! has subscribed; commands that found no subscription stay queued and are tried again a
//! few times shortly after, while the device stays online.

use super::Commands;
use crate::mqtt::ClientIdentity;
use crate::presence::Presence;
use std::sync::Arc;
use std::time::Duration;
use wanwu_mqtt::{PresenceEvent, PresenceHook, PresenceKind};

/// Delays after a connect at which queued commands are (re)tried.
const ATTEMPTS: [Duration; 4] = [
    Duration::ZERO,
    Duration::from_millis(200),
    Duration::from_secs(1),
    Duration::from_secs(3),
];

/// Runs `inner`, then delivers the queued commands of every device that connects.
pub struct DeliverOnConnect<H> {
    inner: H,
    commands: Arc<Commands>,
    presence: Arc<Presence>,
}

impl<H> DeliverOnConnect<H> {
    /// Wraps `inner`; commands come from `commands` while `presence` says the device is
    /// online.
    pub fn new(inner: H, commands: Arc<Commands>, presence: Arc<Presence>) -> Self {
        DeliverOnConnect {
            inner,
            commands,
            presence,
        }
    }
}

impl<H: PresenceHook> PresenceHook for DeliverOnConnect<H> {
    fn on_presence(&self, event: PresenceEvent) {
        let connected_device = match (&event.kind, ClientIdentity::of(&event.principal)) {
            (PresenceKind::Connected, Some(ClientIdentity::Device(device))) => {
                Some((device.tenant.clone(), device.device.clone()))
            }
            _ => None,
        };
        self.inner.on_presence(event);
        if let Some((tenant, device)) = connected_device {
            let commands = self.commands.clone();
            let presence = self.presence.clone();
            tokio::spawn(async move {
                for delay in ATTEMPTS {
                    tokio::time::sleep(delay).await;
                    if !presence.get(&tenant, &device).online {
                        return;
                    }
                    match commands.deliver_queued(&tenant, &device).await {
                        Ok(0) => return,
                        Ok(_) => {}
                        Err(error) => {
                            tracing::warn!(%error, device, "queued commands not delivered");
                            return;
                        }
                    }
                }
            });
        }
    }
}
