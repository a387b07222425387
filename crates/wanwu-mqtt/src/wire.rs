//! MQTT framing: rmqtt-codec for both protocol versions behind one packet model.
//!
//! The broker's state machine speaks MQTT 5 packets only. MQTT 3.1.1 packets are lifted to
//! their MQTT 5 form on the way in and lowered on the way out, so there is one code path.

use bytes::BytesMut;
use rmqtt_codec::error::{DecodeError, EncodeError};
use rmqtt_codec::types::QoS;
use rmqtt_codec::v5::{
    ConnectAckReason, Disconnect, DisconnectReasonCode, PublishAck, PublishAck2, PublishAck2Reason,
    PublishAckReason, RetainHandling, Subscribe, SubscribeAckReason, SubscriptionOptions,
    Unsubscribe,
};
use rmqtt_codec::version::{ProtocolVersion as DetectedVersion, VersionCodec};
use rmqtt_codec::{v3, v5};
use tokio_util::codec::{Decoder, Encoder};

use crate::hooks::{ProtocolVersion, ReasonCode};

pub(crate) use v5::Packet;

/// A codec for one connection, after the protocol version is known.
#[derive(Debug)]
pub(crate) enum WireCodec {
    /// MQTT 3.1 / 3.1.1.
    V3(v3::Codec),
    /// MQTT 5.0.
    V5(v5::Codec),
}

/// Detects the protocol version from the first bytes of a connection: `Ok(None)` needs more.
pub(crate) fn detect_version(buf: &mut BytesMut) -> Result<Option<ProtocolVersion>, DecodeError> {
    Ok(VersionCodec.decode(buf)?.map(|v| match v {
        DetectedVersion::MQTT3 => ProtocolVersion::V311,
        DetectedVersion::MQTT5 => ProtocolVersion::V5,
    }))
}

impl WireCodec {
    /// A codec for `version` that refuses inbound packets larger than `max_packet_size`.
    pub fn new(version: ProtocolVersion, max_packet_size: u32) -> Self {
        match version {
            ProtocolVersion::V311 => Self::V3(v3::Codec::new(max_packet_size)),
            ProtocolVersion::V5 => Self::V5(v5::Codec::new(max_packet_size, 0)),
        }
    }

    /// The protocol version.
    pub fn version(&self) -> ProtocolVersion {
        match self {
            Self::V3(_) => ProtocolVersion::V311,
            Self::V5(_) => ProtocolVersion::V5,
        }
    }

    /// Limits outbound packets to the client's maximum packet size (MQTT 5).
    pub fn set_max_outbound_size(&mut self, size: u32) {
        if let Self::V5(codec) = self {
            codec.set_max_outbound_size(size);
        }
    }

    /// Decodes the next packet (with its remaining length), lifted to MQTT 5 form.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        match self {
            Self::V5(codec) => Ok(codec.decode(buf)?.map(|(packet, _)| packet)),
            Self::V3(codec) => codec
                .decode(buf)?
                .map(|(packet, _)| lift_v3(packet))
                .transpose(),
        }
    }

    /// Encodes `packet` for the peer; packets MQTT 3.1.1 has no form for are skipped.
    pub fn encode(&mut self, packet: Packet, buf: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Self::V5(codec) => codec.encode(packet, buf),
            Self::V3(codec) => match lower_to_v3(packet) {
                Some(packet) => codec.encode(packet, buf),
                None => Ok(()),
            },
        }
    }
}

fn lift_v3(packet: v3::Packet) -> Result<Packet, DecodeError> {
    Ok(match packet {
        v3::Packet::Connect(c) => Packet::Connect(Box::new(v5::Connect {
            clean_start: c.clean_session,
            keep_alive: c.keep_alive,
            session_expiry_interval_secs: if c.clean_session { 0 } else { u32::MAX },
            auth_method: None,
            auth_data: None,
            request_problem_info: true,
            request_response_info: false,
            receive_max: None,
            topic_alias_max: 0,
            user_properties: Vec::new(),
            max_packet_size: None,
            last_will: c.last_will.map(|w| v5::LastWill {
                qos: w.qos,
                retain: w.retain,
                topic: w.topic,
                message: w.message,
                will_delay_interval_sec: None,
                correlation_data: None,
                message_expiry_interval: None,
                content_type: None,
                user_properties: Vec::new(),
                is_utf8_payload: None,
                response_topic: None,
            }),
            client_id: c.client_id,
            username: c.username,
            password: c.password,
            cert: None,
        })),
        v3::Packet::Publish(p) => Packet::Publish(p),
        v3::Packet::PublishAck { packet_id } => Packet::PublishAck(ack(packet_id)),
        v3::Packet::PublishReceived { packet_id } => Packet::PublishReceived(ack(packet_id)),
        v3::Packet::PublishRelease { packet_id } => {
            Packet::PublishRelease(ack2(packet_id, PublishAck2Reason::Success))
        }
        v3::Packet::PublishComplete { packet_id } => {
            Packet::PublishComplete(ack2(packet_id, PublishAck2Reason::Success))
        }
        v3::Packet::Subscribe {
            packet_id,
            topic_filters,
        } => Packet::Subscribe(Subscribe {
            packet_id,
            id: None,
            user_properties: Vec::new(),
            topic_filters: topic_filters
                .into_iter()
                .map(|(filter, qos)| {
                    let options = SubscriptionOptions {
                        qos,
                        no_local: false,
                        retain_as_published: false,
                        retain_handling: RetainHandling::AtSubscribe,
                    };
                    (filter, options)
                })
                .collect(),
        }),
        v3::Packet::Unsubscribe {
            packet_id,
            topic_filters,
        } => Packet::Unsubscribe(Unsubscribe {
            packet_id,
            user_properties: Vec::new(),
            topic_filters,
        }),
        v3::Packet::PingRequest => Packet::PingRequest,
        v3::Packet::Disconnect => {
            Packet::Disconnect(disconnect(DisconnectReasonCode::NormalDisconnection, None))
        }
        // Server-to-client packets sent by a client: surfaced as such, refused by the session.
        v3::Packet::ConnectAck(_) => Packet::PingResponse,
        v3::Packet::SubscribeAck { .. }
        | v3::Packet::UnsubscribeAck { .. }
        | v3::Packet::PingResponse => Packet::PingResponse,
    })
}

