//! Parameter objects of events, commands and command replies, checked against the thing
//! model's parameter list: every key must be a declared parameter and every value must fit
//! its type and range. Errors carry the field path (`params.times`).

use serde_json::{Map, Value as Json};
use wanwu_model::ValidationErrors;
use wanwu_model::thing::Param;
use wanwu_model::value::{json_kind, validate_value};

/// Whether every declared parameter must be present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// Each declared parameter must be given (command requests).
    Required,
    /// Parameters may be left out (events, replies).
    Optional,
}

/// Checks `json` (an object, or `null` for none) against `declared`; returns the object.
/// Errors are reported under `path` (e.g. `params`).
pub fn validate_params(
    path: &str,
    declared: &[Param],
    json: &Json,
    presence: Presence,
) -> Result<Map<String, Json>, ValidationErrors> {
    let object = match json {
        Json::Null => Map::new(),
        Json::Object(object) => object.clone(),
        other => {
            return Err(ValidationErrors::single(
                path,
                format!("expected an object, got {}", json_kind(other)),
            ));
        }
    };
    let mut errors = ValidationErrors::default();
    for (key, value) in &object {
        let field = format!("{path}.{key}");
        match declared.iter().find(|p| &p.id == key) {
            Some(param) => {
                if let Err(e) = validate_value(&field, param.spec(), value) {
                    errors.extend(e);
                }
            }
            None => errors.push(field, "not a parameter of the thing model"),
        }
    }
    if presence == Presence::Required {
        for param in declared.iter().filter(|p| !object.contains_key(&p.id)) {
            errors.push(format!("{path}.{}", param.id), "missing");
        }
    }
    errors.into_result().map(|()| object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn times() -> Vec<Param> {
        serde_json::from_value(json!([{"id": "times", "type": "int", "min": 1, "max": 10}]))
            .unwrap()
    }

    #[test]
    fn values_in_range_pass_and_out_of_range_name_the_field() {
        let declared = times();
        let ok = validate_params(
            "params",
            &declared,
            &json!({"times": 3}),
            Presence::Required,
        );
        assert_eq!(ok.unwrap()["times"], 3);
        let err = validate_params(
            "params",
            &declared,
            &json!({"times": 11}),
            Presence::Required,
        )
        .unwrap_err();
        assert_eq!(err.0[0].path, "params.times");
    }

    #[test]
    fn unknown_missing_and_non_object_params_are_errors() {
        let declared = times();
        let err =
            validate_params("params", &declared, &json!({"x": 1}), Presence::Required).unwrap_err();
        let paths: Vec<_> = err.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["params.x", "params.times"]);
        assert!(validate_params("params", &declared, &json!({}), Presence::Optional).is_ok());
        assert!(validate_params("params", &declared, &json!([1]), Presence::Optional).is_err());
    }
}
