//! The twin document of one device and the rules that change it, without I/O.
//!
//! `reported` holds what the device last said of each property (shadow reports and
//! telemetry), `desired` what applications asked for (read_write properties only). Each key
//! carries the time it was last set in `metadata`. The `version` grows by one with every
//! change of a value; a report that repeats the held values only refreshes their times.
//! `delta` is the desired keys whose value differs from the reported one.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use wanwu_model::ValidationErrors;
use wanwu_model::thing::{Access, Product};
use wanwu_model::value::validate_value;

/// When a key was last set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyMetadata {
    /// Time the value was set, ms since the Unix epoch.
    pub ts: i64,
}

/// Per-key times of both sides of the twin.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TwinMetadata {
    /// Times of the reported keys.
    pub reported: BTreeMap<String, KeyMetadata>,
    /// Times of the desired keys.
    pub desired: BTreeMap<String, KeyMetadata>,
}

/// The twin of one device.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TwinDocument {
    /// Property values the device reported.
    pub reported: Map<String, Json>,
    /// Property values applications want the device to take.
    pub desired: Map<String, Json>,
    /// When each key was set.
    pub metadata: TwinMetadata,
    /// Grows by one with every change of a value.
    pub version: u64,
}

/// A twin as the API and the device see it: the document with its delta.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TwinView {
    /// Property values the device reported.
    #[schema(value_type = Object)]
    pub reported: Map<String, Json>,
    /// Property values applications want the device to take.
    #[schema(value_type = Object)]
    pub desired: Map<String, Json>,
    /// Desired keys whose value differs from the reported one.
    #[schema(value_type = Object)]
    pub delta: Map<String, Json>,
    /// Version of the twin; only grows.
    pub version: u64,
    /// When each key was set.
    pub metadata: TwinMetadata,
}

impl TwinDocument {
    /// Desired keys whose value differs from (or is missing in) the reported state.
    pub fn delta(&self) -> Map<String, Json> {
        self.desired
            .iter()
            .filter(|(key, value)| self.reported.get(*key) != Some(*value))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }

    /// The document with its delta.
    pub fn view(&self) -> TwinView {
        TwinView {
            reported: self.reported.clone(),
            desired: self.desired.clone(),
            delta: self.delta(),
            version: self.version,
            metadata: self.metadata.clone(),
        }
    }

    /// Applies a validated merge patch of desired values at `ts` (`null` removes a key);
    /// returns whether a value changed (then the version grew).
    pub fn patch_desired(&mut self, patch: &Map<String, Json>, ts: i64) -> bool {
        let mut changed = false;
        for (key, value) in patch {
            if value.is_null() {
                if self.desired.remove(key).is_some() {
                    self.metadata.desired.remove(key);
                    changed = true;
                }
            } else if self.desired.get(key) != Some(value) {
                self.desired.insert(key.clone(), value.clone());
                self.metadata
                    .desired
                    .insert(key.clone(), KeyMetadata { ts });
                changed = true;
            }
        }
        if changed {
            self.version += 1;
        }
        changed
    }

    /// Records reported values, each with its time; a value older than the one held is
    /// ignored. Returns whether a value changed (then the version grew).
    pub fn report<'a>(&mut self, values: impl IntoIterator<Item = (&'a str, Json, i64)>) -> bool {
        let mut changed = false;
        for (key, value, ts) in values {
            if self
                .metadata
                .reported
                .get(key)
                .is_some_and(|held| held.ts > ts)
            {
                continue;
            }
            self.metadata
                .reported
                .insert(key.to_owned(), KeyMetadata { ts });
            if self.reported.get(key) != Some(&value) {
                self.reported.insert(key.to_owned(), value);
                changed = true;
            }
        }
        if changed {
            self.version += 1;
        }
        changed
    }
}

/// Checks a desired-state merge patch against `product`: a JSON object whose keys are
/// read_write properties, each value valid for its property or `null` (delete). Returns
/// the patch with values in canonical form (floats as floats), so that they compare equal
/// to reported ones.
pub fn validate_desired(
    product: &Product,
    patch: &Json,
) -> Result<Map<String, Json>, ValidationErrors> {
    let Json::Object(patch) = patch else {
        return Err(ValidationErrors::single(
            "",
            "desired state must be a JSON object of property values",
        ));
    };
    let mut errors = ValidationErrors::default();
    let mut valid = Map::new();
    for (key, value) in patch {
        match product.property(key) {
            None => errors.push(key.as_str(), "not a property of the product"),
            Some(property) if property.access != Access::ReadWrite => errors.push(
                key.as_str(),
                "not a read_write property; only the device reports it",
            ),
            Some(_) if value.is_null() => {
                valid.insert(key.clone(), Json::Null);
            }
            Some(property) => match validate_value(key, property.spec(), value) {
                Ok(typed) => {
                    valid.insert(key.clone(), canonical(&typed));
                }
                Err(e) => errors.extend(e),
            },
        }
    }
    errors.into_result().map(|()| valid)
}