fn lower_to_v3(packet: Packet) -> Option<v3::Packet> {
    Some(match packet {
        Packet::ConnectAck(ack) => v3::Packet::ConnectAck(v3::ConnectAck {
            return_code: v3_connack_code(ack.reason_code),
            session_present: ack.session_present,
        }),
        Packet::Publish(mut p) => {
            p.properties = None;
            v3::Packet::Publish(p)
        }
        Packet::PublishAck(a) => v3::Packet::PublishAck {
            packet_id: a.packet_id,
        },
        Packet::PublishReceived(a) => v3::Packet::PublishReceived {
            packet_id: a.packet_id,
        },
        Packet::PublishRelease(a) => v3::Packet::PublishRelease {
            packet_id: a.packet_id,
        },
        Packet::PublishComplete(a) => v3::Packet::PublishComplete {
            packet_id: a.packet_id,
        },
        Packet::SubscribeAck(a) => v3::Packet::SubscribeAck {
            packet_id: a.packet_id,
            status: a
                .status
                .into_iter()
                .map(|s| match s {
                    SubscribeAckReason::GrantedQos0 => {
                        v3::SubscribeReturnCode::Success(QoS::AtMostOnce)
                    }
                    SubscribeAckReason::GrantedQos1 => {
                        v3::SubscribeReturnCode::Success(QoS::AtLeastOnce)
                    }
                    SubscribeAckReason::GrantedQos2 => {
                        v3::SubscribeReturnCode::Success(QoS::ExactlyOnce)
                    }
                    _ => v3::SubscribeReturnCode::Failure,
                })
                .collect(),
        },
        Packet::UnsubscribeAck(a) => v3::Packet::UnsubscribeAck {
            packet_id: a.packet_id,
        },
        Packet::PingResponse => v3::Packet::PingResponse,
        _ => return None,
    })
}

fn v3_connack_code(reason: ConnectAckReason) -> v3::ConnectAckReason {
    use v3::ConnectAckReason as V3;
    match reason {
        ConnectAckReason::Success => V3::ConnectionAccepted,
        ConnectAckReason::UnsupportedProtocolVersion => V3::UnacceptableProtocolVersion,
        ConnectAckReason::ClientIdentifierNotValid => V3::IdentifierRejected,
        ConnectAckReason::BadUserNameOrPassword => V3::BadUserNameOrPassword,
        ConnectAckReason::ServerUnavailable | ConnectAckReason::ServerBusy => {
            V3::ServiceUnavailable
        }
        _ => V3::NotAuthorized,
    }
}

/// A PUBACK/PUBREC with success.
pub(crate) fn ack(packet_id: std::num::NonZeroU16) -> PublishAck {
    PublishAck {
        packet_id,
        reason_code: PublishAckReason::Success,
        properties: Vec::new(),
        reason_string: None,
    }
}

/// A PUBREL/PUBCOMP with `reason_code`.
pub(crate) fn ack2(packet_id: std::num::NonZeroU16, reason_code: PublishAck2Reason) -> PublishAck2 {
    PublishAck2 {
        packet_id,
        reason_code,
        properties: Vec::new(),
        reason_string: None,
    }
}

/// A DISCONNECT with `reason_code` and an optional reason string.
pub(crate) fn disconnect(reason_code: DisconnectReasonCode, reason: Option<&str>) -> Disconnect {
    Disconnect {
        reason_code,
        session_expiry_interval_secs: None,
        server_reference: None,
        reason_string: reason.map(Into::into),
        user_properties: Vec::new(),
    }
}

/// The CONNACK reason for a refusal code, `UnspecifiedError` for unknown codes.
pub(crate) fn connack_reason(code: ReasonCode) -> ConnectAckReason {
    ConnectAckReason::try_from(code.0).unwrap_or(ConnectAckReason::UnspecifiedError)
}

/// The PUBACK/PUBREC reason for a refusal code, `UnspecifiedError` for unknown codes.
pub(crate) fn puback_reason(code: ReasonCode) -> PublishAckReason {
    PublishAckReason::try_from(code.0).unwrap_or(PublishAckReason::UnspecifiedError)
}

/// The DISCONNECT reason for a decode error.
pub(crate) fn decode_error_reason(err: &DecodeError) -> DisconnectReasonCode {
    match err {
        DecodeError::MaxSizeExceeded { .. } => DisconnectReasonCode::PacketTooLarge,
        DecodeError::InvalidTopicName => DisconnectReasonCode::TopicNameInvalid,
        DecodeError::InvalidTopicFilter => DisconnectReasonCode::TopicFilterInvalid,
        DecodeError::InvalidProtocol
        | DecodeError::ConnectReservedFlagSet
        | DecodeError::InvalidConnectFlags
        | DecodeError::UnsupportedPacketType
        | DecodeError::PacketIdRequired => DisconnectReasonCode::ProtocolError,
        _ => DisconnectReasonCode::MalformedPacket,
    }
}
