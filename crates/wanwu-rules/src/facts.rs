//! What a rule sees of one input: the CEL variables of conditions (`msg`, `device`, `twin`,
//! `prev`) and the template context of actions.

use crate::expr::{Vars, cel_from_json, cel_from_model, map_value};
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

impl<'a> Facts<'a> {
    /// The facts of `input` from `device`.
    pub fn of_input(
        input: &'a Input,
        device: Option<&'a DeviceInfo>,
        prev: &'a BTreeMap<String, Value>,
        twin: Option<TwinSnapshot>,
    ) -> Self {
        Facts {
            tenant: &input.tenant,
            input: Some(input),
            ts: input.ts,
            device,
            prev: Some(prev),
            twin,
        }
    }
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

fn object_cel<'a>(entries: impl IntoIterator<Item = (&'a String, &'a Json)>) -> CelValue {
    map_value(
        entries
            .into_iter()
            .map(|(k, v)| (k.clone(), cel_from_json(v))),
    )
}

fn string(s: &str) -> CelValue {
    CelValue::String(Arc::new(s.to_owned()))
}

impl Facts<'_> {
    /// An inner scope of `root` with the variables in `vars` bound.
    pub fn scope<'r>(
        &self,
        root: &'r Context<'static, 'static>,
        vars: Vars,
    ) -> Context<'r, 'static> {
        let mut scope = root.new_inner_scope();
        if vars.msg {
            scope.add_variable_from_value("msg", self.msg());
        }
        if vars.device {
            scope.add_variable_from_value("device", self.device_value());
        }
        if vars.prev {
            scope.add_variable_from_value("prev", values_cel(self.prev));
        }
        if vars.twin {
            let twin = self.twin.as_ref();
            let part =
                |map: Option<&serde_json::Map<String, Json>>| object_cel(map.into_iter().flatten());
            scope.add_variable_from_value(
                "twin",
                map_value([
                    ("reported", part(twin.map(|t| &t.reported))),
                    ("desired", part(twin.map(|t| &t.desired))),
                ]),
            );
        }
        scope
    }

    fn msg(&self) -> CelValue {
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
        map_value(msg)
    }

    fn device_value(&self) -> CelValue {
        let Some(d) = self.device else {
            return map_value::<&str>([]);
        };
        map_value([
            ("id", string(&d.id)),
            ("name", string(&d.name)),
            ("product", string(&d.product)),
            (
                "tags",
                map_value(d.tags.iter().map(|(k, v)| (k.clone(), string(v)))),
            ),
            ("attributes", object_cel(&d.attributes)),
            (
                "assets",
                CelValue::List(Arc::new(d.assets.iter().map(|a| string(a)).collect())),
            ),
        ])
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