/// Checks a shadow report against `product`: a JSON object of property values (any
/// access). Returns the values in canonical form.
pub fn validate_reported(
    product: &Product,
    payload: &Json,
) -> Result<Map<String, Json>, ValidationErrors> {
    let Json::Object(values) = payload else {
        return Err(ValidationErrors::single(
            "",
            "a shadow report must be a JSON object of property values",
        ));
    };
    let mut errors = ValidationErrors::default();
    let mut valid = Map::new();
    for (key, value) in values {
        match product.property(key) {
            None => errors.push(key.as_str(), "not a property of the product"),
            Some(property) => match validate_value(key, property.spec(), value) {
                Ok(typed) => {
                    valid.insert(key.clone(), canonical(&typed));
                }
                Err(e) => errors.extend(e),
            },
        }
    }
    errors.into_result().map(|()| valid)
}

/// A typed value as JSON, the one form stored in twins.
pub fn canonical(value: &wanwu_model::Value) -> Json {
    serde_json::to_value(value).unwrap_or(Json::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn product() -> Product {
        serde_json::from_value(json!({
            "id": "lamp", "name": "Lamp",
            "properties": [
                {"id": "level", "type": "float", "min": 0, "max": 100, "access": "read_write"},
                {"id": "mode", "type": "enum", "values": ["eco", "on"], "access": "read_write"},
                {"id": "temp", "type": "float"}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn merge_patch_sets_and_deletes_and_version_grows_only_on_change() {
        let mut twin = TwinDocument::default();
        let patch = validate_desired(&product(), &json!({"level": 40, "mode": "eco"})).unwrap();
        assert_eq!(patch["level"], json!(40.0), "canonical float");
        assert!(twin.patch_desired(&patch, 10));
        assert_eq!(twin.version, 1);
        assert!(
            !twin.patch_desired(&patch, 11),
            "same values change nothing"
        );
        assert_eq!(twin.version, 1);
        let delete = validate_desired(&product(), &json!({"mode": null})).unwrap();
        assert!(twin.patch_desired(&delete, 12));
        assert_eq!(twin.version, 2);
        assert!(!twin.desired.contains_key("mode"));
        assert!(!twin.metadata.desired.contains_key("mode"));
        assert_eq!(twin.metadata.desired["level"].ts, 10);
    }

    #[test]
    fn delta_is_desired_keys_differing_from_reported() {
        let mut twin = TwinDocument::default();
        let patch = validate_desired(&product(), &json!({"level": 40, "mode": "eco"})).unwrap();
        twin.patch_desired(&patch, 1);
        let reported = validate_reported(&product(), &json!({"level": 40, "temp": 3})).unwrap();
        twin.report(reported.iter().map(|(k, v)| (k.as_str(), v.clone(), 2)));
        assert_eq!(Json::Object(twin.delta()), json!({"mode": "eco"}));
        assert_eq!(twin.version, 2);
    }

    #[test]
    fn older_reports_do_not_replace_newer_values() {
        let mut twin = TwinDocument::default();
        assert!(twin.report([("temp", json!(1.0), 100)]));
        assert!(!twin.report([("temp", json!(2.0), 50)]));
        assert_eq!(twin.reported["temp"], json!(1.0));
        assert!(
            !twin.report([("temp", json!(1.0), 200)]),
            "same value: no new version"
        );
        assert_eq!(twin.metadata.reported["temp"].ts, 200);
        assert_eq!(twin.version, 1);
    }

    #[test]
    fn desired_keys_must_be_read_write_properties_with_valid_values() {
        let errors = validate_desired(
            &product(),
            &json!({"temp": 1, "nope": 2, "level": 101, "mode": "off"}),
        )
        .unwrap_err();
        let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths.len(), 4, "{errors:?}");
        for path in ["temp", "nope", "level", "mode"] {
            assert!(paths.contains(&path), "{path} in {paths:?}");
        }
        assert!(validate_desired(&product(), &json!([1])).is_err());
    }

    #[test]
    fn reports_are_checked_against_every_property() {
        assert!(validate_reported(&product(), &json!({"temp": 20})).is_ok());
        assert!(validate_reported(&product(), &json!({"temp": "hot"})).is_err());
        assert!(validate_reported(&product(), &json!({"other": 1})).is_err());
        assert!(validate_reported(&product(), &json!(3)).is_err());
    }
}
