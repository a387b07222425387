//! A simulated device: a scenario's behaviour behind the MQTT contract. It makes telemetry
//! and events step by step, checks commands and desired state against its product before
//! acting on them, and says what to answer. No I/O: the session puts this on the wire.

use crate::clock::Instant;
use crate::scenario::Scenario;
use serde_json::{Value as Json, json};
use std::sync::Arc;
use wanwu_model::value::validate_value;
use wanwu_model::{Access, Product};

/// Values by property or parameter id, as JSON.
pub type Values = serde_json::Map<String, Json>;

/// An event a device tells at one step.
#[derive(Clone, Debug, PartialEq)]
pub struct EventOut {
    /// Event id of the product: the `{name}` of `devices/{id}/events/{name}`.
    pub name: &'static str,
    /// Event parameters.
    pub params: Values,
}

/// What a behaviour produces at one step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reading {
    /// Property values.
    pub values: Values,
    /// Events, if something happened.
    pub events: Vec<EventOut>,
}

/// The physics and firmware of one kind of device. Every method is deterministic: the
/// same calls in the same order give the same results.
pub trait Behavior: Send {
    /// Advances to `at` (steps come in order, none skipped) and reads the sensors.
    fn step(&mut self, at: &Instant) -> Reading;
    /// Runs command `name` with parameters already checked against the product; the
    /// result must fit the command's response, the error is a sentence.
    fn command(&mut self, name: &str, params: &Values) -> Result<Values, String>;
    /// Takes the desired value of a `read_write` property, already checked against it.
    /// By default there are none.
    fn set(&mut self, key: &str, _value: &Json) -> Result<(), String> {
        Err(not_settable(key))
    }
    /// Current values of the `read_write` properties; by default there are none.
    fn reported(&self) -> Values {
        Values::new()
    }
    /// The trouble built into this device (a faulty sensor, a leak, wear), if any.
    fn anomaly(&self) -> Option<&'static str>;
}

/// One step's output, ready to publish.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    /// Simulated time of the values, ms since the Unix epoch.
    pub ts: i64,
    /// Property values.
    pub values: Values,
    /// Events of this step.
    pub events: Vec<EventOut>,
}

impl Tick {
    /// The telemetry payload `{"ts": .., "values": {..}}`.
    pub fn telemetry_payload(&self) -> Vec<u8> {
        json!({"ts": self.ts, "values": self.values})
            .to_string()
            .into_bytes()
    }

    /// The payload `{"params": {..}, "ts": ..}` of an event.
    pub fn event_payload(&self, event: &EventOut) -> Vec<u8> {
        json!({"params": event.params, "ts": self.ts})
            .to_string()
            .into_bytes()
    }
}

/// The answer to a command, for `devices/{id}/replies/{command_id}`.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandReply {
    /// The command's id, the last level of the reply topic.
    pub command_id: String,
    /// `{"status": "ok", "result": {..}}` or `{"status": "error", "error": ".."}`.
    pub body: Json,
}

/// What a device did with desired state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeltaOutcome {
    /// Keys taken.
    pub applied: Vec<String>,
    /// Keys refused, with the reason.
    pub refused: Vec<(String, String)>,
}

/// A simulated device of one scenario.
pub struct SimDevice {
    id: String,
    scenario: Scenario,
    product: Arc<Product>,
    start_ms: i64,
    step_ms: i64,
    next_step: u64,
    behavior: Box<dyn Behavior>,
}

impl SimDevice {
    /// Device number `index` of `scenario` in run `seed`, whose step 0 is at `start_ms` and
    /// whose steps are `step_ms` of simulated time apart.
    pub fn new(
        id: impl Into<String>,
        scenario: Scenario,
        seed: u64,
        index: u64,
        start_ms: i64,
        step_ms: i64,
    ) -> SimDevice {
        SimDevice {
            id: id.into(),
            scenario,
            product: scenario.shared_product(),
            start_ms,
            step_ms: step_ms.max(1),
            next_step: 0,
            behavior: scenario.behavior(seed, index),
        }
    }

    /// The device id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The scenario.
    pub fn scenario(&self) -> Scenario {
        self.scenario
    }

    /// The product (thing model) the device follows.
    pub fn product(&self) -> &Product {
        &self.product
    }

