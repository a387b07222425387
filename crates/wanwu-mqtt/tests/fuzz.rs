//! Random and mutated byte streams against the decoder and the session state machine:
//! the connection always ends (or keeps serving), the broker never panics and keeps serving.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;
use wanwu_mqtt::{AllowAll, Broker, BrokerConfig, Hooks};

fn fixture() -> &'static (Runtime, Broker) {
    static FIXTURE: OnceLock<(Runtime, Broker)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = BrokerConfig {
            max_packet_size: 4096,
            ..BrokerConfig::default()
        };
        let broker = runtime
            .block_on(Broker::start(config, Hooks::new(AllowAll::new("fuzz"))))
            .unwrap();
        (runtime, broker)
    })
}

/// Valid packets to start mutations from: MQTT 5 CONNECT with will (delay) and credentials,
/// SUBSCRIBE with options and an identifier (plain and shared), PUBLISH at each QoS with
/// topic alias and user property, the QoS 2 handshake, PING, UNSUBSCRIBE and DISCONNECT.
fn v5_seed() -> Vec<u8> {
    use rmqtt_codec::v5::*;
    let id = |n: u16| std::num::NonZeroU16::new(n).unwrap();
    let options = |qos, no_local| SubscriptionOptions {
        qos,
        no_local,
        retain_as_published: true,
        retain_handling: RetainHandling::AtSubscribeNew,
    };
    let publish = |qos, packet_id: Option<u16>, topic: &'static str, alias: u16| {
        Packet::Publish(Box::new(rmqtt_codec::types::Publish {
            dup: false,
            retain: false,
            qos,
            topic: topic.into(),
            packet_id: packet_id.map(id),
            payload: bytes::Bytes::from_static(b"payload"),
            properties: Some(PublishProperties {
                topic_alias: std::num::NonZeroU16::new(alias),
                user_properties: vec![("k".into(), "v".into())],
                ..Default::default()
            }),
        }))
    };
    let will = LastWill {
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: "w/t".into(),
        message: bytes::Bytes::from_static(b"bye"),
        will_delay_interval_sec: Some(5),
        correlation_data: None,
        message_expiry_interval: None,
        content_type: None,
        user_properties: Vec::new(),
        is_utf8_payload: None,
        response_topic: None,
    };
    let packets = vec![
        Packet::Connect(Box::new(Connect {
            clean_start: true,
            keep_alive: 60,
            session_expiry_interval_secs: 60,
            client_id: "c1".into(),
            username: Some("u".into()),
            password: Some(bytes::Bytes::from_static(b"p")),
            last_will: Some(will),
            ..Connect::default()
        })),
        Packet::Subscribe(Subscribe {
            packet_id: id(1),
            id: std::num::NonZeroU32::new(7),
            user_properties: Vec::new(),
            topic_filters: vec![
                ("a/+".into(), options(QoS::AtLeastOnce, true)),
                ("$share/g/b/#".into(), options(QoS::ExactlyOnce, false)),
            ],
        }),
        publish(QoS::AtLeastOnce, Some(2), "a/b", 1),
        publish(QoS::ExactlyOnce, Some(3), "a/c", 0),
        Packet::PublishRelease(PublishAck2 {
            packet_id: id(3),
            ..Default::default()
        }),
        publish(QoS::AtMostOnce, None, "", 1),
        Packet::PingRequest,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: id(4),
            user_properties: Vec::new(),
            topic_filters: vec!["a/+".into()],
        }),
        Packet::Disconnect(Disconnect {
            reason_code: DisconnectReasonCode::DisconnectWithWillMessage,
            ..Default::default()
        }),
    ];
    encode_all(
        packets,
        rmqtt_codec::MqttCodec::V5(Codec::new(0, 0)),
        rmqtt_codec::MqttPacket::V5,
    )
}

/// The MQTT 3.1.1 counterpart: CONNECT with will, SUBSCRIBE, PUBLISH QoS 1, PING, DISCONNECT.
fn v311_seed() -> Vec<u8> {
    use rmqtt_codec::v3::*;
    let id = |n: u16| std::num::NonZeroU16::new(n).unwrap();
    let packets = vec![
        Packet::Connect(Box::new(Connect {
            clean_session: true,
            keep_alive: 60,
            client_id: "c2".into(),
            last_will: Some(LastWill {
                qos: QoS::AtLeastOnce,
                retain: true,
                topic: "w/t".into(),
                message: bytes::Bytes::from_static(b"bye"),
            }),
            ..Connect::default()
        })),
        Packet::Subscribe {
            packet_id: id(1),
            topic_filters: vec![("a/#".into(), QoS::AtLeastOnce)],
        },
        Packet::Publish(Box::new(rmqtt_codec::types::Publish {
            dup: false,
            retain: false,
            qos: QoS::AtLeastOnce,
            topic: "a/b".into(),
            packet_id: Some(id(5)),
            payload: bytes::Bytes::from_static(b"hi"),
            properties: None,
        })),
        Packet::PingRequest,
        Packet::Disconnect,
    ];
    encode_all(
        packets,
        rmqtt_codec::MqttCodec::V3(Codec::new(0)),
        rmqtt_codec::MqttPacket::V3,
    )
}

