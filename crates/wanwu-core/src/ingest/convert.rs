//! Values between the thing model and the time-series engine: floats, ints, bools, strings
//! (enum values are their strings) and geo pairs map one to one.

use wanwu_model::{GeoPoint, Value};
use wanwu_tsdb::Value as Stored;

/// The engine's value of a model value.
pub fn to_stored(value: &Value) -> Stored {
    match value {
        Value::Bool(b) => Stored::Bool(*b),
        Value::Int(i) => Stored::I64(*i),
        Value::Float(f) => Stored::F64(*f),
        Value::String(s) => Stored::Str(s.clone()),
        Value::Geo(g) => Stored::Geo(wanwu_tsdb::GeoPoint {
            lat: g.lat,
            lon: g.lon,
        }),
    }
}

/// The model value of a stored value.
pub fn from_stored(value: Stored) -> Value {
    match value {
        Stored::Bool(b) => Value::Bool(b),
        Stored::I64(i) => Value::Int(i),
        Stored::F64(f) => Value::Float(f),
        Stored::Str(s) => Value::String(s),
        Stored::Geo(g) => Value::Geo(GeoPoint {
            lat: g.lat,
            lon: g.lon,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for value in [
            Value::Bool(true),
            Value::Int(-3),
            Value::Float(21.5),
            Value::String("auto".into()),
            Value::Geo(GeoPoint {
                lat: 31.2,
                lon: 121.5,
            }),
        ] {
            assert_eq!(from_stored(to_stored(&value)), value);
        }
    }
}
