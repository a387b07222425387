//! Actions: as written in rules and scenes ([`ActionDef`]), and as planned for the platform
//! to carry out ([`PlannedAction`]).

use crate::alarm::AlarmSeverity;
use crate::span::Span;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use wanwu_model::Value;

/// An action as written.
///
/// Strings in `values`, `params`, `details`, `payload`, `body`, `topic` and `url` are
/// templates (see [`crate::template`]). `devices` absent or empty means the device whose
/// input triggered the rule (rules triggered by a schedule, and scenes, must name devices).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionDef {
    /// Set desired twin keys.
    SetDesired {
        /// Target devices.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        devices: Vec<String>,
        /// Keys and (templated) values.
        values: serde_json::Map<String, serde_json::Value>,
    },
    /// Send a command.
    Command {
        /// Target devices.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        devices: Vec<String>,
        /// Command name of the product's thing model.
        name: String,
        /// Parameters (templated).
        #[serde(default)]
        params: serde_json::Map<String, serde_json::Value>,
    },
    /// Raise (or repeat) an alarm.
    RaiseAlarm {
        /// Alarm type.
        alarm: String,
        /// Severity.
        severity: AlarmSeverity,
        /// Details (templated).
        #[serde(default)]
        details: serde_json::Value,
        /// Device it is about; default the triggering device.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
    },
    /// Clear an open alarm.
    ClearAlarm {
        /// Alarm type.
        alarm: String,
        /// Device it is about; default the triggering device.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
    },
    /// Publish an MQTT message inside the tenant.
    Publish {
        /// Topic (templated).
        topic: String,
        /// Payload (templated JSON).
        payload: serde_json::Value,
        /// QoS 0 or 1.
        #[serde(default)]
        qos: u8,
        /// Retain flag.
        #[serde(default)]
        retain: bool,
    },
    /// POST JSON to a URL.
    Webhook {
        /// http or https URL (templated).
        url: String,
        /// Extra headers.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
        /// Body (templated JSON); default the whole template context.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<serde_json::Value>,
        /// Time limit of one attempt; default 5s.
        #[serde(default = "default_timeout")]
        timeout: Span,
        /// Attempts after the first; default 3.
        #[serde(default = "default_retries")]
        retries: u32,
        /// Wait before the first retry, doubled after each; default 500ms.
        #[serde(default = "default_backoff")]
        backoff: Span,
    },
    /// Write a derived telemetry key of the triggering device, computed by CEL.
    Derive {
        /// Telemetry key written.
        key: String,
        /// CEL expression over the same variables as conditions.
        expr: String,
    },
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

impl ActionDef {
    /// The action's type as written, e.g. `raise_alarm`.
    pub fn type_name(&self) -> &'static str {
        match self {
            ActionDef::SetDesired { .. } => "set_desired",
            ActionDef::Command { .. } => "command",
            ActionDef::RaiseAlarm { .. } => "raise_alarm",
            ActionDef::ClearAlarm { .. } => "clear_alarm",
            ActionDef::Publish { .. } => "publish",
            ActionDef::Webhook { .. } => "webhook",
            ActionDef::Derive { .. } => "derive",
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
