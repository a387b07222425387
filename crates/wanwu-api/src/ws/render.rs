//! Data frames as JSON text. The part shared by every socket (device, time, values) is
//! rendered once per message; each socket adds only its type and subscription ids:
//!
//! - `{"type": "telemetry", "subscriptions": ["s1"], "device": "d1", "product": "aq",
//!   "ts": 1700000000000, "values": {"pm25": 12.5}}`, one frame per timestamp;
//! - `{"type": "event" | "presence" | "twin" | "alarm" | "command", "subscriptions": ["s1"],
//!   "device": "d1", "ts": 1700000000000, "data": {...}}` with the notice's body.

use super::protocol::LiveKind;
use serde::Serialize;
use std::collections::BTreeMap;
use wanwu_core::Notice;
use wanwu_model::{Point, Value};

/// The fields of a data frame that every socket shares, rendered once: the JSON object's
/// members after `type` and `subscriptions`, with the closing brace.
pub struct SharedPart {
    kind: LiveKind,
    /// `"device":...}`
    members: String,
}

#[derive(Serialize)]
struct TelemetryMembers<'a> {
    device: &'a str,
    product: &'a str,
    ts: i64,
    values: &'a BTreeMap<String, Value>,
}

#[derive(Serialize)]
struct NoticeMembers<'a> {
    device: &'a str,
    ts: i64,
    data: &'a serde_json::Value,
}

impl SharedPart {
    /// The shared part of the telemetry frame of `point`.
    pub fn telemetry(device: &str, product: &str, point: &Point) -> Self {
        Self::of(
            LiveKind::Telemetry,
            &TelemetryMembers {
                device,
                product,
                ts: point.ts,
                values: &point.values,
            },
        )
    }

    /// The shared part of the frame of `notice`.
    pub fn notice(notice: &Notice) -> Self {
        Self::of(
            notice.kind.into(),
            &NoticeMembers {
                device: &notice.device,
                ts: notice.ts,
                data: &notice.body,
            },
        )
    }

    fn of(kind: LiveKind, members: &impl Serialize) -> Self {
        let object = serde_json::to_string(members).unwrap_or_else(|_| "{}".into());
        SharedPart {
            kind,
            members: object[1..].to_owned(),
        }
    }

    /// The whole frame for a socket whose subscriptions `ids` want it.
    pub fn frame<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> String {
        let mut frame = String::with_capacity(self.members.len() + 64);
        frame.push_str(r#"{"type":""#);
        frame.push_str(self.kind.as_str());
        frame.push_str(r#"","subscriptions":["#);
        for (i, id) in ids.into_iter().enumerate() {
            if i > 0 {
                frame.push(',');
            }
            // Ids are client text: escaped as JSON strings.
            frame.push_str(&serde_json::to_string(id).unwrap_or_else(|_| "\"\"".into()));
        }
        frame.push_str("],");
        frame.push_str(&self.members);
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wanwu_core::NoticeKind;

    #[test]
    fn telemetry_frame_is_one_json_object_with_escaped_ids() {
        let point = Point {
            ts: 7,
            values: BTreeMap::from([("pm25".to_string(), Value::Float(12.5))]),
        };
        let part = SharedPart::telemetry("d1", "aq", &point);
        let frame: serde_json::Value = serde_json::from_str(&part.frame(["s1", "a\"b"])).unwrap();
        assert_eq!(
            frame,
            json!({"type": "telemetry", "subscriptions": ["s1", "a\"b"], "device": "d1",
                   "product": "aq", "ts": 7, "values": {"pm25": 12.5}})
        );
    }

    #[test]
    fn notice_frame_carries_the_body_as_data() {
        let notice = Notice {
            tenant: "t".into(),
            device: "d1".into(),
            kind: NoticeKind::Presence,
            ts: 9,
            body: json!({"status": "online"}),
        };
        let frame: serde_json::Value =
            serde_json::from_str(&SharedPart::notice(&notice).frame(["s"])).unwrap();
        assert_eq!(
            frame,
            json!({"type": "presence", "subscriptions": ["s"], "device": "d1", "ts": 9,
                   "data": {"status": "online"}})
        );
    }
}
