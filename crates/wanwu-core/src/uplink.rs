//! The one entry point for what a device sends, whatever the protocol: a [`DeviceUplink`]
//! handed to [`Platform::handle_uplink`], which answers with a [`Disposition`] or a
//! [`Refusal`]. Protocol adapters translate topics or paths into uplinks and refusals into
//! their protocol (an MQTT reason code, an HTTP status); they decide nothing themselves.

use crate::Platform;
use crate::auth::DevicePrincipal;
use crate::ingest::IngestError;
use crate::mqtt::topics::ERRORS;
use serde_json::json;

/// What a device sent, by kind, with the raw payload (parsing belongs to the handler).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceUplink<'a> {
    /// Property values: `devices/{id}/telemetry`.
    Telemetry {
        /// JSON payload.
        payload: &'a [u8],
    },
    /// An event occurrence: `devices/{id}/events/{name}`.
    Event {
        /// Event id of the product's thing model.
        name: &'a str,
        /// JSON payload.
        payload: &'a [u8],
    },
    /// The device's own view of its state: `devices/{id}/shadow/reported`.
    ShadowReported {
        /// JSON object of property values.
        payload: &'a [u8],
    },
    /// The device asks for its twin: `devices/{id}/shadow/get`.
    ShadowGet,
    /// The answer to a command: `devices/{id}/replies/{command_id}`.
    Reply {
        /// Id of the command answered.
        command_id: &'a str,
        /// JSON payload.
        payload: &'a [u8],
    },
}

impl DeviceUplink<'_> {
    /// Short name of the kind, for metrics and error reports.
    pub fn kind(&self) -> &'static str {
        match self {
            DeviceUplink::Telemetry { .. } => "telemetry",
            DeviceUplink::Event { .. } => "event",
            DeviceUplink::ShadowReported { .. } => "shadow_reported",
            DeviceUplink::ShadowGet => "shadow_get",
            DeviceUplink::Reply { .. } => "reply",
        }
    }
}

/// What becomes of an accepted uplink on the device's own transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Accepted; the message also goes on to the tenant's subscribers (live data for apps).
    Route,
    /// Accepted and fully handled; nobody else receives the message.
    Consumed,
}

/// Why an uplink was refused. Nothing was stored. The reason code uses MQTT 5 numbering
/// (e.g. 0x99 payload format invalid), which adapters map to their protocol.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    /// MQTT 5 reason code.
    pub reason_code: u8,
    /// Machine-readable cause, snake_case (as `error.code` of HTTP errors).
    pub code: String,
    /// What was wrong, for people.
    pub message: String,
    /// Further facts (e.g. the field errors); `null` when there are none.
    pub details: serde_json::Value,
}

impl Refusal {
    /// 0x83 Implementation specific error.
    pub const IMPLEMENTATION_SPECIFIC: u8 = 0x83;
    /// 0x99 Payload format invalid.
    pub const PAYLOAD_FORMAT_INVALID: u8 = 0x99;

    /// A refusal with no details.
    pub fn new(reason_code: u8, code: impl Into<String>, message: impl Into<String>) -> Self {
        Refusal {
            reason_code,
            code: code.into(),
            message: message.into(),
            details: serde_json::Value::Null,
        }
    }

    /// The report sent to the device on `devices/{id}/errors`: the platform's error JSON,
    /// with the refused topic and the reason code among the details.
    pub fn report(&self, topic: &str) -> serde_json::Value {
        json!({"error": {
            "code": self.code,
            "message": self.message,
            "details": {
                "topic": topic,
                "reason_code": self.reason_code,
                "cause": self.details,
            },
        }})
    }
}

impl From<&IngestError> for Refusal {
    fn from(error: &IngestError) -> Self {
        let mut report = error.to_json();
        Refusal {
            details: report["error"]["details"].take(),
            ..Refusal::new(error.mqtt_reason_code(), error.code(), error.to_string())
        }
    }
}

