//! Handing inputs to the runtime in each device's order without waiting on the store.
//!
//! A device the [`PlatformDirectory`] knows gets its inputs submitted at once (a stale entry is
//! refreshed in the background meanwhile). A device seen for the first time has its inputs
//! parked while a lookup task reads it from the registry; the lookup then submits what was
//! parked, in order, and later inputs go straight through. So a slow or first-time lookup never
//! stalls the feeders, and the fan-out queue in front of them does not fill while the store is
//! read. Bounded: at most [`LOOKUP_QUEUE`] lookups wait, [`LOOKUPS_IN_FLIGHT`] run at once, and
//! at most [`MAX_PARKED`] inputs are parked; what does not fit is dropped and counted
//! (`wanwu_rules_admission_dropped_total{reason}` and [`AdmissionStats`]).

use crate::rules::directory::{Freshness, PlatformDirectory};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Semaphore, mpsc};
use wanwu_rules::{Input, Runtime};

/// Devices whose lookup may wait at once.
pub const LOOKUP_QUEUE: usize = 65_536;
/// Lookups that run at the same time (most of a lookup is waiting: on the store, and on the
/// device's twin while the telemetry follower writes it).
pub const LOOKUPS_IN_FLIGHT: usize = 64;
/// Items (inputs and twin changes) parked while their devices are looked up, over all devices.
pub const MAX_PARKED: usize = 262_144;

/// What a feeder hands over for one device, in order.
#[derive(Debug)]
pub enum Item {
    /// An input for the runtime.
    Input(Input),
    /// Changed twin keys to apply to the directory before the inputs after it.
    TwinChange(Json),
}

/// Counters of the admission step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdmissionStats {
    /// Inputs submitted to the runtime.
    pub submitted: u64,
    /// Inputs that waited for their device's first lookup.
    pub parked: u64,
    /// Inputs dropped: too many parked, or the lookup queue was full.
    pub dropped: u64,
    /// Inputs of devices the registry does not have.
    pub unknown: u64,
    /// Lookups made (first sights and refreshes).
    pub lookups: u64,
}

#[derive(Default)]
struct Counters {
    submitted: AtomicU64,
    parked: AtomicU64,
    dropped: AtomicU64,
    unknown: AtomicU64,
    lookups: AtomicU64,
}

type DeviceKey = (String, String);

#[derive(Default)]
struct Parking {
    waiting: HashMap<DeviceKey, Vec<Item>>,
    parked: usize,
}

/// Admits inputs per device; see the module documentation.
pub struct Admission {
    runtime: Arc<Runtime>,
    directory: Arc<PlatformDirectory>,
    parking: Mutex<Parking>,
    lookups: mpsc::Sender<DeviceKey>,
    counters: Counters,
}

impl Admission {
    /// Admission into `runtime` after `directory` knows the device; starts the lookup task on
    /// the current Tokio runtime.
    pub fn start(runtime: Arc<Runtime>, directory: Arc<PlatformDirectory>) -> Arc<Self> {
        let (lookups, requests) = mpsc::channel(LOOKUP_QUEUE);
        let admission = Arc::new(Admission {
            runtime,
            directory,
            parking: Mutex::new(Parking::default()),
            lookups,
            counters: Counters::default(),
        });
        tokio::spawn(admission.clone().look_up(requests));
        admission
    }

    fn parking(&self) -> MutexGuard<'_, Parking> {
        self.parking.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands `items` of `device` of `tenant` on, in order, without waiting.
    pub fn admit(&self, tenant: &str, device: &str, items: Vec<Item>) {
        if items.is_empty() {
            return;
        }
        let key = || (tenant.to_owned(), device.to_owned());
        let mut parking = self.parking();
        // Nothing parked (the steady state): no key to build for every input.
        if !parking.waiting.is_empty() {
            let key = key();
            if parking.waiting.contains_key(&key) {
                self.park(&mut parking, &key, items);
                return;
            }
        }
        match self.directory.freshness(tenant, device) {
            Freshness::Fresh => {
                drop(parking);
                self.apply(tenant, device, items);
            }
            Freshness::Stale => {
                drop(parking);
                if self.lookups.try_send(key()).is_ok() {
                    self.directory.mark_fresh(tenant, device);
                }
                self.apply(tenant, device, items);
            }
            Freshness::Unknown => match self.lookups.try_send(key()) {
                Ok(()) => {
                    let key = key();
                    parking.waiting.insert(key.clone(), Vec::new());
                    self.park(&mut parking, &key, items);
                }
                Err(_) => self.drop_inputs(&items, "lookup_queue_full"),
            },
        }
    }

    fn park(&self, parking: &mut Parking, key: &DeviceKey, items: Vec<Item>) {
        if parking.parked + items.len() > MAX_PARKED {
            self.drop_inputs(&items, "parking_full");
            return;
        }
        parking.parked += items.len();
        let inputs = inputs_in(&items);
        self.counters
            .parked
            .fetch_add(inputs as u64, Ordering::Relaxed);
        if let Some(waiting) = parking.waiting.get_mut(key) {
            waiting.extend(items);
        }
    }

    fn drop_inputs(&self, items: &[Item], reason: &'static str) {
        let inputs = inputs_in(items) as u64;
        self.counters.dropped.fetch_add(inputs, Ordering::Relaxed);
        metrics::counter!("wanwu_rules_admission_dropped_total", "reason" => reason)
            .increment(inputs);
    }

    fn apply(&self, tenant: &str, device: &str, items: Vec<Item>) {
        for item in items {
            match item {
                Item::Input(input) => {
                    self.counters.submitted.fetch_add(1, Ordering::Relaxed);
                    self.runtime.submit(input);
                }
                Item::TwinChange(body) => self.directory.apply_twin_change(tenant, device, &body),
            }
        }
    }

    async fn look_up(self: Arc<Self>, mut requests: mpsc::Receiver<DeviceKey>) {
        let slots = Arc::new(Semaphore::new(LOOKUPS_IN_FLIGHT));
        while let Some((tenant, device)) = requests.recv().await {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let admission = self.clone();
            tokio::spawn(async move {
                let known = admission.directory.load(&tenant, &device).await;
                admission.counters.lookups.fetch_add(1, Ordering::Relaxed);
                admission.release(&tenant, &device, known);
                drop(slot);
            });
        }
    }

    /// Submits what waited for the lookup of `device` (under the parking lock, so that no
    /// later input of the device overtakes it), or drops it when the device does not exist.
    fn release(&self, tenant: &str, device: &str, known: bool) {
        let mut parking = self.parking();
        let Some(items) = parking
            .waiting
            .remove(&(tenant.to_owned(), device.to_owned()))
        else {
            return;
        };
        parking.parked -= items.len();
        let inputs = inputs_in(&items);
        if known {
            self.apply(tenant, device, items);
        } else {
            self.counters
                .unknown
                .fetch_add(inputs as u64, Ordering::Relaxed);
            metrics::counter!("wanwu_rules_admission_dropped_total", "reason" => "unknown_device")
                .increment(inputs as u64);
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> AdmissionStats {
        let c = &self.counters;
        AdmissionStats {
            submitted: c.submitted.load(Ordering::Relaxed),
            parked: c.parked.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            unknown: c.unknown.load(Ordering::Relaxed),
            lookups: c.lookups.load(Ordering::Relaxed),
        }
    }
}

fn inputs_in(items: &[Item]) -> usize {
    items
        .iter()
        .filter(|item| matches!(item, Item::Input(_)))
        .count()
}
