//! Actions: as written in rules and scenes ([`ActionDef`]), and as planned for the platform
//! to carry out ([`PlannedAction`]).

use crate::alarm::AlarmSeverity;
use crate::error::{tagged, variant};
use crate::span::Span;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use wanwu_model::Value;

/// An action as written.
///
/// Strings in `values`, `params`, `details`, `payload`, `body`, `topic` and `url` are
/// templates (see [`crate::template`]). `devices` absent or empty means the device whose
/// input triggered the rule (rules triggered by a schedule, and scenes, must name devices).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ActionDef {
    /// Set desired twin keys.
    SetDesired(SetDesiredDef),
    /// Send a command.
    Command(CommandDef),
    /// Raise (or repeat) an alarm.
    RaiseAlarm(RaiseAlarmDef),
    /// Clear an open alarm.
    ClearAlarm(ClearAlarmDef),
    /// Publish an MQTT message inside the tenant.
    Publish(PublishDef),
    /// POST JSON to a URL.
    Webhook(WebhookDef),
    /// Write a derived telemetry key of the triggering device, computed by CEL.
    Derive(DeriveDef),
}

/// Set desired twin keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetDesiredDef {
    /// Target devices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// Keys and (templated) values.
    pub values: serde_json::Map<String, serde_json::Value>,
}

/// Send a command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandDef {
    /// Target devices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// Command name of the product's thing model.
    pub name: String,
    /// Parameters (templated).
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// Raise (or repeat) an alarm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaiseAlarmDef {
    /// Alarm type.
    pub alarm: String,
    /// Severity.
    pub severity: AlarmSeverity,
    /// Details (templated).
    #[serde(default)]
    pub details: serde_json::Value,
    /// Device it is about; default the triggering device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// Clear an open alarm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearAlarmDef {
    /// Alarm type.
    pub alarm: String,
    /// Device it is about; default the triggering device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// Publish an MQTT message inside the tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishDef {
    /// Topic (templated).
    pub topic: String,
    /// Payload (templated JSON).
    pub payload: serde_json::Value,
    /// QoS 0 or 1.
    #[serde(default)]
    pub qos: u8,
    /// Retain flag.
    #[serde(default)]
    pub retain: bool,
}

/// POST JSON to a URL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookDef {
    /// http or https URL (templated).
    pub url: String,
    /// Extra headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Body (templated JSON); default the whole template context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// Time limit of one attempt; default 5s.
    #[serde(default = "default_timeout")]
    pub timeout: Span,
    /// Attempts after the first; default 3.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Wait before the first retry, doubled after each; default 500ms.
    #[serde(default = "default_backoff")]
    pub backoff: Span,
}

/// Write a derived telemetry key of the triggering device, computed by CEL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeriveDef {
    /// Telemetry key written.
    pub key: String,
    /// CEL expression over the same variables as conditions.
    pub expr: String,
}

fn default_timeout() -> Span {
    Span::from_millis(5_000)
}

fn default_retries() -> u32 {
    3
}

fn default_backoff() -> Span {
    Span::from_millis(500)
}

impl<'de> Deserialize<'de> for ActionDef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const TYPES: &[&str] = &[
            "set_desired",
            "command",
            "raise_alarm",
            "clear_alarm",
            "publish",
            "webhook",
            "derive",
        ];
        let (tag, fields) = tagged(deserializer, TYPES)?;
        match tag.as_str() {
            "set_desired" => variant(fields).map(ActionDef::SetDesired),
            "command" => variant(fields).map(ActionDef::Command),
            "raise_alarm" => variant(fields).map(ActionDef::RaiseAlarm),
            "clear_alarm" => variant(fields).map(ActionDef::ClearAlarm),
            "publish" => variant(fields).map(ActionDef::Publish),
            "webhook" => variant(fields).map(ActionDef::Webhook),
            _ => variant(fields).map(ActionDef::Derive),
        }
    }
}

impl ActionDef {
    /// The action's type as written, e.g. `raise_alarm`.
    pub fn type_name(&self) -> &'static str {
        match self {
            ActionDef::SetDesired(_) => "set_desired",
            ActionDef::Command(_) => "command",
            ActionDef::RaiseAlarm(_) => "raise_alarm",
            ActionDef::ClearAlarm(_) => "clear_alarm",
            ActionDef::Publish(_) => "publish",
            ActionDef::Webhook(_) => "webhook",
            ActionDef::Derive(_) => "derive",
        }
    }
}

/// An action ready to carry out: templates rendered, targets resolved.
///
/// `hops` is the hop count the platform must put on any input this action causes (the twin
/// change of a `set_desired`, the telemetry of a `write_telemetry`, the alarm change).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PlannedAction {
    /// Set desired twin keys of `device`.
    SetDesired {
        /// Tenant.
        tenant: String,
        /// Device.
        device: String,
        /// Keys and values.
        values: serde_json::Map<String, serde_json::Value>,
        /// Hop count of the resulting twin change.
        hops: u8,
    },
    /// Send command `name` to `device`.
    Command {
        /// Tenant.
        tenant: String,
        /// Device.
        device: String,
        /// Command name.
        name: String,
        /// Parameters.
        params: serde_json::Map<String, serde_json::Value>,
        /// Hop count of what the command causes.
        hops: u8,
    },
    /// Raise an alarm.
    RaiseAlarm {
        /// Tenant.
        tenant: String,
        /// Device.
        device: String,
        /// Alarm type.
        alarm: String,
        /// Severity.
        severity: AlarmSeverity,
        /// Details.
        details: serde_json::Value,
        /// Occurrence time.
        ts: i64,
        /// Hop count of the resulting alarm change.
        hops: u8,
    },
    /// Clear the open alarm of this type on `device`.
    ClearAlarm {
        /// Tenant.
        tenant: String,
        /// Device.
        device: String,
        /// Alarm type.
        alarm: String,
        /// Time of clearing.
        ts: i64,
        /// Hop count of the resulting alarm change.
        hops: u8,
    },
    /// Publish an MQTT message within the tenant.
    Publish {
        /// Tenant.
        tenant: String,
        /// Topic.
        topic: String,
        /// Payload (JSON).
        payload: serde_json::Value,
        /// QoS.
        qos: u8,
        /// Retain flag.
        retain: bool,
    },
    /// POST a JSON body.
    Webhook(WebhookRequest),
    /// Write telemetry values of `device` at `ts`.
    WriteTelemetry {
        /// Tenant.
        tenant: String,
        /// Device.
        device: String,
        /// Time of the values.
        ts: i64,
        /// Values by key.
        values: BTreeMap<String, Value>,
        /// Hop count of the resulting telemetry input.
        hops: u8,
    },
}

/// A webhook call to make.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookRequest {
    /// URL.
    pub url: String,
    /// Extra headers.
    pub headers: BTreeMap<String, String>,
    /// JSON body.
    pub body: serde_json::Value,
    /// Time limit of one attempt.
    pub timeout: Span,
    /// Attempts after the first.
    pub retries: u32,
    /// Wait before the first retry, doubled after each.
    pub backoff: Span,
}
