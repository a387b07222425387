//! The thing model: a product's properties, events and commands, and the validation of a
//! product definition (unique ids, sane ranges, non-empty enums) with errors naming the path.

use crate::error::{ValidationErrors, index, join};
use crate::id::check_id;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Longest display name or unit accepted.
pub const MAX_NAME_LEN: usize = 200;
/// Longest description accepted.
pub const MAX_DESCRIPTION_LEN: usize = 2000;
/// Most properties, events or commands (each) a product may define.
pub const MAX_MEMBERS: usize = 500;
/// Most parameters an event or command may take.
pub const MAX_PARAMS: usize = 100;
/// Most values an enum property may list.
pub const MAX_ENUM_VALUES: usize = 256;
/// Property ids reserved by the telemetry payload forms (`{"ts": .., "values": {..}}`).
pub const RESERVED_PROPERTY_IDS: [&str; 2] = ["ts", "values"];

/// The type of a property or parameter value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PropertyType {
    /// `true` or `false`.
    Bool,
    /// A 64-bit signed integer.
    Int,
    /// A 64-bit float.
    Float,
    /// UTF-8 text.
    String,
    /// One of the strings listed in `values`.
    Enum,
    /// A position `{"lat": .., "lon": ..}` in WGS 84 degrees.
    Geo,
}

impl PropertyType {
    /// True for `int` and `float`, the types that take `min`, `max` and `step`.
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Int | Self::Float)
    }
}

/// Who may write a property: devices report every property; `read_write` ones may also be
/// set by applications (desired state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Reported by the device only.
    #[default]
    Read,
    /// Reported by the device and settable by applications.
    ReadWrite,
}

/// How serious an event is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For information.
    #[default]
    Info,
    /// Needs attention.
    Warning,
    /// Needs action now.
    Critical,
}

/// Defines a struct holding a typed value's definition (id, name, description, type, unit,
/// range, step, enum values) plus the given extra fields, and its [`ValueSpec`]. Properties
/// and parameters share this shape; only properties carry `access`.
macro_rules! typed_member {
    ($(#[$meta:meta])* $name:ident { $($extra:tt)* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Id, unique within its list (a property's id is its key in telemetry payloads).
            pub id: String,
            /// Display name.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub name: Option<String>,
            /// Longer description.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub description: Option<String>,
            /// Value type.
            #[serde(rename = "type")]
            pub kind: PropertyType,
            /// Unit of measurement, e.g. `ug/m3`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub unit: Option<String>,
            /// Smallest accepted value (numeric types).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub min: Option<f64>,
            /// Largest accepted value (numeric types).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub max: Option<f64>,
            /// Granularity of the value (numeric types), a hint for applications.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub step: Option<f64>,
            /// The allowed values of an `enum`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub values: Option<Vec<String>>,
            $($extra)*
        }

        impl $name {
            /// The typing of this member's values.
            pub fn spec(&self) -> ValueSpec<'_> {
                ValueSpec {
                    kind: self.kind,
                    min: self.min,
                    max: self.max,
                    step: self.step,
                    values: self.values.as_deref(),
                }
            }
        }
    };
}

typed_member!(
    /// A property of a product: one value a device reports (and may be asked to take).
    Property {
        /// Who may write the property.
        #[serde(default)]
        pub access: Access,
    }
);

typed_member!(
    /// A parameter of an event, a command, or a command's response.
    Param {}
);

/// Something a device tells about itself at one moment, e.g. a failure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Id, unique among the product's events; the `{name}` of the event topic.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Longer description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How serious the event is.
    #[serde(default)]
    pub severity: Severity,
    /// What the event carries.
    #[serde(default)]
    pub params: Vec<Param>,
}

/// Something an application can ask a device to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// Id, unique among the product's commands; the `{name}` of the command topic.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Longer description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What the command takes.
    #[serde(default)]
    pub params: Vec<Param>,
    /// What the device answers with.
    #[serde(default)]
    pub response: Vec<Param>,
}

/// A product: the thing model shared by every device of one kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Id, unique within the tenant.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Longer description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What devices of this product report.
    #[serde(default)]
    pub properties: Vec<Property>,
    /// What devices of this product may tell.
    #[serde(default)]
    pub events: Vec<Event>,
    /// What devices of this product can be asked to do.
    #[serde(default)]
    pub commands: Vec<Command>,
}

/// The typing of a property or parameter value, borrowed from either.
#[derive(Clone, Copy, Debug)]
pub struct ValueSpec<'a> {
    /// Value type.
    pub kind: PropertyType,
    /// Smallest accepted value.
    pub min: Option<f64>,
    /// Largest accepted value.
    pub max: Option<f64>,
    /// Granularity.
    pub step: Option<f64>,
    /// Allowed enum values.
    pub values: Option<&'a [String]>,
}

