//! Why a telemetry payload was not stored, and how each reason is told to a device: an HTTP
//! status, an MQTT 5 reason code, a metric label and the error JSON.

use wanwu_model::{TelemetryError, ValidationErrors};

/// MQTT 5 reason code "Payload format invalid".
pub const MQTT_PAYLOAD_FORMAT_INVALID: u8 = 0x99;
/// MQTT 5 reason code "Quota exceeded", used when the disk is full.
pub const MQTT_QUOTA_EXCEEDED: u8 = 0x97;
/// MQTT 5 reason code "Unspecified error".
pub const MQTT_UNSPECIFIED_ERROR: u8 = 0x80;

/// Why a telemetry payload was rejected. Nothing of a rejected payload is stored.
#[derive(Clone, Debug, thiserror::Error)]
pub enum IngestError {
    /// Not JSON, or JSON in none of the three telemetry forms (HTTP 400).
    #[error("malformed telemetry payload: {0}")]
    Malformed(String),
    /// More points than the configured batch size (HTTP 400).
    #[error("payload carries {got} points, at most {max} are accepted at once")]
    TooManyPoints {
        /// Points in the payload.
        got: usize,
        /// The configured batch size.
        max: usize,
    },
    /// Values or timestamps that the product or the clock do not allow (HTTP 422); every
    /// offending field is named by its path (`values.pm25`, `[3].ts`).
    #[error("invalid telemetry: {0}")]
    Invalid(ValidationErrors),
    /// The disk is full: nothing was stored; retry when space returns (HTTP 507).
    #[error("storage is full: telemetry not stored, retry later")]
    DiskFull,
    /// The platform could not store the payload (HTTP 500 / 503); see the server log.
    #[error("telemetry not stored: {0}")]
    Storage(String),
    /// The platform is shutting down (HTTP 503).
    #[error("telemetry storage is closed")]
    Unavailable,
}

impl IngestError {
    /// Machine-readable code of the error JSON.
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::Malformed(_) => "malformed_payload",
            IngestError::TooManyPoints { .. } => "too_many_points",
            IngestError::Invalid(_) => "invalid_input",
            IngestError::DiskFull => "insufficient_storage",
            IngestError::Storage(_) => "internal",
            IngestError::Unavailable => "unavailable",
        }
    }

    /// Label of the `reason` of `wanwu_ingest_rejected_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::Malformed(_) => "malformed",
            IngestError::TooManyPoints { .. } => "too_many_points",
            IngestError::Invalid(errors) if is_future(errors) => "future_timestamp",
            IngestError::Invalid(_) => "invalid",
            IngestError::DiskFull => "disk_full",
            IngestError::Storage(_) => "storage_error",
            IngestError::Unavailable => "unavailable",
        }
    }

    /// The HTTP status answering a payload rejected for this reason.
    pub fn http_status(&self) -> u16 {
        match self {
            IngestError::Malformed(_) | IngestError::TooManyPoints { .. } => 400,
            IngestError::Invalid(_) => 422,
            IngestError::DiskFull => 507,
            IngestError::Storage(_) => 500,
            IngestError::Unavailable => 503,
        }
    }

    /// The MQTT 5 PUBACK reason code answering a payload rejected for this reason.
    pub fn mqtt_reason_code(&self) -> u8 {
        match self {
            IngestError::Malformed(_)
            | IngestError::TooManyPoints { .. }
            | IngestError::Invalid(_) => MQTT_PAYLOAD_FORMAT_INVALID,
            IngestError::DiskFull => MQTT_QUOTA_EXCEEDED,
            IngestError::Storage(_) | IngestError::Unavailable => MQTT_UNSPECIFIED_ERROR,
        }
    }

    /// The error JSON `{"error": {"code", "message", "details"}}`, as published on
    /// `devices/{id}/errors`; `details` lists the field errors of an invalid payload.
    pub fn to_json(&self) -> serde_json::Value {
        let details = match self {
            IngestError::Invalid(errors) => serde_json::to_value(errors).unwrap_or_default(),
            IngestError::TooManyPoints { got, max } => serde_json::json!({"got": got, "max": max}),
            _ => serde_json::Value::Null,
        };
        serde_json::json!({"error": {"code": self.code(), "message": self.to_string(), "details": details}})
    }
}

/// Message of the field error of a timestamp beyond the allowed clock skew.
pub(crate) const FUTURE_TIMESTAMP: &str = "is in the future beyond the allowed clock skew";

fn is_future(errors: &ValidationErrors) -> bool {
    errors
        .0
        .iter()
        .any(|e| e.message.contains(FUTURE_TIMESTAMP))
}

impl From<TelemetryError> for IngestError {
    fn from(e: TelemetryError) -> Self {
        match e {
            TelemetryError::Json(e) => IngestError::Malformed(format!("not JSON: {e}")),
            TelemetryError::Shape(shape) => IngestError::Malformed(shape),
            TelemetryError::Invalid(errors) => IngestError::Invalid(errors),
        }
    }
}

impl From<wanwu_tsdb::Error> for IngestError {
    fn from(e: wanwu_tsdb::Error) -> Self {
        match e {
            wanwu_tsdb::Error::DiskFull(_) => IngestError::DiskFull,
            wanwu_tsdb::Error::Closed => IngestError::Unavailable,
            wanwu_tsdb::Error::TypeMismatch {
                series,
                expected,
                got,
            } => {
                let key = series.rsplit('/').next().unwrap_or_default();
                IngestError::Invalid(ValidationErrors::single(
                    format!("values.{key}"),
                    format!(
                        "the stored series holds {expected} values, got {got} (the property's type changed)"
                    ),
                ))
            }
            other => IngestError::Storage(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_has_its_status_and_reason_code() {
        let invalid = IngestError::Invalid(ValidationErrors::single("values.pm25", "too big"));
        assert_eq!(
            (invalid.http_status(), invalid.mqtt_reason_code()),
            (422, 0x99)
        );
        assert_eq!(invalid.reason(), "invalid");
        let future = IngestError::Invalid(ValidationErrors::single("ts", FUTURE_TIMESTAMP));
        assert_eq!(future.reason(), "future_timestamp");
        let malformed = IngestError::Malformed("x".into());
        assert_eq!(
            (malformed.http_status(), malformed.mqtt_reason_code()),
            (400, 0x99)
        );
        let full = IngestError::DiskFull;
        assert_eq!((full.http_status(), full.mqtt_reason_code()), (507, 0x97));
        let json = invalid.to_json();
        assert_eq!(json["error"]["code"], "invalid_input");
        assert_eq!(json["error"]["details"][0]["path"], "values.pm25");
    }

    #[test]
    fn a_type_change_names_the_property() {
        let e = IngestError::from(wanwu_tsdb::Error::TypeMismatch {
            series: "default/st-1/pm25".into(),
            expected: wanwu_tsdb::ValueType::F64,
            got: wanwu_tsdb::ValueType::Str,
        });
        let IngestError::Invalid(errors) = e else {
            panic!("expected invalid")
        };
        assert_eq!(errors.0[0].path, "values.pm25");
    }
}
