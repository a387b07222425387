//! The scenarios: one product (thing model) each, and the behaviour of its devices.
//!
//! | scenario | product | devices |
//! | --- | --- | --- |
//! | `air-quality` | `air_station` | PM2.5, PM10, NO2, O3, temperature, humidity; traffic rhythms, weather episodes, a few faulty sensors |
//! | `water` | `water_meter` | volume, flow, pressure, battery, valve; night-time leaks on a few |
//! | `power-grid` | `transformer` | load, oil temperature, voltage per phase, tap; overloads on undersized ones |
//! | `factory` | `machine` | vibration, temperature, spindle speed, state; wear to failure on some |
//! | `fleet` | `vehicle` | position along roads, speed, fuel, cargo temperature; cold-chain excursions |
//! | `street-lights` | `street_light` | on/off, level, mode, power; lamp failures; obey commands and desired state |

mod air;
mod factory;
mod fleet;
mod grid;
mod lights;
mod water;

use crate::device::Behavior;
use crate::noise::{hash, tag};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use wanwu_model::Product;

/// A kind of simulated city infrastructure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    /// Air-quality monitoring stations.
    AirQuality,
    /// Smart water meters.
    WaterMeters,
    /// Distribution transformers of the power grid.
    PowerGrid,
    /// Factory machines.
    Factory,
    /// A fleet of refrigerated delivery vehicles.
    Fleet,
    /// Street lights.
    StreetLights,
}

impl Scenario {
    /// Every scenario, in a fixed order.
    pub const ALL: [Scenario; 6] = [
        Scenario::AirQuality,
        Scenario::WaterMeters,
        Scenario::PowerGrid,
        Scenario::Factory,
        Scenario::Fleet,
        Scenario::StreetLights,
    ];

    /// The scenario's name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::AirQuality => "air-quality",
            Scenario::WaterMeters => "water",
            Scenario::PowerGrid => "power-grid",
            Scenario::Factory => "factory",
            Scenario::Fleet => "fleet",
            Scenario::StreetLights => "street-lights",
        }
    }

    /// The short prefix of the scenario's device ids, e.g. `aq` in `sim-aq-00001`.
    pub fn device_prefix(self) -> &'static str {
        match self {
            Scenario::AirQuality => "aq",
            Scenario::WaterMeters => "wm",
            Scenario::PowerGrid => "tx",
            Scenario::Factory => "mc",
            Scenario::Fleet => "vh",
            Scenario::StreetLights => "sl",
        }
    }

    /// A display name for device number `index`.
    pub fn device_name(self, index: u64) -> String {
        let kind = match self {
            Scenario::AirQuality => "Air station",
            Scenario::WaterMeters => "Water meter",
            Scenario::PowerGrid => "Transformer",
            Scenario::Factory => "Machine",
            Scenario::Fleet => "Vehicle",
            Scenario::StreetLights => "Street light",
        };
        format!("{kind} {}", index + 1)
    }

    /// The scenario's product (thing model).
    pub fn product(self) -> Product {
        match self {
            Scenario::AirQuality => air::product(),
            Scenario::WaterMeters => water::product(),
            Scenario::PowerGrid => grid::product(),
            Scenario::Factory => factory::product(),
            Scenario::Fleet => fleet::product(),
            Scenario::StreetLights => lights::product(),
        }
    }

    /// Properties of the product that devices do not send: rules derive them.
    pub fn derived_properties(self) -> &'static [&'static str] {
        match self {
            Scenario::AirQuality => air::DERIVED,
            _ => &[],
        }
    }

    /// The product, built once per process and shared by every device.
    pub(crate) fn shared_product(self) -> Arc<Product> {
        static PRODUCTS: [OnceLock<Arc<Product>>; 6] = [const { OnceLock::new() }; 6];
        let slot = Scenario::ALL
            .iter()
            .position(|s| *s == self)
            .unwrap_or_default();
        PRODUCTS[slot]
            .get_or_init(|| Arc::new(self.product()))
            .clone()
    }

    /// The behaviour of device number `index` in run `seed`.
    pub(crate) fn behavior(self, seed: u64, index: u64) -> Box<dyn Behavior> {
        let device_seed = hash(seed, &[tag(self.name()), index]);
        match self {
            Scenario::AirQuality => Box::new(air::AirStation::new(seed, device_seed)),
            Scenario::WaterMeters => Box::new(water::WaterMeter::new(device_seed)),
            Scenario::PowerGrid => Box::new(grid::Transformer::new(seed, device_seed)),
            Scenario::Factory => Box::new(factory::Machine::new(device_seed)),
            Scenario::Fleet => Box::new(fleet::Vehicle::new(seed, device_seed)),
            Scenario::StreetLights => Box::new(lights::StreetLight::new(device_seed)),
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scenario name that is not one of [`Scenario::ALL`].
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown scenario {0:?}; known: air-quality, water, power-grid, factory, fleet, street-lights"
)]
pub struct UnknownScenario(pub String);

impl FromStr for Scenario {
    type Err = UnknownScenario;

    fn from_str(name: &str) -> Result<Scenario, UnknownScenario> {
        Scenario::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| UnknownScenario(name.to_owned()))
    }
}
