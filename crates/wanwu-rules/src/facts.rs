//! What a rule sees of one input: the CEL variables of conditions (`msg`, `device`, `twin`,
//! `prev`) and the template context of actions.

use crate::expr::{Vars, cel_from_json, cel_from_model, map_value};
use crate::input::{DeviceInfo, Input, InputKind, TwinSnapshot};
use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString,
};
use cel::{Context, Value as CelValue};
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, HashMap};
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

/// `msg.kind` of an input, or of a tick.
pub(crate) fn kind_name(input: Option<&Input>) -> &'static str {
    match input.map(|i| i.kind) {
        None => "schedule",
        Some(InputKind::Telemetry) => "telemetry",
        Some(InputKind::Event) => "event",
        Some(InputKind::Presence) => "presence",
        Some(InputKind::Twin) => "twin",
        Some(InputKind::Alarm) => "alarm",
    }
}

/// A CEL value bound directly, without the conversion of a [`CelValue`] when bound. It
/// borrows the input's strings (keys, ids, values) instead of copying them.
type Val<'a> = Box<dyn cel::common::value::Val + 'a>;

fn model_val(value: &Value) -> Val<'_> {
    match value {
        Value::Bool(b) => Box::new(CelBool::from(*b)),
        Value::Int(i) => Box::new(CelInt::from(*i)),
        Value::Float(f) => Box::new(CelDouble::from(*f)),
        Value::String(s) => string_val(s),
        Value::Geo(_) => boxed(cel_from_model(value)),
    }
}

/// A [`CelValue`] as a bound value (every value this crate builds converts).
fn boxed<'a>(value: CelValue) -> Val<'a> {
    Val::try_from(value).unwrap_or_else(|_| Box::new(CelNull))
}

fn val_map<'a>(entries: impl IntoIterator<Item = (&'a str, Val<'a>)>) -> Val<'a> {
    let map: HashMap<CelMapKey<'a>, Val<'a>> = entries
        .into_iter()
        .map(|(k, v)| (CelMapKey::from(k), v))
        .collect();
    Box::new(CelMap::from(map))
}

fn values_val(values: Option<&BTreeMap<String, Value>>) -> Val<'_> {
    val_map(
        values
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), model_val(v))),
    )
}

fn string_val(s: &str) -> Val<'_> {
    Box::new(CelString::from(s))
}

fn object_cel<'a>(entries: impl IntoIterator<Item = (&'a String, &'a Json)>) -> CelValue {
    map_value(
        entries
            .into_iter()
            .map(|(k, v)| (k.clone(), cel_from_json(v))),
    )
}

impl<'a> Facts<'a> {
    /// An inner scope of `root` with the variables in `vars` bound; they borrow the facts.
    pub fn scope<'r>(&'r self, root: &'r Context<'static, 'static>, vars: Vars) -> Context<'r, 'a> {
        let mut scope = root.new_inner_scope();
        if vars.msg {
            scope.add_variable_as_val("msg", self.msg());
        }
        if vars.device {
            scope.add_variable_as_val("device", self.device_value());
        }
        if vars.prev {
            scope.add_variable_as_val("prev", values_val(self.prev));
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

    fn msg(&self) -> Val<'a> {
        let mut msg: Vec<(&str, Val<'a>)> = vec![
            ("tenant", string_val(self.tenant)),
            ("ts", Box::new(CelInt::from(self.ts))),
            ("kind", string_val(kind_name(self.input))),
            ("values", values_val(self.input.map(|i| &i.values))),
        ];
        if let Some(input) = self.input {
            msg.push(("device", string_val(&input.device)));
            if let Some(event) = &input.event {
                msg.push(("event", string_val(event)));
            }
            if let Some(alarm) = &input.alarm {
                let json = serde_json::to_value(alarm).unwrap_or(Json::Null);
                msg.push(("alarm", boxed(cel_from_json(&json))));
            }
        }
        val_map(msg)
    }

    fn device_value(&self) -> Val<'a> {
        let Some(d) = self.device else {
            return val_map([]);
        };
        let tags = val_map(d.tags.iter().map(|(k, v)| (k.as_str(), string_val(v))));
        let assets: Vec<Val<'a>> = d.assets.iter().map(|a| string_val(a)).collect();
        val_map([
            ("id", string_val(&d.id)),
            ("name", string_val(&d.name)),
            ("product", string_val(&d.product)),
            ("tags", tags),
            ("attributes", boxed(object_cel(&d.attributes))),
            ("assets", Box::new(CelList::from(assets))),
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