impl From<crate::CoreError> for Refusal {
    /// Invalid input is a malformed payload (0x99, details are the field errors); anything
    /// else is the platform's failure (0x80 unspecified error).
    fn from(e: crate::CoreError) -> Self {
        match e {
            crate::CoreError::Invalid(errors) => Refusal {
                details: serde_json::to_value(&errors).unwrap_or_default(),
                ..Refusal::new(
                    Self::PAYLOAD_FORMAT_INVALID,
                    "invalid_payload",
                    format!("invalid payload: {errors}"),
                )
            },
            other => Refusal::new(0x80, "unspecified_error", other.to_string()),
        }
    }
}

impl Platform {
    /// Handles one uplink of an authenticated device. On `Err` nothing was stored, and the
    /// caller reports the refusal to the device.
    pub async fn handle_uplink(
        &self,
        device: &DevicePrincipal,
        uplink: DeviceUplink<'_>,
    ) -> Result<Disposition, Refusal> {
        self.presence
            .seen(&device.tenant, &device.device, crate::clock::now_ms());
        match uplink {
            DeviceUplink::Telemetry { payload } => {
                telemetry_answer(self.ingest.ingest(device, payload).await)
            }
            DeviceUplink::ShadowReported { payload } => {
                self.twins.report(device, payload).await?;
                Ok(Disposition::Route)
            }
            DeviceUplink::ShadowGet => {
                self.twins.answer_get(device).await?;
                Ok(Disposition::Consumed)
            }
            DeviceUplink::Event { name, payload } => {
                self.events.record(device, name, payload).await?;
                Ok(Disposition::Route)
            }
            DeviceUplink::Reply {
                command_id,
                payload,
            } => {
                self.commands.reply(device, command_id, payload).await?;
                Ok(Disposition::Route)
            }
        }
    }

    /// Handles telemetry payloads a device pipelined (in order) with one store write; one
    /// answer per payload, the one [`Platform::handle_uplink`] would give it.
    pub async fn handle_telemetry(
        &self,
        device: &DevicePrincipal,
        payloads: &[&[u8]],
    ) -> Vec<Result<Disposition, Refusal>> {
        self.presence
            .seen(&device.tenant, &device.device, crate::clock::now_ms());
        let results = self.ingest.ingest_many(device, payloads).await;
        results.into_iter().map(telemetry_answer).collect()
    }

    /// Tells a device on `devices/{id}/errors` that what it sent on `topic` was refused.
    /// Best effort: a report that cannot be sent is logged and counted, never retried.
    pub async fn report_refusal(&self, device: &DevicePrincipal, topic: &str, refusal: &Refusal) {
        let sent = self
            .downlink
            .publish_to_device(
                &device.tenant,
                &device.device,
                ERRORS,
                &refusal.report(topic),
            )
            .await;
        if let Err(error) = sent {
            metrics::counter!("wanwu_device_error_reports_failed_total").increment(1);
            tracing::debug!(%error, device = %device.device, "error report not sent");
        }
    }
}

/// Stored telemetry goes on to the tenant's subscribers; a rejected payload is refused.
fn telemetry_answer(
    result: Result<crate::ingest::IngestReceipt, IngestError>,
) -> Result<Disposition, Refusal> {
    match result {
        Ok(_) => Ok(Disposition::Route),
        Err(error) => Err(Refusal::from(&error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_carries_code_message_topic_and_reason() {
        let refusal = Refusal {
            details: json!([{"path": "pm25", "message": "above max"}]),
            ..Refusal::new(0x99, "invalid_payload", "pm25 out of range")
        };
        let report = refusal.report("devices/d1/telemetry");
        assert_eq!(report["error"]["code"], "invalid_payload");
        assert_eq!(report["error"]["message"], "pm25 out of range");
        assert_eq!(report["error"]["details"]["topic"], "devices/d1/telemetry");
        assert_eq!(report["error"]["details"]["reason_code"], 0x99);
        assert_eq!(report["error"]["details"]["cause"][0]["path"], "pm25");
    }
}
