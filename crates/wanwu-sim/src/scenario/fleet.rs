//! Refrigerated delivery vans: they drive along the city's road grid from stop to stop
//! (slower in rush hours, parked at night), burn fuel and refuel when low. The reefer holds
//! the cargo at its setpoint; on some vans it fails now and then (or a door stays open) and
//! the cargo warms towards the outside air: a cold-chain excursion.

use crate::clock::Instant;
use crate::device::{
    Behavior, EventOut, Reading, Values, missing, not_settable, object, param_f64,
};
use crate::fields::{Field, reading};
use crate::geo::{GRID_HALF_SIZE, gps, grid_km, grid_point};
use crate::noise::{hash, normal, tag, uniform, unit};
use crate::weather::weather;
use serde_json::{Value as Json, json};
use std::collections::VecDeque;
use wanwu_model::{Command, Event, Product, Severity};

const SETPOINT_MIN: f64 = -30.0;
const SETPOINT_MAX: f64 = 10.0;
/// How far above the setpoint the cargo may warm before it is an excursion, °C.
const EXCURSION_MARGIN: f64 = 5.0;
/// Fuel used per km, % of the tank.
const FUEL_PER_KM: f64 = 0.35;

/// The `vehicle` product.
pub fn product() -> Product {
    let setpoint = || {
        Field::float(
            "setpoint",
            "Cargo setpoint",
            "°C",
            SETPOINT_MIN,
            SETPOINT_MAX,
        )
    };
    Product {
        id: "vehicle".into(),
        name: "Refrigerated van".into(),
        description: Some("Cold-chain delivery van with GPS and reefer telemetry.".into()),
        properties: vec![
            Field::geo("location", "Location").read(),
            Field::float("speed", "Speed", "km/h", 0.0, 200.0).read(),
            Field::float("fuel", "Fuel", "%", 0.0, 100.0).read(),
            Field::float("cargo_temperature", "Cargo temperature", "°C", -40.0, 60.0).read(),
            setpoint().read_write(),
        ],
        events: vec![Event {
            id: "cold_chain_excursion".into(),
            name: Some("Cold-chain excursion".into()),
            description: Some("Cargo warmer than the setpoint allows.".into()),
            severity: Severity::Warning,
            params: vec![
                Field::float("cargo_temperature", "Cargo temperature", "°C", -40.0, 60.0).param(),
                Field::float("limit", "Limit", "°C", -40.0, 60.0).param(),
            ],
        }],
        commands: vec![Command {
            id: "set_setpoint".into(),
            name: Some("Set cargo setpoint".into()),
            description: None,
            params: vec![
                Field::float("celsius", "Setpoint", "°C", SETPOINT_MIN, SETPOINT_MAX).param(),
            ],
            response: vec![setpoint().param()],
        }],
    }
}

/// A road crossing, in road spacings from the centre.
type Node = (i32, i32);

/// One van.
pub struct Vehicle {
    run_seed: u64,
    seed: u64,
    /// Position in road spacings east and north of the centre.
    position: (f64, f64),
    /// Crossings still to pass on the current trip, the last one being the stop.
    route: VecDeque<Node>,
    trip: u64,
    /// Simulated hours left at the current stop.
    stop_hours: f64,
    fuel: f64,
    cargo: Option<f64>,
    setpoint: f64,
    faulty_reefer: bool,
    /// Simulated hours left of a reefer failure.
    failure_hours: f64,
    in_excursion: bool,
}

impl Vehicle {
    /// Van of run `run_seed` with its own `seed`.
    pub fn new(run_seed: u64, seed: u64) -> Vehicle {
        let depot = random_node(seed, u64::MAX);
        Vehicle {
            run_seed,
            seed,
            position: (depot.0 as f64, depot.1 as f64),
            route: VecDeque::new(),
            trip: 0,
            stop_hours: 0.0,
            fuel: uniform(seed, &[tag("fuel")], 40.0, 100.0),
            cargo: None,
            setpoint: if unit(seed, &[tag("frozen")]) < 0.5 {
                -18.0
            } else {
                4.0
            },
            faulty_reefer: unit(seed, &[tag("reefer")]) < 0.25,
            failure_hours: 0.0,
            in_excursion: false,
        }
    }

    /// Plans the next trip: along the road grid, first east-west, then north-south.
    fn plan_trip(&mut self) {
        self.trip += 1;
        let from = (
            self.position.0.round() as i32,
            self.position.1.round() as i32,
        );
        let to = random_node(self.seed, self.trip);
        self.route = VecDeque::from([(to.0, from.1), to]);
    }

    /// Drives `km` along the route; returns the km actually driven.
    fn drive(&mut self, mut km: f64) -> f64 {
        let mut driven = 0.0;
        while km > 0.0 {
            let Some(&(nx, ny)) = self.route.front() else {
                break;
            };
            let (dx, dy) = (nx as f64 - self.position.0, ny as f64 - self.position.1);
            let length = grid_km(dx, dy);
            if length <= km {
                self.position = (nx as f64, ny as f64);
                self.route.pop_front();
                km -= length;
                driven += length;
            } else {
                let f = km / length;
                self.position = (self.position.0 + dx * f, self.position.1 + dy * f);
                driven += km;
                km = 0.0;
            }
        }
        driven
    }

