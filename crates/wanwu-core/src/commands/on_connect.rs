//! Delivers queued commands to a device that connects.
//!
//! The broker reports the connection when the device's CONNECT is accepted, before a device
//! with a clean session has subscribed; commands that found no subscription stay queued and
//! are tried again a few times shortly after, while the device stays online.

use super::Commands;
use crate::presence::Presence;
use std::sync::Arc;
use std::time::Duration;

/// Delays after a connect at which queued commands are (re)tried.
const ATTEMPTS: [Duration; 4] = [
    Duration::ZERO,
    Duration::from_millis(200),
    Duration::from_secs(1),
    Duration::from_secs(3),
];

impl Commands {
    /// Starts delivering the queued commands of `device`, which just connected, in a task;
    /// it stops once nothing is queued or `presence` says the device went offline.
    pub fn deliver_on_connect(
        self: &Arc<Self>,
        presence: Arc<Presence>,
        tenant: String,
        device: String,
    ) {
        let commands = self.clone();
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
