//! The telemetry of one store write of a device, as handed to the processors behind the
//! store (live subscribers, twin, rules) through the ingest [`Fanout`](crate::fanout::Fanout):
//! one accepted payload, or the accepted ones of several payloads a client pipelined.

use wanwu_model::{Message, Point};

/// The telemetry of a device stored together (one payload or several pipelined ones).
#[derive(Clone, Debug, PartialEq)]
pub struct Ingested {
    /// Tenant of the device.
    pub tenant: String,
    /// Device id.
    pub device: String,
    /// Product of the device.
    pub product: String,
    /// The points, in payload order (payloads in arrival order).
    pub points: Vec<Point>,
}

impl Ingested {
    /// The points as telemetry [`Message`]s, one per timestamp.
    pub fn messages(&self) -> impl Iterator<Item = Message> + '_ {
        self.points
            .iter()
            .map(|p| Message::telemetry(&self.tenant, &self.device, p.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn messages_are_telemetry_per_timestamp() {
        let batch = Ingested {
            tenant: "t".into(),
            device: "d".into(),
            product: "p".into(),
            points: vec![Point {
                ts: 7,
                values: BTreeMap::new(),
            }],
        };
        let messages: Vec<Message> = batch.messages().collect();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].ts, 7);
        assert_eq!(messages[0].kind, wanwu_model::MessageKind::Telemetry);
    }
}
