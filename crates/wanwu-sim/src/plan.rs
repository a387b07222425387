//! What a run provisions: assets (a tree of places) and devices, each of a scenario, with
//! a location and an asset. [`fleet_plan`] spreads devices of some scenarios over the city
//! for `wanwu sim`; [`crate::demo_city`] lays out a whole city for `wanwu demo`.

use crate::geo::{CENTRE, GRID_HALF_SIZE, ROAD_SPACING_DEG};
use crate::noise::{tag, uniform};
use crate::scenario::Scenario;
use serde::Serialize;
use std::collections::BTreeMap;
use wanwu_model::{GeoPoint, Product};

/// An asset to create: `POST /api/v1/assets` takes this as it is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AssetPlan {
    /// Id.
    pub id: String,
    /// Parent asset; `None` for the root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Display name.
    pub name: String,
    /// `city`, `district`, `site` or `street`.
    pub kind: String,
    /// Where it is.
    pub location: GeoPoint,
}

/// A device to create and simulate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DevicePlan {
    /// Id: the MQTT username.
    pub id: String,
    /// Scenario whose behaviour the device follows.
    #[serde(skip)]
    pub scenario: Scenario,
    /// Number of the device within its scenario: with the seed, it fixes the behaviour.
    #[serde(skip)]
    pub index: u64,
    /// Product id (the scenario's product).
    pub product: String,
    /// Display name.
    pub name: String,
    /// Free labels.
    pub tags: BTreeMap<String, String>,
    /// Asset the device belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    /// Where the device is installed (a vehicle: its depot).
    pub location: GeoPoint,
}

/// Assets and devices of one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CityPlan {
    /// Seed of the run: the same seed gives the same plan and the same data.
    pub seed: u64,
    /// Assets, parents before children.
    pub assets: Vec<AssetPlan>,
    /// Devices.
    pub devices: Vec<DevicePlan>,
}

impl CityPlan {
    /// The scenarios that have devices in the plan, in [`Scenario::ALL`] order.
    pub fn scenarios(&self) -> Vec<Scenario> {
        Scenario::ALL
            .into_iter()
            .filter(|s| self.devices.iter().any(|d| d.scenario == *s))
            .collect()
    }

    /// The plan with at most `limit` devices, taken in turn from each scenario (in
    /// [`Scenario::ALL`] order, each scenario's devices in plan order), so that a small
    /// city still has every kind of device. Assets are kept; the result depends only on
    /// the plan and `limit`.
    pub fn at_most(mut self, limit: usize) -> CityPlan {
        if self.devices.len() <= limit {
            return self;
        }
        let mut queues: Vec<std::collections::VecDeque<DevicePlan>> = Scenario::ALL
            .iter()
            .map(|s| {
                self.devices
                    .iter()
                    .filter(|d| d.scenario == *s)
                    .cloned()
                    .collect()
            })
            .collect();
        let mut kept = Vec::with_capacity(limit);
        while kept.len() < limit {
            for queue in &mut queues {
                if kept.len() < limit
                    && let Some(device) = queue.pop_front()
                {
                    kept.push(device);
                }
            }
        }
        self.devices = kept;
        self
    }

    /// The products the plan's devices need.
    pub fn products(&self) -> Vec<Product> {
        self.scenarios()
            .into_iter()
            .map(Scenario::product)
            .collect()
    }
}

impl DevicePlan {
    /// Device `index` of `scenario`, with id `{prefix}{scenario prefix}-{index:05}`.
    pub fn new(scenario: Scenario, index: u64, prefix: &str, location: GeoPoint) -> DevicePlan {
        DevicePlan {
            id: format!("{prefix}{}-{index:05}", scenario.device_prefix()),
            scenario,
            index,
            product: scenario.product().id,
            name: scenario.device_name(index),
            tags: BTreeMap::from([("scenario".to_owned(), scenario.name().to_owned())]),
            asset: None,
            location,
        }
    }
}

/// `count` devices shared round-robin by `scenarios`, scattered over the city; ids start
/// with `prefix`. No assets.
pub fn fleet_plan(seed: u64, scenarios: &[Scenario], count: usize, prefix: &str) -> CityPlan {
    let extent = GRID_HALF_SIZE as f64 * ROAD_SPACING_DEG;
    let devices = (0..count)
        .filter_map(|i| {
            let scenario = *scenarios.get(i % scenarios.len().max(1))?;
            let index = (i / scenarios.len()) as u64;
            let at = |axis: &str| {
                uniform(
                    seed,
                    &[tag(scenario.name()), index, tag(axis)],
                    -extent,
                    extent,
                )
            };
            let location = GeoPoint {
                lat: round6(CENTRE.lat + at("lat")),
                lon: round6(CENTRE.lon + at("lon")),
            };
            Some(DevicePlan::new(scenario, index, prefix, location))
        })
        .collect();
    CityPlan {
        seed,
        assets: vec![],
        devices,
    }
}

/// Rounds a coordinate to 6 decimals.
pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
