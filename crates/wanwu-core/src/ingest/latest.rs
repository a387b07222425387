//! The newest value of every (device, key), in memory.
//!
//! Ingest records every stored point; a point older than the one held (late data) does not
//! replace it, an equal timestamp does (last write wins, as in the store). After a restart a
//! device's entry is incomplete until a reader fills it from the store once
//! ([`LatestValues::fill`]); deletes drop the entry so the next read refills it. A generation
//! counter keeps a fill that raced with a delete from marking stale values complete.

use dashmap::DashMap;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use wanwu_model::{Point, Value};

/// A value and its time.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LatestValue {
    /// Time of the value, ms since the Unix epoch.
    pub ts: i64,
    /// The value.
    #[schema(schema_with = crate::telemetry::value_schema)]
    pub value: Value,
}

#[derive(Default)]
struct DeviceLatest {
    complete: bool,
    values: HashMap<String, LatestValue>,
}

impl DeviceLatest {
    fn offer(&mut self, key: &str, ts: i64, value: &Value) {
        match self.values.get_mut(key) {
            Some(held) if held.ts > ts => {}
            Some(held) => {
                held.ts = ts;
                held.value = value.clone();
            }
            None => {
                self.values.insert(
                    key.to_owned(),
                    LatestValue {
                        ts,
                        value: value.clone(),
                    },
                );
            }
        }
    }

    fn snapshot(&self) -> BTreeMap<String, LatestValue> {
        self.values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Latest values of every device, keyed by (tenant, device).
#[derive(Default)]
pub struct LatestValues {
    devices: DashMap<(String, String), DeviceLatest>,
    generation: AtomicU64,
}

impl LatestValues {
    /// Records stored points of a device.
    pub fn record(&self, tenant: &str, device: &str, points: &[Point]) {
        let mut entry = self
            .devices
            .entry((tenant.to_owned(), device.to_owned()))
            .or_default();
        for point in points {
            for (key, value) in &point.values {
                entry.offer(key, point.ts, value);
            }
        }
    }

    /// The latest values of a device when they are known completely, `None` when the store
    /// must be asked ([`LatestValues::fill`]).
    pub fn get(&self, tenant: &str, device: &str) -> Option<BTreeMap<String, LatestValue>> {
        let entry = self.devices.get(&(tenant.to_owned(), device.to_owned()))?;
        entry.complete.then(|| entry.snapshot())
    }

    /// The generation to pass to [`LatestValues::fill`], read before asking the store.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Merges what the store holds for a device (read after `generation` was taken) and
    /// returns the merged values; the entry counts as complete unless a delete came between.
    pub fn fill(
        &self,
        tenant: &str,
        device: &str,
        stored: impl IntoIterator<Item = (String, LatestValue)>,
        generation: u64,
    ) -> BTreeMap<String, LatestValue> {
        let mut entry = self
            .devices
            .entry((tenant.to_owned(), device.to_owned()))
            .or_default();
        for (key, latest) in stored {
            entry.offer(&key, latest.ts, &latest.value);
        }
        if self.generation.load(Ordering::Acquire) == generation {
            entry.complete = true;
        }
        entry.snapshot()
    }

    /// Drops what is held of a device (after its points were deleted, or the device was).
    pub fn forget(&self, tenant: &str, device: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.devices.remove(&(tenant.to_owned(), device.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(ts: i64, key: &str, value: f64) -> Point {
        Point {
            ts,
            values: BTreeMap::from([(key.to_owned(), Value::Float(value))]),
        }
    }

    #[test]
    fn late_points_do_not_replace_newer_ones() {
        let latest = LatestValues::default();
        latest.record("t", "d", &[point(20, "a", 2.0), point(10, "a", 1.0)]);
        latest.record("t", "d", &[point(5, "b", 5.0)]);
        assert_eq!(latest.get("t", "d"), None, "incomplete until filled");
        let filled = latest.fill("t", "d", [], latest.generation());
        assert_eq!(filled["a"].ts, 20);
        assert_eq!(filled["a"].value, Value::Float(2.0));
        latest.record("t", "d", &[point(20, "a", 3.0)]);
        assert_eq!(
            latest.get("t", "d").unwrap()["a"].value,
            Value::Float(3.0),
            "equal time: last write wins"
        );
    }

    #[test]
    fn fill_merges_with_newer_recorded_values() {
        let latest = LatestValues::default();
        latest.record("t", "d", &[point(30, "a", 3.0)]);
        let stored = [
            (
                "a".to_owned(),
                LatestValue {
                    ts: 10,
                    value: Value::Float(1.0),
                },
            ),
            (
                "b".to_owned(),
                LatestValue {
                    ts: 10,
                    value: Value::Int(7),
                },
            ),
        ];
        let merged = latest.fill("t", "d", stored, latest.generation());
        assert_eq!(merged["a"].ts, 30);
        assert_eq!(merged["b"].value, Value::Int(7));
    }

    #[test]
    fn a_fill_racing_with_a_delete_stays_incomplete() {
        let latest = LatestValues::default();
        let generation = latest.generation();
        latest.forget("t", "d");
        latest.fill("t", "d", [], generation);
        assert_eq!(latest.get("t", "d"), None);
    }
}
