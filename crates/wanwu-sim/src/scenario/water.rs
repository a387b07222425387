//! Smart water meters of households: use comes in the morning and the evening, almost none
//! at night. A few meters have a leak that starts some day and runs day and night; the
//! meter notices continuous flow in the quiet hours (02:00–04:00) and tells `leak_detected`.
//! The valve can be closed by command or desired state.

use crate::clock::Instant;
use crate::device::{
    Behavior, EventOut, Reading, Values, missing, not_settable, object, param_str,
};
use crate::fields::{Field, reading};
use crate::noise::{normal, tag, uniform, unit};
use serde_json::{Value as Json, json};
use wanwu_model::{Command, Event, Product, Severity};

const VALVE: &[&str] = &["open", "closed"];
const FLOW_MAX: f64 = 10_000.0;
const VOLUME_MAX: f64 = 1e8;
/// Night flow above this, all through the quiet hours, is a leak (L/h).
const LEAK_THRESHOLD: f64 = 2.0;

/// The `water_meter` product.
pub fn product() -> Product {
    Product {
        id: "water_meter".into(),
        name: "Smart water meter".into(),
        description: Some("Household ultrasonic water meter with a shut-off valve.".into()),
        properties: vec![
            Field::float("volume", "Cumulative volume", "m3", 0.0, VOLUME_MAX).read(),
            Field::float("flow", "Flow", "L/h", 0.0, FLOW_MAX).read(),
            Field::float("pressure", "Pressure", "bar", 0.0, 16.0).read(),
            Field::float("battery", "Battery", "%", 0.0, 100.0).read(),
            Field::choice("valve", "Valve", VALVE).read_write(),
        ],
        events: vec![Event {
            id: "leak_detected".into(),
            name: Some("Leak detected".into()),
            description: Some("Continuous flow through the quiet night hours.".into()),
            severity: Severity::Warning,
            params: vec![Field::float("flow", "Lowest night flow", "L/h", 0.0, FLOW_MAX).param()],
        }],
        commands: vec![Command {
            id: "valve".into(),
            name: Some("Operate valve".into()),
            description: None,
            params: vec![Field::choice("state", "Valve state", VALVE).param()],
            response: vec![Field::choice("state", "Valve state", VALVE).param()],
        }],
    }
}

/// One household meter.
pub struct WaterMeter {
    seed: u64,
    volume_m3: f64,
    battery: f64,
    /// Typical household use at peak, L/h.
    household: f64,
    /// Leak rate once it starts, L/h (0 for a sound installation).
    leak_lph: f64,
    leak_onset: u64,
    valve_open: bool,
    /// Lowest flow seen in tonight's quiet hours so far.
    night_min: Option<f64>,
}

impl WaterMeter {
    /// Meter with its own `seed`.
    pub fn new(seed: u64) -> WaterMeter {
        let leaky = unit(seed, &[tag("leaky")]) < 0.08;
        WaterMeter {
            seed,
            volume_m3: uniform(seed, &[tag("volume")], 10.0, 2500.0).round(),
            battery: uniform(seed, &[tag("battery")], 55.0, 100.0),
            household: uniform(seed, &[tag("household")], 40.0, 160.0),
            leak_lph: if leaky {
                uniform(seed, &[tag("leak")], 4.0, 40.0)
            } else {
                0.0
            },
            leak_onset: uniform(seed, &[tag("onset")], 0.0, 300.0) as u64,
            valve_open: true,
            night_min: None,
        }
    }

    fn valve(&self) -> &'static str {
        if self.valve_open { "open" } else { "closed" }
    }

    fn set_valve(&mut self, state: &str) -> Result<(), String> {
        match state {
            "open" => self.valve_open = true,
            "closed" => self.valve_open = false,
            other => return Err(format!("unknown valve state {other:?}")),
        }
        Ok(())
    }

    /// Household use at `at`, L/h: bursts around breakfast and the evening.
    fn use_lph(&self, at: &Instant) -> f64 {
        let h = at.hour();
        let bump = |centre: f64, width: f64| (-((h - centre) / width).powi(2)).exp();
        let late = if at.is_weekend() { 1.5 } else { 0.0 };
        let profile = 0.9 * bump(7.5 + late, 1.2) + bump(20.0, 2.0) + 0.3 * bump(12.5, 1.5);
        // Taps are on or off: use happens in some steps, not as a smooth trickle.
        let chance = (0.05 + 0.8 * profile).min(0.95);
        if h < 5.0 || unit(self.seed, &[tag("tap"), at.step]) > chance {
            return 0.0;
        }
        (self.household * (0.5 + profile) * (1.0 + 0.4 * normal(self.seed, &[tag("use"), at.step])))
            .max(0.0)
    }

    /// Tracks the quiet hours; after them, tells a leak if flow never stopped.
    fn watch_for_leak(&mut self, at: &Instant, flow: f64) -> Option<EventOut> {
        let h = at.hour();
        if (2.0..4.0).contains(&h) {
            self.night_min = Some(self.night_min.map_or(flow, |m| m.min(flow)));
            return None;
        }
        let lowest = self.night_min.take()?;
        (lowest > LEAK_THRESHOLD).then(|| EventOut {
            name: "leak_detected",
            params: object(json!({"flow": reading(lowest, 2, 0.0, FLOW_MAX)})),
        })
    }
}

impl Behavior for WaterMeter {
    fn step(&mut self, at: &Instant) -> Reading {
        let leak = if at.step >= self.leak_onset {
            self.leak_lph
        } else {
            0.0
        };
        let flow = if self.valve_open {
            self.use_lph(at) + leak
        } else {
            0.0
        };
        self.volume_m3 = (self.volume_m3 + flow / 1000.0 * at.step_hours()).min(VOLUME_MAX);
        self.battery = (self.battery - 0.0004 * at.step_hours()).max(0.0);
        let night = (-((at.hour() - 3.0) / 2.5).powi(2)).exp();
        let pressure = 3.0 + 0.9 * night - 0.0015 * flow
            + 0.05 * normal(self.seed, &[tag("pressure"), at.step]);
        let events = self.watch_for_leak(at, flow).into_iter().collect();
        Reading {
            values: object(json!({
                "volume": reading(self.volume_m3, 3, 0.0, VOLUME_MAX),
                "flow": reading(flow, 2, 0.0, FLOW_MAX),
                "pressure": reading(pressure, 2, 0.0, 16.0),
                "battery": reading(self.battery, 1, 0.0, 100.0),
                "valve": self.valve(),
            })),
            events,
        }
    }

    fn command(&mut self, name: &str, params: &Values) -> Result<Values, String> {
        match name {
            "valve" => {
                let state = param_str(params, "state").ok_or_else(|| missing("state"))?;
                self.set_valve(state)?;
                Ok(object(json!({"state": self.valve()})))
            }
            other => Err(format!("unknown command {other:?}")),
        }
    }

    fn set(&mut self, key: &str, value: &Json) -> Result<(), String> {
        match (key, value.as_str()) {
            ("valve", Some(state)) => self.set_valve(state),
            _ => Err(not_settable(key)),
        }
    }

    fn reported(&self) -> Values {
        object(json!({"valve": self.valve()}))
    }

    fn anomaly(&self) -> Option<&'static str> {
        (self.leak_lph > 0.0).then_some("night_leak")
    }
}