    fn limit(&self) -> f64 {
        self.setpoint + EXCURSION_MARGIN
    }
}

/// A crossing of the road grid chosen by `seed` and `n`.
fn random_node(seed: u64, n: u64) -> Node {
    let span = (2 * GRID_HALF_SIZE + 1) as u64;
    let h = hash(seed, &[tag("node"), n]);
    (
        (h % span) as i32 - GRID_HALF_SIZE,
        ((h / span) % span) as i32 - GRID_HALF_SIZE,
    )
}

/// Typical speed at `at`, km/h: slow in rush hours.
fn traffic_speed(at: &Instant) -> f64 {
    let h = at.hour();
    let jam = |centre: f64| (-((h - centre) / 1.2).powi(2)).exp();
    let rush = if at.is_weekend() {
        0.0
    } else {
        jam(8.0) + jam(18.0)
    };
    48.0 * (1.0 - 0.55 * rush.min(1.0))
}

impl Behavior for Vehicle {
    fn step(&mut self, at: &Instant) -> Reading {
        let dt = at.step_hours();
        let on_duty = (5.0..23.0).contains(&at.hour());
        let mut speed = 0.0;
        if on_duty && self.stop_hours <= 0.0 {
            if self.route.is_empty() {
                self.plan_trip();
            }
            speed = (traffic_speed(at)
                * (1.0 + 0.12 * normal(self.seed, &[tag("speed"), at.step])))
            .clamp(5.0, 90.0);
            let driven = self.drive(speed * dt);
            self.fuel = (self.fuel - driven * FUEL_PER_KM).max(0.0);
            if self.route.is_empty() {
                self.stop_hours = uniform(self.seed, &[tag("stop"), self.trip], 0.2, 0.6);
            }
        } else {
            self.stop_hours -= dt;
            if self.fuel < 15.0 {
                self.fuel = 100.0;
            }
        }

        let ambient = weather(self.run_seed, at).temperature;
        if self.faulty_reefer
            && self.failure_hours <= 0.0
            && unit(self.seed, &[tag("fail"), at.step]) < 0.06 * dt
        {
            self.failure_hours = uniform(self.seed, &[tag("fail-len"), at.step], 0.5, 2.5);
        }
        let (target, tau) = if self.failure_hours > 0.0 {
            self.failure_hours -= dt;
            (ambient, 1.5)
        } else {
            (self.setpoint, 0.4)
        };
        let cargo = match self.cargo {
            None => self.setpoint,
            Some(c) => c + (target - c) * (1.0 - (-dt / tau).exp()),
        };
        self.cargo = Some(cargo);
        let reported_cargo = reading(
            cargo + 0.2 * normal(self.seed, &[tag("cargo"), at.step]),
            1,
            -40.0,
            60.0,
        );

        let mut events = vec![];
        if !self.in_excursion && reported_cargo > self.limit() {
            self.in_excursion = true;
            events.push(EventOut {
                name: "cold_chain_excursion",
                params: object(json!({
                    "cargo_temperature": reported_cargo,
                    "limit": reading(self.limit(), 1, -40.0, 60.0),
                })),
            });
        } else if self.in_excursion && reported_cargo < self.limit() - 2.0 {
            self.in_excursion = false;
        }
        let location = gps(grid_point(self.position.0, self.position.1));
        Reading {
            values: object(json!({
                "location": {"lat": location.lat, "lon": location.lon},
                "speed": reading(speed, 1, 0.0, 200.0),
                "fuel": reading(self.fuel, 1, 0.0, 100.0),
                "cargo_temperature": reported_cargo,
                "setpoint": self.setpoint,
            })),
            events,
        }
    }

    fn command(&mut self, name: &str, params: &Values) -> Result<Values, String> {
        match name {
            "set_setpoint" => {
                let celsius = param_f64(params, "celsius").ok_or_else(|| missing("celsius"))?;
                self.set("setpoint", &json!(celsius))?;
                Ok(object(json!({"setpoint": self.setpoint})))
            }
            other => Err(format!("unknown command {other:?}")),
        }
    }

    fn set(&mut self, key: &str, value: &Json) -> Result<(), String> {
        match (key, value.as_f64()) {
            ("setpoint", Some(c)) if (SETPOINT_MIN..=SETPOINT_MAX).contains(&c) => {
                self.setpoint = c;
                Ok(())
            }
            ("setpoint", _) => Err(format!(
                "setpoint must be {SETPOINT_MIN} to {SETPOINT_MAX} °C"
            )),
            _ => Err(not_settable(key)),
        }
    }

    fn reported(&self) -> Values {
        object(json!({"setpoint": self.setpoint}))
    }

    fn anomaly(&self) -> Option<&'static str> {
        self.faulty_reefer.then_some("failing_reefer")
    }
}
