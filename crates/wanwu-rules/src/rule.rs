//! Rules and scenes as users write them (JSON): the definitions, before compiling.

use crate::action::ActionDef;
use crate::alarm::{AlarmSeverity, AlarmStatus};
use crate::error::{DefinitionErrors, from_json, tagged, variant};
use crate::input::{DeviceInfo, InputKind};
use crate::span::Span;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A rule: when its trigger happens and its condition holds (for long enough), plan its actions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// Id, unique within the tenant.
    pub id: String,
    /// Tenant the rule belongs to; it sees only that tenant's devices.
    pub tenant: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// A disabled rule is kept but never evaluated.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// What makes the rule look.
    pub trigger: Trigger,
    /// CEL expression that must be true; absent means always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// How long the condition must hold without a break before the rule fires (debounce).
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<Span>,
    /// When the fired rule is over (hysteresis), and what to do then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear: Option<ClearDef>,
    /// What to do when it fires.
    pub actions: Vec<ActionDef>,
}

fn enabled_by_default() -> bool {
    true
}

impl RuleDef {
    /// Parses a rule from JSON; an unknown field or a bad value names its path.
    pub fn from_json(json: &[u8]) -> Result<RuleDef, DefinitionErrors> {
        from_json(json)
    }
}

/// The end of a fired rule: a CEL condition and the actions it runs (e.g. clear the alarm).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearDef {
    /// CEL expression; once true, the rule is over until its condition fires it again.
    pub condition: String,
    /// What to do when it is over.
    #[serde(default)]
    pub actions: Vec<ActionDef>,
}

/// What makes a rule look.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    /// Inputs of these kinds from the chosen devices.
    Message(MessageTrigger),
    /// A cron schedule in a time zone.
    Schedule(ScheduleTrigger),
    /// An alarm of a chosen device changed.
    Alarm(AlarmTrigger),
}

/// Inputs of these kinds from the chosen devices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageTrigger {
    /// Kinds of input (not `alarm`: use an alarm trigger); default `["telemetry"]`.
    #[serde(default = "telemetry_only")]
    pub kinds: Vec<InputKind>,
    /// Which devices; default all of the tenant's.
    #[serde(default)]
    pub devices: DeviceSelector,
}

/// A cron schedule in a time zone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleTrigger {
    /// Five fields (minute hour day-of-month month day-of-week), or six with seconds first.
    pub cron: String,
    /// IANA time zone, default `UTC`.
    #[serde(default = "utc")]
    pub tz: String,
}

/// An alarm of a chosen device changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmTrigger {
    /// Alarm types; empty means any.
    #[serde(default)]
    pub types: Vec<String>,
    /// Statuses after the change; empty means any.
    #[serde(default)]
    pub statuses: Vec<AlarmStatus>,
    /// Lowest severity; absent means any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<AlarmSeverity>,
    /// Which devices; default all.
    #[serde(default)]
    pub devices: DeviceSelector,
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (tag, fields) = tagged(deserializer, &["message", "schedule", "alarm"])?;
        match tag.as_str() {
            "message" => variant(fields).map(Trigger::Message),
            "schedule" => variant(fields).map(Trigger::Schedule),
            _ => variant(fields).map(Trigger::Alarm),
        }
    }
}

fn telemetry_only() -> Vec<InputKind> {
    vec![InputKind::Telemetry]
}

fn utc() -> String {
    "UTC".into()
}

/// Which devices a trigger listens to: every criterion given must hold (none given: all).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSelector {
    /// Devices of this product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Devices in this asset's subtree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    /// Devices carrying all these tags with these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// These devices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
}

impl DeviceSelector {
    /// True when `device` is chosen.
    pub fn matches(&self, device: &DeviceInfo) -> bool {
        self.product.as_ref().is_none_or(|p| *p == device.product)
            && self
                .asset
                .as_ref()
                .is_none_or(|a| device.assets.contains(a))
            && self.tags.iter().all(|(k, v)| device.tags.get(k) == Some(v))
            && (self.ids.is_empty() || self.ids.contains(&device.id))
    }
}

/// A scene: a named list of actions run on demand.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SceneDef {
    /// Id, unique within the tenant.
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// What to do; actions aimed at devices must name them.
    pub actions: Vec<ActionDef>,
}

impl SceneDef {
    /// Parses a scene from JSON; an unknown field or a bad value names its path.
    pub fn from_json(json: &[u8]) -> Result<SceneDef, DefinitionErrors> {
        from_json(json)
    }
}
