//! The [`Notice`] of a twin change: what changed between two versions of a twin, for live
//! subscribers and rules.
//!
//! The body carries the changed keys rather than the whole twin, so that a device reporting
//! one of fifty properties costs one key on the bus: `{"version": 8, "reported": {"pm25":
//! 12.5}, "desired": {"mode": null}, "delta": {...}}`. `reported` and `desired` hold the keys
//! whose value changed on that side (`null`: the key was removed); `delta` is the whole delta
//! after the change (desired keys that differ from reported), which is what an application
//! waits on.

use super::document::TwinDocument;
use crate::bus::{Notice, NoticeKind};
use serde::Serialize;
use serde_json::{Map, Value as Json};

/// The body of a twin [`Notice`].
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TwinChange {
    /// Version of the twin after the change.
    pub version: u64,
    /// Reported keys whose value changed, with the new value (`null`: removed).
    #[schema(value_type = Object)]
    pub reported: Map<String, Json>,
    /// Desired keys whose value changed, with the new value (`null`: removed).
    #[schema(value_type = Object)]
    pub desired: Map<String, Json>,
    /// The whole delta after the change.
    #[schema(value_type = Object)]
    pub delta: Map<String, Json>,
}

impl TwinChange {
    /// What changed from `before` to `after`.
    pub fn between(before: &TwinDocument, after: &TwinDocument) -> Self {
        TwinChange {
            version: after.version,
            reported: changed_keys(&before.reported, &after.reported),
            desired: changed_keys(&before.desired, &after.desired),
            delta: after.delta(),
        }
    }

    /// The notice of this change to `device` of `tenant` at `ts`.
    pub fn into_notice(self, tenant: &str, device: &str, ts: i64) -> Notice {
        Notice {
            tenant: tenant.to_owned(),
            device: device.to_owned(),
            kind: NoticeKind::Twin,
            ts,
            body: serde_json::to_value(self).unwrap_or(Json::Null),
        }
    }
}

/// Keys of `after` whose value differs from `before`, and keys of `before` gone in `after`
/// (as `null`).
fn changed_keys(before: &Map<String, Json>, after: &Map<String, Json>) -> Map<String, Json> {
    let set = after
        .iter()
        .filter(|(key, value)| before.get(*key) != Some(*value))
        .map(|(key, value)| (key.clone(), value.clone()));
    let removed = before
        .keys()
        .filter(|key| !after.contains_key(*key))
        .map(|key| (key.clone(), Json::Null));
    set.chain(removed).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn twin(reported: Json, desired: Json, version: u64) -> TwinDocument {
        TwinDocument {
            reported: reported.as_object().cloned().unwrap_or_default(),
            desired: desired.as_object().cloned().unwrap_or_default(),
            version,
            ..TwinDocument::default()
        }
    }

    #[test]
    fn only_changed_and_removed_keys_with_the_delta_after() {
        let before = twin(
            json!({"a": 1, "b": 2}),
            json!({"mode": "eco", "level": 3}),
            4,
        );
        let after = twin(json!({"a": 1, "b": 5}), json!({"level": 3}), 5);
        let change = TwinChange::between(&before, &after);
        assert_eq!(change.version, 5);
        assert_eq!(Json::Object(change.reported.clone()), json!({"b": 5}));
        assert_eq!(Json::Object(change.desired.clone()), json!({"mode": null}));
        assert_eq!(Json::Object(change.delta.clone()), json!({"level": 3}));
        let notice = change.into_notice("t", "d1", 9);
        assert_eq!(notice.kind, NoticeKind::Twin);
        assert_eq!(
            (notice.tenant.as_str(), notice.device.as_str()),
            ("t", "d1")
        );
        assert_eq!(notice.body["reported"], json!({"b": 5}));
    }
}
