//! Distribution transformers: residential load peaks in the evening and grows with air
//! conditioning on hot days and heating on cold ones; undersized transformers go over
//! 100 % in those peaks (`overload`). Oil temperature follows the load with a lag of hours;
//! phase voltages sag with load and rise with the tap changer (`set_tap`).

use crate::clock::Instant;
use crate::device::{Behavior, EventOut, Reading, Values, missing, object, param_i64};
use crate::fields::{Field, reading};
use crate::noise::{normal, tag, uniform, unit};
use crate::weather::weather;
use serde_json::json;
use wanwu_model::{Command, Event, Product, Severity};

const LOAD_MAX: f64 = 200.0;
const TAP_RANGE: i64 = 2;
/// Oil temperature time constant, hours.
const OIL_TAU_H: f64 = 3.0;

/// The `transformer` product.
pub fn product() -> Product {
    let voltage = |id, name| Field::float(id, name, "V", 0.0, 300.0).read();
    Product {
        id: "transformer".into(),
        name: "Distribution transformer".into(),
        description: Some("10 kV / 400 V distribution transformer with a monitoring unit.".into()),
        properties: vec![
            Field::float("load", "Load", "%", 0.0, LOAD_MAX).read(),
            Field::float("oil_temperature", "Oil temperature", "°C", -40.0, 150.0).read(),
            voltage("voltage_a", "Voltage phase A"),
            voltage("voltage_b", "Voltage phase B"),
            voltage("voltage_c", "Voltage phase C"),
            Field::int("tap", "Tap position", "", -TAP_RANGE, TAP_RANGE).read(),
        ],
        events: vec![Event {
            id: "overload".into(),
            name: Some("Overload".into()),
            description: Some("Load went above the rating.".into()),
            severity: Severity::Critical,
            params: vec![Field::float("load", "Load", "%", 0.0, LOAD_MAX).param()],
        }],
        commands: vec![Command {
            id: "set_tap".into(),
            name: Some("Set tap position".into()),
            description: Some("Each step raises the secondary voltage by 2.5 %.".into()),
            params: vec![Field::int("position", "Tap position", "", -TAP_RANGE, TAP_RANGE).param()],
            response: vec![
                Field::int("position", "Tap position", "", -TAP_RANGE, TAP_RANGE).param(),
            ],
        }],
    }
}

/// One transformer.
pub struct Transformer {
    run_seed: u64,
    seed: u64,
    /// Evening peak load on a mild day, % of rating.
    peak: f64,
    undersized: bool,
    /// Relative voltage sag of each phase at full load.
    sag: [f64; 3],
    tap: i64,
    oil: Option<f64>,
    overloaded: bool,
}

impl Transformer {
    /// Transformer of run `run_seed` with its own `seed`.
    pub fn new(run_seed: u64, seed: u64) -> Transformer {
        let undersized = unit(seed, &[tag("undersized")]) < 0.15;
        let peak = if undersized {
            uniform(seed, &[tag("peak")], 88.0, 105.0)
        } else {
            uniform(seed, &[tag("peak")], 45.0, 70.0)
        };
        Transformer {
            run_seed,
            seed,
            peak,
            undersized,
            sag: [0, 1, 2].map(|p| uniform(seed, &[tag("sag"), p], 0.03, 0.07)),
            tap: 0,
            oil: None,
            overloaded: false,
        }
    }
}

/// Residential load shape, about 0.35 at night to 1 in the evening peak.
fn load_shape(at: &Instant) -> f64 {
    let h = at.hour();
    let bump = |centre: f64, width: f64| (-((h - centre) / width).powi(2)).exp();
    let morning = if at.is_weekend() { 0.35 } else { 0.45 };
    0.35 + morning * bump(8.0, 1.5) + 0.3 * bump(13.0, 3.0) + 0.65 * bump(19.5, 2.2)
}

impl Behavior for Transformer {
    fn step(&mut self, at: &Instant) -> Reading {
        let w = weather(self.run_seed, at);
        let n = |name: &str, part: u64| normal(self.seed, &[tag(name), part, at.step]);
        let climate =
            1.0 + 0.035 * (w.temperature - 26.0).max(0.0) + 0.02 * (8.0 - w.temperature).max(0.0);
        let load = (self.peak * load_shape(at) * climate * (1.0 + 0.03 * n("load", 0)))
            .clamp(0.0, LOAD_MAX);

        let target = w.temperature + 55.0 * (load / 100.0).powf(1.6);
        let oil = match self.oil {
            None => target,
            Some(oil) => oil + (target - oil) * (1.0 - (-at.step_hours() / OIL_TAU_H).exp()),
        };
        self.oil = Some(oil);

        let nominal = 230.0 * (1.0 + 0.025 * self.tap as f64);
        let voltage = |p: usize| {
            reading(
                nominal * (1.0 - self.sag[p] * load / 100.0) + 0.8 * n("v", p as u64),
                1,
                0.0,
                300.0,
            )
        };
        let mut events = vec![];
        if !self.overloaded && load > 100.0 {
            self.overloaded = true;
            events.push(EventOut {
                name: "overload",
                params: object(json!({"load": reading(load, 1, 0.0, LOAD_MAX)})),
            });
        } else if self.overloaded && load < 95.0 {
            self.overloaded = false;
        }
        Reading {
            values: object(json!({
                "load": reading(load, 1, 0.0, LOAD_MAX),
                "oil_temperature": reading(oil, 1, -40.0, 150.0),
                "voltage_a": voltage(0),
                "voltage_b": voltage(1),
                "voltage_c": voltage(2),
                "tap": self.tap,
            })),
            events,
        }
    }

    fn command(&mut self, name: &str, params: &Values) -> Result<Values, String> {
        match name {
            "set_tap" => {
                let position = param_i64(params, "position").ok_or_else(|| missing("position"))?;
                if !(-TAP_RANGE..=TAP_RANGE).contains(&position) {
                    return Err(format!("tap position {position} is out of range"));
                }
                self.tap = position;
                Ok(object(json!({"position": self.tap})))
            }
            other => Err(format!("unknown command {other:?}")),
        }
    }

    fn anomaly(&self) -> Option<&'static str> {
        self.undersized.then_some("undersized")
    }
}
