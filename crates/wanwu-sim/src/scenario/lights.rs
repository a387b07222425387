//! Street lights: in `auto` mode they switch on after dusk (later in summer) and dim after
//! midnight; `set_power` or desired `on`/`level` switch them to `manual`, desired
//! `mode: auto` hands them back to the schedule. Some lamps fail: they draw only standby
//! power while on, report `lamp_ok: false` and tell `lamp_failure` once.

use crate::clock::Instant;
use crate::device::{
    Behavior, EventOut, Reading, Values, missing, not_settable, object, param_bool, param_i64,
};
use crate::fields::{Field, reading};
use crate::noise::{normal, tag, uniform, unit};
use serde_json::{Value as Json, json};
use std::f64::consts::TAU;
use wanwu_model::{Command, Event, Product, Severity};

const MODES: &[&str] = &["auto", "manual"];
const POWER_MAX: f64 = 500.0;
/// What the driver draws with the lamp off (or failed), W.
const STANDBY_W: f64 = 0.6;

/// The `street_light` product.
pub fn product() -> Product {
    let level = || Field::int("level", "Dimming level", "%", 0, 100);
    Product {
        id: "street_light".into(),
        name: "Street light".into(),
        description: Some("LED street light with a controllable driver.".into()),
        properties: vec![
            Field::flag("on", "On").read_write(),
            level().read_write(),
            Field::choice("mode", "Mode", MODES).read_write(),
            Field::float("power", "Power", "W", 0.0, POWER_MAX).read(),
            Field::flag("lamp_ok", "Lamp OK").read(),
        ],
        events: vec![Event {
            id: "lamp_failure".into(),
            name: Some("Lamp failure".into()),
            description: Some("The lamp draws no power while switched on.".into()),
            severity: Severity::Critical,
            params: vec![Field::float("power", "Power drawn", "W", 0.0, POWER_MAX).param()],
        }],
        commands: vec![
            Command {
                id: "set_power".into(),
                name: Some("Switch".into()),
                description: Some("Switches the light and takes it out of the schedule.".into()),
                params: vec![Field::flag("on", "On").param(), level().param()],
                response: vec![Field::flag("on", "On").param(), level().param()],
            },
            Command {
                id: "blink".into(),
                name: Some("Blink".into()),
                description: Some("Blinks to be found by a crew.".into()),
                params: vec![Field::int("times", "Times", "", 1, 10).param()],
                response: vec![Field::int("times", "Times", "", 1, 10).param()],
            },
        ],
    }
}

/// One street light.
pub struct StreetLight {
    seed: u64,
    rated_w: f64,
    on: bool,
    level: i64,
    manual: bool,
    failing: bool,
    failure_onset: u64,
    failed: bool,
    failure_told: bool,
}

impl StreetLight {
    /// Light with its own `seed`.
    pub fn new(seed: u64) -> StreetLight {
        StreetLight {
            seed,
            rated_w: uniform(seed, &[tag("rated")], 60.0, 150.0).round(),
            on: false,
            level: 100,
            manual: false,
            failing: unit(seed, &[tag("failing")]) < 0.1,
            failure_onset: uniform(seed, &[tag("onset")], 0.0, 400.0) as u64,
            failed: false,
            failure_told: false,
        }
    }

    /// Follows the schedule: on from dusk to dawn, dimmed between 00:00 and 05:00.
    fn follow_schedule(&mut self, at: &Instant) {
        let h = at.hour();
        let summer = (TAU * (at.day_of_year() - 81.0) / 365.25).sin();
        let dusk = 18.0 + 1.0 * summer;
        let dawn = 6.0 - 0.8 * summer;
        self.on = h >= dusk || h < dawn;
        self.level = if h < 5.0 { 50 } else { 100 };
    }

    fn mode(&self) -> &'static str {
        if self.manual { "manual" } else { "auto" }
    }
}

impl Behavior for StreetLight {
    fn step(&mut self, at: &Instant) -> Reading {
        if !self.manual {
            self.follow_schedule(at);
        }
        if self.failing && at.step >= self.failure_onset {
            self.failed = true;
        }
        let lit = self.on && !self.failed && self.level > 0;
        let power = if lit {
            self.rated_w
                * (0.1 + 0.9 * self.level as f64 / 100.0)
                * (1.0 + 0.02 * normal(self.seed, &[tag("power"), at.step]))
        } else {
            STANDBY_W
        };
        let power = reading(power, 1, 0.0, POWER_MAX);
        let mut events = vec![];
        if self.failed && self.on && !self.failure_told {
            self.failure_told = true;
            events.push(EventOut {
                name: "lamp_failure",
                params: object(json!({"power": power})),
            });
        }
        Reading {
            values: object(json!({
                "on": self.on,
                "level": self.level,
                "mode": self.mode(),
                "power": power,
                "lamp_ok": !self.failed,
            })),
            events,
        }
    }

    fn command(&mut self, name: &str, params: &Values) -> Result<Values, String> {
        match name {
            "set_power" => {
                let on = param_bool(params, "on").ok_or_else(|| missing("on"))?;
                self.on = on;
                if let Some(level) = param_i64(params, "level") {
                    self.level = level;
                }
                self.manual = true;
                Ok(object(json!({"on": self.on, "level": self.level})))
            }
            "blink" => {
                let times = param_i64(params, "times").ok_or_else(|| missing("times"))?;
                Ok(object(json!({"times": times})))
            }
            other => Err(format!("unknown command {other:?}")),
        }
    }

    fn set(&mut self, key: &str, value: &Json) -> Result<(), String> {
        match (key, value) {
            ("on", Json::Bool(on)) => {
                self.on = *on;
                self.manual = true;
            }
            ("level", level) if level.as_i64().is_some_and(|l| (0..=100).contains(&l)) => {
                self.level = level.as_i64().unwrap_or(100);
                self.manual = true;
            }
            ("mode", Json::String(mode)) if MODES.contains(&mode.as_str()) => {
                self.manual = mode == "manual";
            }
            _ => return Err(not_settable(key)),
        }
        Ok(())
    }

    fn reported(&self) -> Values {
        object(json!({"on": self.on, "level": self.level, "mode": self.mode()}))
    }

    fn anomaly(&self) -> Option<&'static str> {
        self.failing.then_some("failing_lamp")
    }
}
