//! What a rule sees of one input: the CEL variables of conditions (`msg`, `device`, `twin`,
//! `prev`) and the template context of actions.

use crate::expr::{cel_from_json, cel_from_model, map_value};
use crate::input::{DeviceInfo, Input, InputKind, TwinSnapshot};
use cel::{Context, Value as CelValue};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use wanwu_model::Value;

/// Everything known when a rule looks at an input (or a schedule tick).
pub(crate) struct Facts<'a> {
    pub tenant: &'a str,
    /// The input; `None` for a schedule tick.
    pub input: Option<&'a Input>,
    /// Time of the input or tick.
    pub ts: i64,
    pub device: Option<&'a DeviceInfo>,
    pub prev: Option<&'a BTreeMap<String, Value>>,
    pub twin: Option<TwinSnapshot>,
}

fn kind_name(input: Option<&Input>) -> &'static str {
    match input.map(|i| i.kind) {
        None => "schedule",
        Some(InputKind::Telemetry) => "telemetry",
        Some(InputKind::Event) => "event",
        Some(InputKind::Presence) => "presence",
        Some(InputKind::Twin) => "twin",
        Some(InputKind::Alarm) => "alarm",
    }
}

fn values_cel(values: Option<&BTreeMap<String, Value>>) -> CelValue {
    map_value(
        values
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), cel_from_model(v))),
    )
}

fn string(s: &str) -> CelValue {
    CelValue::String(Arc::new(s.to_owned()))
}

impl Facts<'_> {
    /// An inner scope of `root` with the variables bound.
    pub fn scope<'r>(&self, root: &'r Context<'static, 'static>) -> Context<'r, 'static> {
        let mut scope = root.new_inner_scope();
        let mut msg = vec![
            ("tenant", string(self.tenant)),
            ("ts", CelValue::Int(self.ts)),
            ("kind", string(kind_name(self.input))),
            ("values", values_cel(self.input.map(|i| &i.values))),
        ];
        if let Some(input) = self.input {
            msg.push(("device", string(&input.device)));
            if let Some(event) = &input.event {
                msg.push(("event", string(event)));
            }
            if let Some(alarm) = &input.alarm {
                msg.push((
                    "alarm",
                    cel_from_json(&serde_json::to_value(alarm).unwrap_or(Json::Null)),
                ));
            }
        }
        scope.add_variable_from_value("msg", map_value(msg));
        let device = match self.device {
            Some(d) => map_value([
                ("id", string(&d.id)),
                ("name", string(&d.name)),
                ("product", string(&d.product)),
                (
                    "tags",
                    map_value(d.tags.iter().map(|(k, v)| (k.clone(), string(v)))),
                ),
                (
                    "attributes",
                    cel_from_json(&Json::Object(d.attributes.clone())),
                ),
                (
                    "assets",
                    CelValue::List(Arc::new(d.assets.iter().map(|a| string(a)).collect())),
                ),
            ]),
            None => map_value::<&str>([]),
        };
        scope.add_variable_from_value("device", device);
        scope.add_variable_from_value("prev", values_cel(self.prev));
        let twin = self.twin.clone().unwrap_or_default();
        scope.add_variable_from_value(
            "twin",
            map_value([
                ("reported", cel_from_json(&Json::Object(twin.reported))),
                ("desired", cel_from_json(&Json::Object(twin.desired))),
            ]),
        );
        scope
    }

    /// The template context of actions (see [`crate::template`]).
    pub fn template_context(&self, rule_id: &str, rule_name: &str) -> Json {
        let input = self.input;
        json!({
            "tenant": self.tenant,
            "device": input.map(|i| i.device.as_str()),
            "device_name": self.device.map(|d| d.name.as_str()),
            "product": self.device.map(|d| d.product.as_str()),
            "tags": self.device.map(|d| &d.tags),
            "attributes": self.device.map(|d| &d.attributes),
            "ts": self.ts,
            "kind": kind_name(input),
            "event": input.and_then(|i| i.event.as_deref()),
            "values": input.map(|i| &i.values),
            "prev": self.prev,
            "alarm": input.and_then(|i| i.alarm.as_ref()),
            "rule": rule_id,
            "rule_name": rule_name,
            "derived": {},
        })
    }
}