impl Product {
    /// The property with id `id`.
    pub fn property(&self, id: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.id == id)
    }

    /// The event with id `id`.
    pub fn event(&self, id: &str) -> Option<&Event> {
        self.events.iter().find(|e| e.id == id)
    }

    /// The command with id `id`.
    pub fn command(&self, id: &str) -> Option<&Command> {
        self.commands.iter().find(|c| c.id == id)
    }

    /// Checks the whole definition; every problem is reported with its field path.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        check_id(&mut errors, "id", &self.id);
        check_text(&mut errors, "name", Some(&self.name), MAX_NAME_LEN);
        if self.name.trim().is_empty() {
            errors.push("name", "must not be empty");
        }
        check_text(
            &mut errors,
            "description",
            self.description.as_deref(),
            MAX_DESCRIPTION_LEN,
        );
        check_count(
            &mut errors,
            "properties",
            self.properties.len(),
            MAX_MEMBERS,
        );
        check_count(&mut errors, "events", self.events.len(), MAX_MEMBERS);
        check_count(&mut errors, "commands", self.commands.len(), MAX_MEMBERS);

        let mut ids = UniqueIds::default();
        for (i, p) in self.properties.iter().enumerate() {
            let path = index("properties", i);
            ids.check(&mut errors, &path, &p.id);
            if RESERVED_PROPERTY_IDS.contains(&p.id.as_str()) {
                errors.push(join(&path, "id"), format!("{:?} is reserved", p.id));
            }
            check_member(&mut errors, &path, &p.id, &p.name, &p.description);
            check_text(
                &mut errors,
                &join(&path, "unit"),
                p.unit.as_deref(),
                MAX_NAME_LEN,
            );
            check_spec(&mut errors, &path, p.spec());
        }
        let mut ids = UniqueIds::default();
        for (i, e) in self.events.iter().enumerate() {
            let path = index("events", i);
            ids.check(&mut errors, &path, &e.id);
            check_member(&mut errors, &path, &e.id, &e.name, &e.description);
            check_params(&mut errors, &join(&path, "params"), &e.params);
        }
        let mut ids = UniqueIds::default();
        for (i, c) in self.commands.iter().enumerate() {
            let path = index("commands", i);
            ids.check(&mut errors, &path, &c.id);
            check_member(&mut errors, &path, &c.id, &c.name, &c.description);
            check_params(&mut errors, &join(&path, "params"), &c.params);
            check_params(&mut errors, &join(&path, "response"), &c.response);
        }
        errors.into_result()
    }
}

/// Remembers ids seen in one list and reports repeats.
#[derive(Default)]
struct UniqueIds<'a>(HashSet<&'a str>);

impl<'a> UniqueIds<'a> {
    fn check(&mut self, errors: &mut ValidationErrors, path: &str, id: &'a str) {
        if !self.0.insert(id) {
            errors.push(join(path, "id"), format!("duplicate id {id:?}"));
        }
    }
}

fn check_member(
    errors: &mut ValidationErrors,
    path: &str,
    id: &str,
    name: &Option<String>,
    description: &Option<String>,
) {
    check_id(errors, &join(path, "id"), id);
    check_text(errors, &join(path, "name"), name.as_deref(), MAX_NAME_LEN);
    check_text(
        errors,
        &join(path, "description"),
        description.as_deref(),
        MAX_DESCRIPTION_LEN,
    );
}

fn check_params(errors: &mut ValidationErrors, path: &str, params: &[Param]) {
    check_count(errors, path, params.len(), MAX_PARAMS);
    let mut ids = UniqueIds::default();
    for (i, p) in params.iter().enumerate() {
        let param_path = index(path, i);
        ids.check(errors, &param_path, &p.id);
        check_member(errors, &param_path, &p.id, &p.name, &p.description);
        check_text(
            errors,
            &join(&param_path, "unit"),
            p.unit.as_deref(),
            MAX_NAME_LEN,
        );
        check_spec(errors, &param_path, p.spec());
    }
}

fn check_text(errors: &mut ValidationErrors, path: &str, text: Option<&str>, max: usize) {
    if let Some(text) = text
        && text.chars().count() > max
    {
        errors.push(path, format!("must be at most {max} characters"));
    }
}

fn check_count(errors: &mut ValidationErrors, path: &str, count: usize, max: usize) {
    if count > max {
        errors.push(path, format!("at most {max} entries allowed, got {count}"));
    }
}

