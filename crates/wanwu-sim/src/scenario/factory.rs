//! Factory machines (CNC spindles): they run in two shifts on weekdays and one on Saturday.
//! Some wear out: after an onset their vibration grows slowly, then ever faster, until the
//! bearing fails (`machine_fault`) and the machine stops until it is `reset` (repaired).

use crate::clock::Instant;
use crate::device::{Behavior, EventOut, Reading, Values, missing, object, param_i64};
use crate::fields::{Field, reading};
use crate::noise::{normal, tag, uniform, unit};
use serde_json::json;
use wanwu_model::{Command, Event, Product, Severity};

const STATES: &[&str] = &["running", "idle", "fault"];
const RPM_MAX: i64 = 24_000;
const VIBRATION_MAX: f64 = 100.0;
/// Fault code of a spindle bearing failure.
const BEARING_FAILURE: i64 = 301;
/// Steps after a repair before the new bearing starts to wear.
const REPAIRED_BEARING_GRACE_STEPS: u64 = 1000;
/// Temperature time constant, hours.
const THERMAL_TAU_H: f64 = 0.3;

/// The `machine` product.
pub fn product() -> Product {
    let rpm = || Field::int("rpm", "Speed", "rpm", 0, RPM_MAX).param();
    Product {
        id: "machine".into(),
        name: "CNC machine".into(),
        description: Some("Machining centre with spindle condition monitoring.".into()),
        properties: vec![
            Field::float("vibration_rms", "Vibration RMS", "mm/s", 0.0, VIBRATION_MAX).read(),
            Field::float("temperature", "Spindle temperature", "°C", 0.0, 200.0).read(),
            Field::int("spindle_speed", "Spindle speed", "rpm", 0, RPM_MAX).read(),
            Field::choice("state", "State", STATES).read(),
        ],
        events: vec![Event {
            id: "machine_fault".into(),
            name: Some("Machine fault".into()),
            description: Some("The machine stopped on a fault.".into()),
            severity: Severity::Critical,
            params: vec![
                Field::int("code", "Fault code", "", 0, 999).param(),
                Field::float(
                    "vibration_rms",
                    "Vibration at failure",
                    "mm/s",
                    0.0,
                    VIBRATION_MAX,
                )
                .param(),
            ],
        }],
        commands: vec![
            Command {
                id: "set_speed".into(),
                name: Some("Set spindle speed".into()),
                description: None,
                params: vec![rpm()],
                response: vec![rpm()],
            },
            Command {
                id: "reset".into(),
                name: Some("Reset after repair".into()),
                description: Some("Clears a fault once the machine has been repaired.".into()),
                params: vec![],
                response: vec![Field::choice("state", "State", STATES).param()],
            },
        ],
    }
}

/// One machine.
pub struct Machine {
    seed: u64,
    rpm: i64,
    /// Vibration of a healthy spindle at speed, mm/s.
    base_vibration: f64,
    degrading: bool,
    wear_onset: u64,
    /// Running hours from first wear to failure.
    life_hours: f64,
    /// 0 (new) to 1 (failed).
    wear: f64,
    faulted: bool,
    temperature: Option<f64>,
    /// The latest step seen.
    step: u64,
}

impl Machine {
    /// Machine with its own `seed`.
    pub fn new(seed: u64) -> Machine {
        Machine {
            seed,
            rpm: (uniform(seed, &[tag("rpm")], 60.0, 180.0)) as i64 * 100,
            base_vibration: uniform(seed, &[tag("vibration")], 1.2, 2.8),
            degrading: unit(seed, &[tag("degrading")]) < 0.2,
            wear_onset: uniform(seed, &[tag("onset")], 0.0, 500.0) as u64,
            life_hours: uniform(seed, &[tag("life")], 30.0, 120.0),
            wear: 0.0,
            faulted: false,
            temperature: None,
            step: 0,
        }
    }

    fn scheduled(at: &Instant) -> bool {
        let h = at.hour();
        match at.weekday() {
            0..=4 => (6.0..22.0).contains(&h),
            5 => (8.0..16.0).contains(&h),
            _ => false,
        }
    }

    fn state(&self, running: bool) -> &'static str {
        match (self.faulted, running) {
            (true, _) => "fault",
            (false, true) => "running",
            (false, false) => "idle",
        }
    }
}

impl Behavior for Machine {
    fn step(&mut self, at: &Instant) -> Reading {
        self.step = at.step;
        let running = !self.faulted && Self::scheduled(at);
        if running && self.degrading && at.step >= self.wear_onset {
            self.wear = (self.wear + at.step_hours() / self.life_hours).min(1.0);
        }
        let n = |name: &str| normal(self.seed, &[tag(name), at.step]);
        let speed = if running { self.rpm } else { 0 };
        let vibration = if running {
            self.base_vibration
                * (speed as f64 / 12_000.0).sqrt()
                * (1.0 + 9.0 * self.wear.powi(3))
                * (1.0 + 0.05 * n("vib"))
        } else {
            0.05 + 0.02 * n("vib").abs()
        };
        let mut events = vec![];
        if running && self.wear >= 1.0 {
            self.faulted = true;
            events.push(EventOut {
                name: "machine_fault",
                params: object(json!({
                    "code": BEARING_FAILURE,
                    "vibration_rms": reading(vibration, 2, 0.0, VIBRATION_MAX),
                })),
            });
        }
        let target = 24.0
            + if running {
                14.0 + speed as f64 / 800.0 + 25.0 * self.wear
            } else {
                0.0
            };
        let temperature = match self.temperature {
            None => target,
            Some(t) => t + (target - t) * (1.0 - (-at.step_hours() / THERMAL_TAU_H).exp()),
        };
        self.temperature = Some(temperature);
        Reading {
            values: object(json!({
                "vibration_rms": reading(vibration, 2, 0.0, VIBRATION_MAX),
                "temperature": reading(temperature + 0.3 * n("temp"), 1, 0.0, 200.0),
                "spindle_speed": if self.faulted { 0 } else { speed },
                "state": self.state(running && !self.faulted),
            })),
            events,
        }
    }

    fn command(&mut self, name: &str, params: &Values) -> Result<Values, String> {
        match name {
            "set_speed" => {
                let rpm = param_i64(params, "rpm").ok_or_else(|| missing("rpm"))?;
                if !(0..=RPM_MAX).contains(&rpm) {
                    return Err(format!("speed {rpm} rpm is out of range"));
                }
                self.rpm = rpm;
                Ok(object(json!({"rpm": rpm})))
            }
            "reset" => {
                self.faulted = false;
                self.wear = 0.0;
                // A new bearing: wear starts again well after the repair.
                self.wear_onset = self.step + REPAIRED_BEARING_GRACE_STEPS;
                Ok(object(json!({"state": "idle"})))
            }
            other => Err(format!("unknown command {other:?}")),
        }
    }

    fn anomaly(&self) -> Option<&'static str> {
        self.degrading.then_some("degrading")
    }
}
