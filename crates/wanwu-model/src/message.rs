//! The [`Message`] every protocol adapter produces, and parsing of telemetry payloads.
//!
//! Telemetry payloads come in three forms:
//! - `{"temperature": 21.5, ...}`: values at server time;
//! - `{"ts": 1700000000000, "values": {...}}`: values at the device's time;
//! - `[{"ts": ..., "values": {...}}, ...]`: several of the latter.
//!
//! Keys and types must match the product's properties; a payload that does not is rejected
//! whole.

use crate::error::{ValidationErrors, index, join};
use crate::thing::Product;
use crate::value::{Value, json_kind, validate_value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most points one telemetry payload may carry.
pub const MAX_POINTS_PER_PAYLOAD: usize = 1000;

/// What a message is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MessageKind {
    /// Property values measured at a time.
    Telemetry,
    /// An event of the product's thing model.
    Event,
    /// The device's reported state.
    ShadowReport,
    /// A device's answer to a command.
    CommandReply,
    /// The device connected or disconnected.
    Presence,
}

/// One message on the one path of data: adapters make it, the ingest pipeline validates
/// and fans it out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Tenant of the device.
    pub tenant: String,
    /// Device id.
    pub device: String,
    /// What the message is about.
    pub kind: MessageKind,
    /// Time of the values, ms since the Unix epoch.
    pub ts: i64,
    /// Values by key (property ids for telemetry and shadow reports, parameter ids for events).
    pub values: BTreeMap<String, Value>,
}

impl Message {
    /// A telemetry message of `device` carrying `point`.
    pub fn telemetry(tenant: impl Into<String>, device: impl Into<String>, point: Point) -> Self {
        Message {
            tenant: tenant.into(),
            device: device.into(),
            kind: MessageKind::Telemetry,
            ts: point.ts,
            values: point.values,
        }
    }
}

/// Validated values at one time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Time, ms since the Unix epoch.
    pub ts: i64,
    /// Values by property id.
    pub values: BTreeMap<String, Value>,
}

/// Why a telemetry payload was rejected.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// Not JSON at all.
    #[error("payload is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not one of the three forms.
    #[error("{0}")]
    Shape(String),
    /// The values do not match the product's properties.
    #[error("{0}")]
    Invalid(ValidationErrors),
}

/// Parses a telemetry payload of a device of `product`; values without a time get `now_ms`.
/// Every point is checked against the product; any problem rejects the whole payload.
pub fn parse_telemetry(
    product: &Product,
    payload: &[u8],
    now_ms: i64,
) -> Result<Vec<Point>, TelemetryError> {
    let json: serde_json::Value = serde_json::from_slice(payload)?;
    let mut errors = ValidationErrors::default();
    let points = match &json {
        serde_json::Value::Array(items) => {
            if items.is_empty() {
                return Err(TelemetryError::Shape("empty array".into()));
            }
            if items.len() > MAX_POINTS_PER_PAYLOAD {
                return Err(TelemetryError::Shape(format!(
                    "at most {MAX_POINTS_PER_PAYLOAD} points per payload, got {}",
                    items.len()
                )));
            }
            let mut points = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let path = index("", i);
                match timed_point(item, now_ms) {
                    Some((ts, values)) => {
                        points.push(validate_point(product, &path, ts, values, &mut errors));
                    }
                    None => errors.push(path, "expected {\"ts\": ms, \"values\": {...}}"),
                }
            }
            points
        }
        serde_json::Value::Object(map) => match timed_point(&json, now_ms) {
            Some((ts, values)) => vec![validate_point(product, "", ts, values, &mut errors)],
            None => vec![validate_point(product, "", Some(now_ms), map, &mut errors)],
        },
        other => {
            return Err(TelemetryError::Shape(format!(
                "expected an object or an array, got {}",
                json_kind(other)
            )));
        }
    };
    errors.into_result().map_err(TelemetryError::Invalid)?;
    Ok(points)
}

type JsonMap = serde_json::Map<String, serde_json::Value>;

/// The `(ts, values)` of the `{"ts": .., "values": {..}}` form, or `None` when `json` is not
/// of that form. An absent `ts` means server time (`now_ms`); an invalid one is `Some(None)`.
fn timed_point(json: &serde_json::Value, now_ms: i64) -> Option<(Option<i64>, &JsonMap)> {
    let map = json.as_object()?;
    let values = map.get("values")?.as_object()?;
    if map.keys().any(|k| k != "ts" && k != "values") {
        return None;
    }
    let ts = match map.get("ts") {
        None => Some(now_ms),
        Some(ts) => ts.as_i64().filter(|t| *t >= 0),
    };
    Some((ts, values))
}