/// Checks the typing of a property or parameter: ranges only on numbers, `min <= max`,
/// positive `step`, and a non-empty list of distinct values exactly on enums.
fn check_spec(errors: &mut ValidationErrors, path: &str, spec: ValueSpec<'_>) {
    let numeric = spec.kind.is_numeric();
    for (field, bound) in [("min", spec.min), ("max", spec.max), ("step", spec.step)] {
        let Some(bound) = bound else { continue };
        let field_path = join(path, field);
        if !numeric {
            errors.push(field_path, "allowed only on int and float types");
        } else if !bound.is_finite() {
            errors.push(field_path, "must be a finite number");
        } else if spec.kind == PropertyType::Int && bound.fract() != 0.0 {
            errors.push(field_path, "must be a whole number for an int type");
        }
    }
    if let (Some(min), Some(max)) = (spec.min, spec.max)
        && min > max
    {
        errors.push(join(path, "max"), format!("must not be below min ({min})"));
    }
    if let Some(step) = spec.step
        && step <= 0.0
    {
        errors.push(join(path, "step"), "must be greater than 0");
    }
    let values_path = join(path, "values");
    match (spec.kind, spec.values) {
        (PropertyType::Enum, None) => errors.push(values_path, "an enum needs its values"),
        (PropertyType::Enum, Some([])) => errors.push(values_path, "must not be empty"),
        (PropertyType::Enum, Some(values)) => {
            check_count(errors, &values_path, values.len(), MAX_ENUM_VALUES);
            let mut seen = HashSet::new();
            for (i, v) in values.iter().enumerate() {
                if v.is_empty() || v.chars().count() > MAX_NAME_LEN {
                    errors.push(index(&values_path, i), "must be 1 to 200 characters");
                }
                if !seen.insert(v) {
                    errors.push(index(&values_path, i), format!("duplicate value {v:?}"));
                }
            }
        }
        (_, Some(_)) => errors.push(values_path, "allowed only on enum types"),
        (_, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn air_station() -> serde_json::Value {
        json!({
            "id": "aq", "name": "Air station",
            "properties": [
                {"id": "pm25", "name": "PM2.5", "type": "float", "unit": "ug/m3", "min": 0, "max": 1000, "access": "read"},
                {"id": "mode", "type": "enum", "values": ["auto", "manual"], "access": "read_write"},
                {"id": "pos", "type": "geo"}
            ],
            "events": [{"id": "fail", "name": "Failure", "severity": "critical", "params": [{"id": "code", "type": "int"}]}],
            "commands": [{"id": "blink", "name": "Blink", "params": [{"id": "times", "type": "int", "min": 1, "max": 10}]}]
        })
    }

    fn paths(product: serde_json::Value) -> Vec<String> {
        let product: Product = serde_json::from_value(product).expect("parses");
        product
            .validate()
            .expect_err("invalid")
            .0
            .into_iter()
            .map(|e| e.path)
            .collect()
    }

    #[test]
    fn design_example_parses_and_validates() {
        let product: Product = serde_json::from_value(air_station()).unwrap();
        product.validate().unwrap();
        assert_eq!(product.properties[0].access, Access::Read);
        assert_eq!(product.properties[1].access, Access::ReadWrite);
        assert_eq!(
            product.properties[2].access,
            Access::Read,
            "access defaults to read"
        );
        assert_eq!(product.events[0].severity, Severity::Critical);
    }

    #[test]
    fn unknown_fields_are_rejected_at_every_level() {
        let mut p = air_station();
        p["colour"] = json!("red");
        assert!(serde_json::from_value::<Product>(p).is_err());
        let mut p = air_station();
        p["properties"][0]["colour"] = json!("red");
        assert!(serde_json::from_value::<Product>(p).is_err());
        let mut p = air_station();
        p["commands"][0]["params"][0]["colour"] = json!("red");
        assert!(serde_json::from_value::<Product>(p).is_err());
    }

    #[test]
    fn errors_name_the_field_path() {
        let mut p = air_station();
        p["properties"][0]["min"] = json!(5);
        p["properties"][0]["max"] = json!(1);
        assert_eq!(paths(p), ["properties[0].max"]);

        let mut p = air_station();
        p["properties"][1]["values"] = json!([]);
        assert_eq!(paths(p), ["properties[1].values"]);

        let mut p = air_station();
        p["properties"][2]["id"] = json!("pm25");
        assert_eq!(paths(p), ["properties[2].id"]);

        let mut p = air_station();
        p["commands"][0]["params"][0]["values"] = json!(["a"]);
        assert_eq!(paths(p), ["commands[0].params[0].values"]);

        let mut p = air_station();
        p["properties"][2]["max"] = json!(3);
        p["id"] = json!("a/b");
        assert_eq!(paths(p), ["id", "properties[2].max"]);
    }

    #[test]
    fn enum_needs_values_and_reserved_ids_are_refused() {
        let mut p = air_station();
        p["properties"][1] = json!({"id": "mode", "type": "enum"});
        assert_eq!(paths(p), ["properties[1].values"]);
        let mut p = air_station();
        p["properties"][1] = json!({"id": "ts", "type": "int"});
        assert_eq!(paths(p), ["properties[1].id"]);
    }

    #[test]
    fn int_bounds_must_be_whole_and_step_positive() {
        let mut p = air_station();
        p["commands"][0]["params"][0]["min"] = json!(1.5);
        p["commands"][0]["params"][0]["step"] = json!(0);
        assert_eq!(
            paths(p),
            ["commands[0].params[0].min", "commands[0].params[0].step"]
        );
    }
}