    /// The trouble built into this device, if any (e.g. `stuck_sensor`, `night_leak`).
    pub fn anomaly(&self) -> Option<&'static str> {
        self.behavior.anomaly()
    }

    /// The next step's telemetry and events.
    pub fn tick(&mut self) -> Tick {
        let at = Instant::of(self.start_ms, self.step_ms, self.next_step);
        self.next_step += 1;
        let reading = self.behavior.step(&at);
        Tick {
            ts: at.ts,
            values: reading.values,
            events: reading.events,
        }
    }

    /// Current values of the `read_write` properties: the body of a shadow report.
    pub fn reported(&self) -> Values {
        self.behavior.reported()
    }

    /// Handles a command payload `{"id": "..", "params": {..}}` received on
    /// `devices/{id}/commands/{name}`. `None` when the payload has no command id to
    /// answer to.
    pub fn handle_command(&mut self, name: &str, payload: &[u8]) -> Option<CommandReply> {
        let request: Json = serde_json::from_slice(payload).ok()?;
        let command_id = request.get("id")?.as_str()?.to_owned();
        let body = match self.run_command(name, request.get("params")) {
            Ok(result) => json!({"status": "ok", "result": result}),
            Err(error) => json!({"status": "error", "error": error}),
        };
        Some(CommandReply { command_id, body })
    }

    fn run_command(&mut self, name: &str, params: Option<&Json>) -> Result<Values, String> {
        let command = self
            .product
            .command(name)
            .ok_or_else(|| format!("unknown command {name:?}"))?;
        let params = match params {
            None | Some(Json::Null) => Values::new(),
            Some(Json::Object(map)) => map.clone(),
            Some(_) => return Err("params must be an object".into()),
        };
        for (key, value) in &params {
            let param = command
                .params
                .iter()
                .find(|p| &p.id == key)
                .ok_or_else(|| format!("command {name:?} has no parameter {key:?}"))?;
            validate_value(&format!("params.{key}"), param.spec(), value)
                .map_err(|e| e.to_string())?;
        }
        self.behavior.command(name, &params)
    }

    /// Applies desired state received on `devices/{id}/shadow/delta` (or the answer to a
    /// shadow get on `devices/{id}/shadow`). Takes the object under `delta`, `desired` or
    /// `state` when there is one, else the payload itself; only `read_write` properties
    /// with valid values are taken.
    pub fn apply_desired(&mut self, payload: &[u8]) -> DeltaOutcome {
        let mut outcome = DeltaOutcome::default();
        let Ok(Json::Object(root)) = serde_json::from_slice::<Json>(payload) else {
            outcome
                .refused
                .push((String::new(), "payload is not a JSON object".into()));
            return outcome;
        };
        let desired = ["delta", "desired", "state"]
            .iter()
            .find_map(|k| root.get(*k).and_then(Json::as_object))
            .unwrap_or(&root);
        for (key, value) in desired {
            if matches!(key.as_str(), "version" | "ts" | "metadata") {
                continue;
            }
            match self.take_desired(key, value) {
                Ok(()) => outcome.applied.push(key.clone()),
                Err(reason) => outcome.refused.push((key.clone(), reason)),
            }
        }
        outcome
    }

    fn take_desired(&mut self, key: &str, value: &Json) -> Result<(), String> {
        let property = self
            .product
            .property(key)
            .ok_or_else(|| format!("no property {key:?}"))?;
        if property.access != Access::ReadWrite {
            return Err(format!("property {key:?} is read-only"));
        }
        validate_value(key, property.spec(), value).map_err(|e| e.to_string())?;
        self.behavior.set(key, value)
    }
}

/// The value of parameter `key` as a float, if given.
pub fn param_f64(params: &Values, key: &str) -> Option<f64> {
    params.get(key).and_then(Json::as_f64)
}

/// The value of parameter `key` as an integer, if given.
pub fn param_i64(params: &Values, key: &str) -> Option<i64> {
    params.get(key).and_then(Json::as_i64)
}

/// The value of parameter `key` as a boolean, if given.
pub fn param_bool(params: &Values, key: &str) -> Option<bool> {
    params.get(key).and_then(Json::as_bool)
}

/// The value of parameter `key` as a string, if given.
pub fn param_str<'a>(params: &'a Values, key: &str) -> Option<&'a str> {
    params.get(key).and_then(Json::as_str)
}

/// The error of a command missing parameter `key`.
pub fn missing(key: &str) -> String {
    format!("parameter {key:?} is required")
}

/// The error of setting a property that the behaviour does not take.
pub fn not_settable(key: &str) -> String {
    format!("property {key:?} cannot be set")
}

/// The members of a JSON object built with `json!({..})`; anything else is empty.
pub fn object(json: Json) -> Values {
    match json {
        Json::Object(map) => map,
        _ => Values::new(),
    }
}