fn encode_all<P>(
    packets: Vec<P>,
    mut codec: rmqtt_codec::MqttCodec,
    wrap: fn(P) -> rmqtt_codec::MqttPacket,
) -> Vec<u8> {
    use tokio_util::codec::Encoder;
    let mut out = bytes::BytesMut::new();
    for packet in packets {
        codec
            .encode(wrap(packet), &mut out)
            .expect("seed packets encode");
    }
    out.to_vec()
}

/// Feeds `bytes` to a fresh connection, closes the write side, and returns the replies.
fn exercise(bytes: Vec<u8>) -> Vec<u8> {
    let (runtime, broker) = fixture();
    runtime.block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let serving = tokio::spawn({
            let broker = broker.clone();
            async move { broker.serve_connection(server, peer).await }
        });
        let _ = client.write_all(&bytes).await;
        let _ = client.shutdown().await;
        let mut sink = Vec::new();
        let drained =
            tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut sink)).await;
        assert!(
            drained.is_ok(),
            "the connection ended after the input ran out"
        );
        tokio::time::timeout(Duration::from_secs(10), serving)
            .await
            .expect("connection task ends")
            .expect("connection task does not panic");
        sink
    })
}

fn mutated(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = seed.len();
    prop::collection::vec((0..len, any::<u8>(), 0u8..4), 1..8).prop_map(move |edits| {
        let mut bytes = seed.clone();
        for (at, value, kind) in edits {
            if bytes.is_empty() {
                bytes.push(value);
                continue;
            }
            let at = at.min(bytes.len().saturating_sub(1));
            match kind {
                0 => bytes[at] = value,
                1 => bytes.insert(at, value),
                2 if !bytes.is_empty() => {
                    bytes.remove(at);
                }
                _ => bytes.truncate(at.max(1)),
            }
        }
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_break_the_broker(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = exercise(bytes);
    }

    #[test]
    fn random_bytes_after_a_valid_connect(tail in prop::collection::vec(any::<u8>(), 0..600)) {
        let seed = v5_seed();
        let connect_len = usize::from(seed[1]) + 2;
        let mut bytes = seed[..connect_len].to_vec();
        bytes.extend(tail);
        let _ = exercise(bytes);
    }

    #[test]
    fn mutated_v5_sessions(bytes in mutated(v5_seed())) {
        let _ = exercise(bytes);
    }

    #[test]
    fn mutated_v311_sessions(bytes in mutated(v311_seed())) {
        let _ = exercise(bytes);
    }
}

/// Decodes the broker's replies; `true` selects MQTT 5.
fn replies(bytes: Vec<u8>, v5: bool) -> Vec<u8> {
    use rmqtt_codec::{MqttCodec, v3, v5 as v5codec};
    use tokio_util::codec::Decoder;
    let mut codec = if v5 {
        MqttCodec::V5(v5codec::Codec::new(0, 0))
    } else {
        MqttCodec::V3(v3::Codec::new(0))
    };
    let mut buf = bytes::BytesMut::from(&bytes[..]);
    let mut types = Vec::new();
    while let Some((packet, _)) = codec
        .decode(&mut buf)
        .expect("the broker sends valid packets")
    {
        types.push(
            match packet {
                rmqtt_codec::MqttPacket::V5(p) => p.packet_type(),
                rmqtt_codec::MqttPacket::V3(p) => p.packet_type(),
                rmqtt_codec::MqttPacket::Version(_) => 0,
            } >> 4,
        );
    }
    types
}

#[test]
fn the_seed_corpus_is_valid_and_served() {
    // CONNACK, SUBACK, PUBACK, PUBREC, PUBCOMP, PINGRESP, UNSUBACK (no-local keeps the
    // client's own messages away).
    assert_eq!(replies(exercise(v5_seed()), true), [2, 9, 4, 5, 7, 13, 11]);
    assert_eq!(replies(exercise(v311_seed()), false), [2, 9, 4, 13]);
}
