//! Counters and gauges, recorded with the `metrics` crate.
//!
//! Handles are resolved once when the broker is built, so install the recorder (for
//! example the Prometheus exporter) before [`Broker::new`](crate::Broker::new).

use metrics::{Counter, Gauge, counter, gauge};

use crate::message::QoS;

/// Why a message was not delivered.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DropReason {
    /// A session's queue was full.
    QueueFull,
    /// The message expired before delivery.
    Expired,
    /// The message was larger than the subscriber's maximum packet size.
    TooLarge,
    /// The ACL denied the publish.
    NotAuthorized,
    /// The publish hook refused the message.
    Refused,
    /// No subscriber matched.
    NoSubscribers,
}

const DROP_REASONS: [&str; 6] = [
    "queue_full",
    "expired",
    "too_large",
    "not_authorized",
    "refused",
    "no_subscribers",
];

/// The broker's metric handles.
pub(crate) struct Stats {
    pub connections: Gauge,
    pub connections_total: Counter,
    pub connections_refused: Counter,
    pub sessions: Gauge,
    pub retained: Gauge,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    pub throttled: Counter,
    received: [Counter; 3],
    sent: [Counter; 3],
    dropped: [Counter; 6],
}

impl Stats {
    /// Registers the handles with the installed recorder.
    pub fn new() -> Self {
        let by_qos = |name: &'static str| {
            [
                counter!(name, "qos" => "0"),
                counter!(name, "qos" => "1"),
                counter!(name, "qos" => "2"),
            ]
        };
        Self {
            connections: gauge!("mqtt_connections"),
            connections_total: counter!("mqtt_connections_total"),
            connections_refused: counter!("mqtt_connections_refused_total"),
            sessions: gauge!("mqtt_sessions"),
            retained: gauge!("mqtt_retained_messages"),
            bytes_in: counter!("mqtt_bytes_received_total"),
            bytes_out: counter!("mqtt_bytes_sent_total"),
            throttled: counter!("mqtt_publish_throttled_total"),
            received: by_qos("mqtt_messages_received_total"),
            sent: by_qos("mqtt_messages_sent_total"),
            dropped: DROP_REASONS
                .map(|reason| counter!("mqtt_messages_dropped_total", "reason" => reason)),
        }
    }

    /// One application message received from a client.
    pub fn received(&self, qos: QoS) {
        self.received[usize::from(qos.value())].increment(1);
    }

    /// One application message sent to a client.
    pub fn sent(&self, qos: QoS) {
        self.sent[usize::from(qos.value())].increment(1);
    }

    /// One message dropped.
    pub fn dropped(&self, reason: DropReason) {
        self.dropped[reason as usize].increment(1);
    }
}
