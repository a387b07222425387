//! Property values, and the check of a JSON value against a property or parameter.

use crate::error::ValidationErrors;
use crate::thing::{PropertyType, ValueSpec};
use serde::{Deserialize, Serialize};

/// Longest string value accepted.
pub const MAX_STRING_LEN: usize = 4096;

/// A position in WGS 84 degrees.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoPoint {
    /// Latitude, -90 to 90.
    pub lat: f64,
    /// Longitude, -180 to 180.
    pub lon: f64,
}

impl GeoPoint {
    /// Why this is not a position on Earth, or `None` when it is.
    pub fn problem(&self) -> Option<&'static str> {
        if !(-90.0..=90.0).contains(&self.lat) {
            Some("lat must be between -90 and 90")
        } else if !(-180.0..=180.0).contains(&self.lon) {
            Some("lon must be between -180 and 180")
        } else {
            None
        }
    }

    /// Checks the point, reporting at `path`.
    pub fn validate(&self, path: &str) -> Result<(), ValidationErrors> {
        match self.problem() {
            Some(problem) => Err(ValidationErrors::single(path, problem)),
            None => Ok(()),
        }
    }
}

/// A validated value of a property or parameter. Enum values are their strings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A `bool` value.
    Bool(bool),
    /// An `int` value.
    Int(i64),
    /// A `float` value.
    Float(f64),
    /// A `string` or `enum` value.
    String(String),
    /// A `geo` value.
    Geo(GeoPoint),
}

impl Value {
    /// The value as a float, for numeric values.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// Checks `json` against `spec` (type, range, enum membership) and returns the typed value;
/// errors are reported at `path`.
pub fn validate_value(
    path: &str,
    spec: ValueSpec<'_>,
    json: &serde_json::Value,
) -> Result<Value, ValidationErrors> {
    let fail = |message: String| Err(ValidationErrors::single(path, message));
    let value = match (spec.kind, json) {
        (PropertyType::Bool, serde_json::Value::Bool(b)) => Value::Bool(*b),
        (PropertyType::Int, serde_json::Value::Number(n)) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => return fail(format!("expected an integer, got {n}")),
        },
        (PropertyType::Float, serde_json::Value::Number(n)) => match n.as_f64() {
            Some(f) if f.is_finite() => Value::Float(f),
            _ => return fail(format!("expected a finite number, got {n}")),
        },
        (PropertyType::String, serde_json::Value::String(s)) => {
            if s.chars().count() > MAX_STRING_LEN {
                return fail(format!("must be at most {MAX_STRING_LEN} characters"));
            }
            Value::String(s.clone())
        }
        (PropertyType::Enum, serde_json::Value::String(s)) => {
            let allowed = spec.values.unwrap_or_default();
            if !allowed.iter().any(|v| v == s) {
                return fail(format!("{s:?} is not one of {allowed:?}"));
            }
            Value::String(s.clone())
        }
        (PropertyType::Geo, serde_json::Value::Object(_)) => {
            let point: GeoPoint = match serde_json::from_value(json.clone()) {
                Ok(point) => point,
                Err(_) => return fail("expected {\"lat\": number, \"lon\": number}".into()),
            };
            point.validate(path)?;
            Value::Geo(point)
        }
        (kind, other) => {
            return fail(format!(
                "expected {}, got {}",
                type_name(kind),
                json_kind(other)
            ));
        }
    };
    if let Some(x) = value.as_f64() {
        if let Some(min) = spec.min
            && x < min
        {
            return fail(format!("{x} is below the minimum {min}"));
        }
        if let Some(max) = spec.max
            && x > max
        {
            return fail(format!("{x} is above the maximum {max}"));
        }
    }
    Ok(value)
}

fn type_name(kind: PropertyType) -> &'static str {
    match kind {
        PropertyType::Bool => "a bool",
        PropertyType::Int => "an integer",
        PropertyType::Float => "a number",
        PropertyType::String => "a string",
        PropertyType::Enum => "one of the enum's strings",
        PropertyType::Geo => "a {\"lat\", \"lon\"} object",
    }
}

/// The JSON type of `json`, in words.
pub fn json_kind(json: &serde_json::Value) -> &'static str {
    match json {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a bool",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn spec(kind: PropertyType, min: Option<f64>, max: Option<f64>) -> ValueSpec<'static> {
        ValueSpec {
            kind,
            min,
            max,
            step: None,
            values: None,
        }
    }

    #[test]
    fn types_are_checked() {
        let int = spec(PropertyType::Int, None, None);
        assert_eq!(validate_value("v", int, &json!(3)).unwrap(), Value::Int(3));
        assert!(validate_value("v", int, &json!(3.5)).is_err());
        assert!(validate_value("v", int, &json!("3")).is_err());
        let float = spec(PropertyType::Float, None, None);
        assert_eq!(
            validate_value("v", float, &json!(3)).unwrap(),
            Value::Float(3.0)
        );
        let b = spec(PropertyType::Bool, None, None);
        assert!(validate_value("v", b, &json!(1)).is_err());
        let geo = spec(PropertyType::Geo, None, None);
        assert!(validate_value("v", geo, &json!({"lat": 31.2, "lon": 121.5})).is_ok());
        assert!(validate_value("v", geo, &json!({"lat": 91, "lon": 0})).is_err());
        assert!(validate_value("v", geo, &json!({"lat": 1})).is_err());
    }

    #[test]
    fn enum_membership_is_checked() {
        let values = vec!["auto".to_string(), "manual".to_string()];
        let spec = ValueSpec {
            kind: PropertyType::Enum,
            min: None,
            max: None,
            step: None,
            values: Some(&values),
        };
        assert!(validate_value("v", spec, &json!("auto")).is_ok());
        let err = validate_value("values.mode", spec, &json!("off")).unwrap_err();
        assert_eq!(err.0[0].path, "values.mode");
    }

    proptest! {
        #[test]
        fn range_check_matches_bounds(min in -1e6f64..1e6, span in 0f64..1e6, x in -3e6f64..3e6) {
            let max = min + span;
            let result = validate_value("v", spec(PropertyType::Float, Some(min), Some(max)), &json!(x));
            prop_assert_eq!(result.is_ok(), x >= min && x <= max);
        }

        #[test]
        fn ints_in_range_round_trip(x in any::<i64>()) {
            let value = validate_value("v", spec(PropertyType::Int, None, None), &json!(x)).unwrap();
            prop_assert_eq!(serde_json::to_value(&value).unwrap(), json!(x));
        }
    }
}
