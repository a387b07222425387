//! How many rule actions led to an input that comes back through the platform (derived
//! telemetry, twin changes, alarm changes): the action notes its hop count here before it
//! acts, and the feeder takes it when the resulting input arrives. Unnoted inputs are what
//! devices and people did (0 hops). Bounded: at most [`CAPACITY`] notes, each kept for
//! [`KEPT_FOR`]; a note that does not fit is counted and the input is taken for new, which the
//! engine's hop limit still stops on the next round.

use dashmap::DashMap;
use std::time::{Duration, Instant};
use wanwu_rules::InputKind;

/// Most notes kept at once.
pub const CAPACITY: usize = 10_000;
/// How long a note waits for its input.
pub const KEPT_FOR: Duration = Duration::from_secs(30);

/// Hop counts of inputs that rule actions are about to cause.
#[derive(Default)]
pub struct HopLedger {
    notes: DashMap<(String, String, InputKind), (u8, Instant)>,
}

impl HopLedger {
    /// Notes that the next `kind` input of `device` of `tenant` comes from an action at `hops`.
    pub fn note(&self, tenant: &str, device: &str, kind: InputKind, hops: u8) {
        if self.notes.len() >= CAPACITY {
            self.notes.retain(|_, (_, at)| at.elapsed() < KEPT_FOR);
            if self.notes.len() >= CAPACITY {
                metrics::counter!("wanwu_rules_hop_notes_dropped_total").increment(1);
                return;
            }
        }
        let key = (tenant.to_owned(), device.to_owned(), kind);
        let mut entry = self.notes.entry(key).or_insert((hops, Instant::now()));
        entry.0 = entry.0.max(hops);
        entry.1 = Instant::now();
    }

    /// The hop count of a `kind` input of `device` that arrived now: the noted one, or 0.
    pub fn take(&self, tenant: &str, device: &str, kind: InputKind) -> u8 {
        if self.notes.is_empty() {
            return 0;
        }
        let key = (tenant.to_owned(), device.to_owned(), kind);
        match self.notes.remove(&key) {
            Some((_, (hops, at))) if at.elapsed() < KEPT_FOR => hops,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_taken_once_by_its_device_and_kind() {
        let ledger = HopLedger::default();
        ledger.note("t", "d", InputKind::Telemetry, 3);
        assert_eq!(ledger.take("t", "d", InputKind::Twin), 0);
        assert_eq!(ledger.take("t", "other", InputKind::Telemetry), 0);
        assert_eq!(ledger.take("t", "d", InputKind::Telemetry), 3);
        assert_eq!(ledger.take("t", "d", InputKind::Telemetry), 0);
    }
}
