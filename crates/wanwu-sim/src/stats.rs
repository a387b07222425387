//! Counters of a run, shared by every device session, and their [`Summary`].

use serde::Serialize;
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Live counters of a run; every device session adds to them.
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) connections: AtomicU64,
    pub(crate) online: AtomicI64,
    pub(crate) connection_errors: AtomicU64,
    pub(crate) telemetry_sent: AtomicU64,
    pub(crate) events_sent: AtomicU64,
    pub(crate) replies_sent: AtomicU64,
    pub(crate) reports_sent: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) commands_received: AtomicU64,
    pub(crate) desired_received: AtomicU64,
    pub(crate) platform_errors: AtomicU64,
}

/// Adds one to `counter`.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Stats {
    /// Counts a message that could not be sent (not connected, or the client's queue full).
    pub(crate) fn drop_message(&self) {
        bump(&self.dropped);
        metrics::counter!("wanwu_sim_messages_dropped_total").increment(1);
    }

    /// A snapshot of the counters.
    pub fn summary(&self, devices: usize, elapsed: Duration, simulated: Duration) -> Summary {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Summary {
            devices,
            online: self.online.load(Ordering::Relaxed).max(0) as u64,
            connections: get(&self.connections),
            connection_errors: get(&self.connection_errors),
            telemetry_sent: get(&self.telemetry_sent),
            events_sent: get(&self.events_sent),
            replies_sent: get(&self.replies_sent),
            reports_sent: get(&self.reports_sent),
            acked: get(&self.acked),
            rejected: get(&self.rejected),
            dropped: get(&self.dropped),
            commands_received: get(&self.commands_received),
            desired_received: get(&self.desired_received),
            platform_errors: get(&self.platform_errors),
            elapsed_ms: elapsed.as_millis() as u64,
            simulated_ms: simulated.as_millis() as u64,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Devices simulated.
    pub devices: usize,
    /// Devices connected when the summary was taken.
    pub online: u64,
    /// Successful MQTT connections (reconnections included).
    pub connections: u64,
    /// Failed or lost connections.
    pub connection_errors: u64,
    /// Telemetry messages handed to the MQTT client.
    pub telemetry_sent: u64,
    /// Event messages handed to the MQTT client.
    pub events_sent: u64,
    /// Command replies handed to the MQTT client.
    pub replies_sent: u64,
    /// Shadow reports handed to the MQTT client.
    pub reports_sent: u64,
    /// QoS 1 messages the platform acknowledged.
    pub acked: u64,
    /// QoS 1 messages the platform refused (PUBACK with an error reason).
    pub rejected: u64,
    /// Messages not sent: device offline or its queue full.
    pub dropped: u64,
    /// Commands received.
    pub commands_received: u64,
    /// Desired-state messages received (deltas and shadow answers).
    pub desired_received: u64,
    /// Messages the platform reported on `devices/{id}/errors`.
    pub platform_errors: u64,
    /// Wall time of the run, ms.
    pub elapsed_ms: u64,
    /// Simulated time covered per device, ms.
    pub simulated_ms: u64,
}

impl Summary {
    /// Every message handed to the MQTT client.
    pub fn sent(&self) -> u64 {
        self.telemetry_sent + self.events_sent + self.replies_sent + self.reports_sent
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = (self.elapsed_ms as f64 / 1000.0).max(1e-3);
        writeln!(
            f,
            "devices        {} ({} online, {} connections, {} connection errors)",
            self.devices, self.online, self.connections, self.connection_errors
        )?;
        writeln!(
            f,
            "sent           {} ({:.0}/s): telemetry {}, events {}, replies {}, reports {}",
            self.sent(),
            self.sent() as f64 / secs,
            self.telemetry_sent,
            self.events_sent,
            self.replies_sent,
            self.reports_sent
        )?;
        writeln!(
            f,
            "acknowledged   {} acked, {} rejected, {} dropped, {} platform errors",
            self.acked, self.rejected, self.dropped, self.platform_errors
        )?;
        writeln!(
            f,
            "received       {} commands, {} desired states",
            self.commands_received, self.desired_received
        )?;
        write!(
            f,
            "time           {:.1} s wall, {:.1} h simulated",
            secs,
            self.simulated_ms as f64 / 3_600_000.0
        )
    }
}
