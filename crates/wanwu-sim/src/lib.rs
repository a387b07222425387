//! Smart-city device simulator and load generator.
//!
//! Six scenarios ([`Scenario`]) each define a product (thing model) and the behaviour of
//! its devices: air-quality stations, water meters, transformers, factory machines,
//! refrigerated vans and street lights. Their data is deterministic: the same seed,
//! device index and step give the same values ([`SimDevice`]). Simulated time runs
//! `speed_up` times faster than wall time, with a city calendar (UTC+8) and shared weather.
//!
//! The runner ([`run`], [`run_plan`]) creates the products and devices through the
//! platform's REST API, connects every device over MQTT, publishes telemetry and events,
//! answers commands and applies desired state, and returns a [`Summary`].
//! [`demo_city`] lays out a city of districts, sites and devices for `wanwu demo`.

pub mod api;
pub mod city;
pub mod clock;
pub mod device;
mod error;
mod fields;
pub mod geo;
pub mod mqtt_load;
pub mod noise;
pub mod plan;
mod runner;
pub mod scenario;
mod session;
mod stats;
pub mod weather;

pub use api::{ApiClient, Credentials};
pub use city::demo_city;
pub use device::{CommandReply, DeltaOutcome, SimDevice, Tick};
pub use error::SimError;
pub use plan::{AssetPlan, CityPlan, DevicePlan, fleet_plan};
pub use runner::{SimOptions, drive, run, run_plan};
pub use scenario::{Scenario, UnknownScenario};
pub use stats::{Stats, Summary};
