//! Short constructors for the properties and parameters of the scenarios' thing models.

use wanwu_model::{Access, Param, Property, PropertyType};

/// The typing and labels shared by a property and a parameter.
pub struct Field {
    id: &'static str,
    name: &'static str,
    kind: PropertyType,
    unit: Option<&'static str>,
    range: Option<(f64, f64)>,
    values: Option<&'static [&'static str]>,
}

impl Field {
    fn new(id: &'static str, name: &'static str, kind: PropertyType) -> Field {
        Field {
            id,
            name,
            kind,
            unit: None,
            range: None,
            values: None,
        }
    }

    /// A float in `min..=max` measured in `unit`.
    pub fn float(
        id: &'static str,
        name: &'static str,
        unit: &'static str,
        min: f64,
        max: f64,
    ) -> Field {
        Field {
            unit: Some(unit),
            range: Some((min, max)),
            ..Field::new(id, name, PropertyType::Float)
        }
    }

    /// An integer in `min..=max`, with an optional unit (`""` for none).
    pub fn int(
        id: &'static str,
        name: &'static str,
        unit: &'static str,
        min: i64,
        max: i64,
    ) -> Field {
        Field {
            unit: (!unit.is_empty()).then_some(unit),
            range: Some((min as f64, max as f64)),
            ..Field::new(id, name, PropertyType::Int)
        }
    }

    /// A boolean.
    pub fn flag(id: &'static str, name: &'static str) -> Field {
        Field::new(id, name, PropertyType::Bool)
    }

    /// One of `values`.
    pub fn choice(id: &'static str, name: &'static str, values: &'static [&'static str]) -> Field {
        Field {
            values: Some(values),
            ..Field::new(id, name, PropertyType::Enum)
        }
    }

    /// A position.
    pub fn geo(id: &'static str, name: &'static str) -> Field {
        Field::new(id, name, PropertyType::Geo)
    }

    /// The field as a property that only the device reports.
    pub fn read(self) -> Property {
        self.property(Access::Read)
    }

    /// The field as a property that applications may also set (desired state).
    pub fn read_write(self) -> Property {
        self.property(Access::ReadWrite)
    }

    fn property(self, access: Access) -> Property {
        Property {
            id: self.id.into(),
            name: Some(self.name.into()),
            description: None,
            kind: self.kind,
            unit: self.unit.map(Into::into),
            min: self.range.map(|r| r.0),
            max: self.range.map(|r| r.1),
            step: None,
            values: self
                .values
                .map(|v| v.iter().map(|s| s.to_string()).collect()),
            access,
        }
    }

    /// The field as an event or command parameter.
    pub fn param(self) -> Param {
        Param {
            id: self.id.into(),
            name: Some(self.name.into()),
            description: None,
            kind: self.kind,
            unit: self.unit.map(Into::into),
            min: self.range.map(|r| r.0),
            max: self.range.map(|r| r.1),
            step: None,
            values: self
                .values
                .map(|v| v.iter().map(|s| s.to_string()).collect()),
        }
    }
}

/// Rounds `x` to `decimals` places and keeps it in `min..=max`: what a sensor of that
/// resolution and range would report.
pub fn reading(x: f64, decimals: i32, min: f64, max: f64) -> f64 {
    let scale = 10f64.powi(decimals);
    let x = if x.is_finite() { x } else { min };
    ((x * scale).round() / scale).clamp(min, max)
}
