//! Conversions between wire-level publish properties and broker messages.

use std::num::NonZeroU32;

use rmqtt_codec::types::Publish;
use rmqtt_codec::v5::{LastWill, PublishProperties};

use crate::message::{Message, MessageProperties};

/// The end-to-end properties of an inbound PUBLISH (topic alias and subscription ids are
/// per-hop and left out).
pub(crate) fn message_properties(props: Option<&PublishProperties>) -> MessageProperties {
    let Some(p) = props else {
        return MessageProperties::default();
    };
    MessageProperties {
        payload_format_utf8: p.is_utf8_payload,
        content_type: p.content_type.clone(),
        response_topic: p.response_topic.clone(),
        correlation_data: p.correlation_data.clone(),
        user_properties: p.user_properties.clone(),
        message_expiry_secs: p.message_expiry_interval.map(NonZeroU32::get),
    }
}

/// The message a will turns into.
pub(crate) fn will_message(will: &LastWill) -> Message {
    Message {
        topic: will.topic.clone(),
        payload: will.message.clone(),
        qos: will.qos,
        retain: will.retain,
        properties: MessageProperties {
            payload_format_utf8: will.is_utf8_payload.unwrap_or(false),
            content_type: will.content_type.clone(),
            response_topic: will.response_topic.clone(),
            correlation_data: will.correlation_data.clone(),
            user_properties: will.user_properties.clone(),
            message_expiry_secs: will.message_expiry_interval.map(NonZeroU32::get),
        },
    }
}

/// An outbound PUBLISH for `message` (MQTT 5 properties included; they are stripped for
/// MQTT 3.1.1 clients by the codec layer).
pub(crate) fn outbound_publish(
    message: &Message,
    qos: rmqtt_codec::types::QoS,
    retain: bool,
    packet_id: Option<std::num::NonZeroU16>,
    remaining_expiry: Option<u32>,
    subscription_ids: &[NonZeroU32],
) -> Publish {
    let p = &message.properties;
    let properties = PublishProperties {
        topic_alias: None,
        correlation_data: p.correlation_data.clone(),
        message_expiry_interval: remaining_expiry.and_then(NonZeroU32::new),
        content_type: p.content_type.clone(),
        user_properties: p.user_properties.clone(),
        is_utf8_payload: p.payload_format_utf8,
        response_topic: p.response_topic.clone(),
        subscription_ids: subscription_ids.to_vec(),
    };
    Publish {
        dup: false,
        retain,
        qos,
        topic: message.topic.clone(),
        packet_id,
        payload: message.payload.clone(),
        properties: Some(properties),
    }
}