fn validate_point(
    product: &Product,
    path: &str,
    ts: Option<i64>,
    values: &JsonMap,
    errors: &mut ValidationErrors,
) -> Point {
    let ts = ts.unwrap_or_else(|| {
        errors.push(
            join(path, "ts"),
            "expected ms since the Unix epoch (a non-negative integer)",
        );
        0
    });
    if values.is_empty() {
        errors.push(join(path, "values"), "no values");
    }
    let mut out = BTreeMap::new();
    // Paths are spelled out only for errors: valid values (nearly all) cost no formatting.
    let value_path = |key: &str| join(&join(path, "values"), key);
    for (key, json) in values {
        let Some(property) = product.property(key) else {
            errors.push(
                value_path(key),
                format!("product {:?} has no property {key:?}", product.id),
            );
            continue;
        };
        match validate_value("", property.spec(), json) {
            Ok(value) => {
                out.insert(key.clone(), value);
            }
            Err(e) => {
                let at = value_path(key);
                for error in e.0 {
                    let path = if error.path.is_empty() {
                        at.clone()
                    } else {
                        join(&at, &error.path)
                    };
                    errors.push(path, error.message);
                }
            }
        }
    }
    Point { ts, values: out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thing::{Access, Property, PropertyType};
    use proptest::prelude::*;

    fn product() -> Product {
        let prop = |id: &str, kind, min, max| Property {
            id: id.into(),
            name: None,
            description: None,
            kind,
            unit: None,
            min,
            max,
            step: None,
            values: None,
            access: Access::Read,
        };
        Product {
            id: "aq".into(),
            name: "Air".into(),
            description: None,
            properties: vec![
                prop("pm25", PropertyType::Float, Some(0.0), Some(1000.0)),
                prop("count", PropertyType::Int, None, None),
                prop("ok", PropertyType::Bool, None, None),
            ],
            events: vec![],
            commands: vec![],
        }
    }

    fn parse(payload: &str) -> Result<Vec<Point>, TelemetryError> {
        parse_telemetry(&product(), payload.as_bytes(), 42)
    }

    fn error_paths(payload: &str) -> Vec<String> {
        match parse(payload) {
            Err(TelemetryError::Invalid(e)) => e.0.into_iter().map(|e| e.path).collect(),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn the_three_forms() {
        let p = parse(r#"{"pm25": 21.5, "ok": true}"#).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].ts, 42, "server time");
        assert_eq!(p[0].values["pm25"], Value::Float(21.5));
        let p = parse(r#"{"ts": 1700000000000, "values": {"count": 3}}"#).unwrap();
        assert_eq!(p[0].ts, 1_700_000_000_000);
        assert_eq!(p[0].values["count"], Value::Int(3));
        let p = parse(r#"[{"ts": 1, "values": {"count": 1}}, {"ts": 2, "values": {"pm25": 2}}]"#)
            .unwrap();
        assert_eq!(p.iter().map(|p| p.ts).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn mismatches_name_the_value() {
        assert_eq!(error_paths(r#"{"pm25": "high"}"#), ["values.pm25"]);
        assert_eq!(error_paths(r#"{"pm25": 1, "nope": 1}"#), ["values.nope"]);
        assert_eq!(error_paths(r#"{"pm25": 2000}"#), ["values.pm25"]);
        assert_eq!(
            error_paths(
                r#"[{"ts": 1, "values": {"count": 1}}, {"ts": -5, "values": {"count": 1.5}}]"#
            ),
            ["[1].ts", "[1].values.count"]
        );
        assert_eq!(error_paths(r#"[{"count": 1}]"#), ["[0]"]);
        assert_eq!(error_paths("{}"), ["values"]);
    }

    #[test]
    fn wrong_shapes_are_rejected() {
        assert!(matches!(parse("[]"), Err(TelemetryError::Shape(_))));
        assert!(matches!(parse("3"), Err(TelemetryError::Shape(_))));
        assert!(matches!(parse("{"), Err(TelemetryError::Json(_))));
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_telemetry(&product(), &bytes, 0);
        }

        #[test]
        fn valid_points_round_trip(points in proptest::collection::vec((0i64..i64::MAX, 0f64..1000.0, any::<i64>()), 1..20)) {
            let payload: Vec<_> = points.iter().map(|(ts, pm, count)| {
                serde_json::json!({"ts": ts, "values": {"pm25": pm, "count": count}})
            }).collect();
            let parsed = parse_telemetry(&product(), serde_json::to_string(&payload).unwrap().as_bytes(), 0).unwrap();
            prop_assert_eq!(parsed.len(), points.len());
            for (p, (ts, pm, count)) in parsed.iter().zip(&points) {
                prop_assert_eq!(p.ts, *ts);
                prop_assert_eq!(&p.values["pm25"], &Value::Float(*pm));
                prop_assert_eq!(&p.values["count"], &Value::Int(*count));
            }
        }
    }
}
