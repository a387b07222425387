//! Application messages as they travel through the broker.

use bytes::Bytes;
use bytestring::ByteString;
use serde::{Deserialize, Serialize};

pub use rmqtt_codec::types::QoS;

/// MQTT 5 properties of an application message that travel from publisher to subscriber.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageProperties {
    /// Payload format indicator: `true` means the payload is UTF-8 text.
    pub payload_format_utf8: bool,
    /// Content type (MIME type or application specific).
    pub content_type: Option<ByteString>,
    /// Response topic for request/response exchanges.
    pub response_topic: Option<ByteString>,
    /// Correlation data for request/response exchanges.
    pub correlation_data: Option<Bytes>,
    /// User properties, in order.
    pub user_properties: Vec<(ByteString, ByteString)>,
    /// Message expiry interval in seconds, as published.
    pub message_expiry_secs: Option<u32>,
}

impl MessageProperties {
    /// True when no property is set (the common case, which then costs no allocation).
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// An application message: what a client publishes or the platform sends to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Topic name inside the namespace of the publisher (never contains wildcards).
    pub topic: ByteString,
    /// Payload bytes.
    pub payload: Bytes,
    /// Quality of service requested by the publisher.
    pub qos: QoS,
    /// Retain flag.
    pub retain: bool,
    /// MQTT 5 properties (empty for MQTT 3.1.1 publishers).
    pub properties: MessageProperties,
}

impl Message {
    /// A QoS 0, non-retained message without properties.
    pub fn new(topic: impl Into<ByteString>, payload: impl Into<Bytes>) -> Self {
        Self {
            topic: topic.into(),
            payload: payload.into(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: MessageProperties::default(),
        }
    }

    /// The same message with another quality of service.
    pub fn with_qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// The same message with the retain flag set or cleared.
    pub fn with_retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }
}

/// A message on its way through the broker: the message plus routing facts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Publication {
    /// The message as published.
    pub message: Message,
    /// Absolute expiry time (ms since the Unix epoch), from the message expiry interval.
    pub expires_at_ms: Option<u64>,
    /// Session id of the publishing session (0 for server-originated messages), for no-local.
    #[serde(skip)]
    pub origin: u64,
}

impl Publication {
    /// Wraps a message received now from session `origin`.
    pub fn new(message: Message, origin: u64) -> Self {
        let expires_at_ms = message
            .properties
            .message_expiry_secs
            .map(|secs| now_ms() + u64::from(secs) * 1000);
        Self {
            message,
            expires_at_ms,
            origin,
        }
    }

    /// Seconds left before the message expires, `Err(())` once it has expired.
    pub fn remaining_expiry(&self, now: u64) -> Result<Option<u32>, ()> {
        match self.expires_at_ms {
            None => Ok(None),
            Some(at) if at <= now => Err(()),
            Some(at) => Ok(Some(
                (at - now).div_ceil(1000).min(u64::from(u32::MAX)) as u32
            )),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
