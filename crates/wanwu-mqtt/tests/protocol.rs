//! Protocol behaviour at the byte level: violations, limits, keepalive, takeover, flow control.

mod common;

use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

use bytes::Bytes;
use common::TestBroker;
use common::raw::{Raw, connect_packet};
use rmqtt_codec::types::{Publish, QoS};
use rmqtt_codec::v5::{
    Auth, AuthReasonCode, ConnectAckReason, Disconnect, DisconnectReasonCode, Packet, PublishAck,
    PublishAckReason, PublishProperties, RetainHandling, Subscribe, SubscriptionOptions,
};
use wanwu_mqtt::{DisconnectReason, PresenceKind};

fn publish(topic: &str, qos: QoS, packet_id: u16, payload: &'static [u8]) -> Packet {
    Packet::Publish(Box::new(Publish {
        dup: false,
        retain: false,
        qos,
        topic: topic.into(),
        packet_id: NonZeroU16::new(packet_id),
        payload: Bytes::from_static(payload),
        properties: Some(PublishProperties::default()),
    }))
}

fn subscribe(filter: &str, qos: QoS) -> Packet {
    Packet::Subscribe(Subscribe {
        packet_id: NonZeroU16::new(1).unwrap(),
        id: None,
        user_properties: Vec::new(),
        topic_filters: vec![(
            filter.into(),
            SubscriptionOptions {
                qos,
                no_local: false,
                retain_as_published: false,
                retain_handling: RetainHandling::AtSubscribe,
            },
        )],
    })
}

fn puback(packet_id: NonZeroU16) -> Packet {
    Packet::PublishAck(PublishAck {
        packet_id,
        ..PublishAck::default()
    })
}

async fn connected(broker: &TestBroker, client_id: &str) -> Raw {
    let (raw, ack) = Raw::connect(broker.addr, connect_packet(client_id, "raw@t1")).await;
    assert_eq!(ack.reason_code, ConnectAckReason::Success);
    raw
}

async fn subscribed(broker: &TestBroker, client_id: &str, filter: &str, qos: QoS) -> Raw {
    let mut raw = connected(broker, client_id).await;
    raw.send(subscribe(filter, qos)).await;
    assert!(matches!(raw.recv().await, Some(Packet::SubscribeAck(_))));
    raw
}

#[tokio::test]
async fn second_connect_is_a_protocol_error() {
    let broker = TestBroker::start().await;
    let mut raw = connected(&broker, "c1").await;
    raw.send(Packet::Connect(Box::new(connect_packet("c1", "raw@t1"))))
        .await;
    assert_eq!(
        raw.disconnect_reason().await,
        DisconnectReasonCode::ProtocolError
    );
    assert!(raw.closed().await);
}

#[tokio::test]
async fn publishing_to_a_wildcard_topic_is_refused() {
    let broker = TestBroker::start().await;
    let mut raw = connected(&broker, "c1").await;
    raw.send(publish("a/+", QoS::AtLeastOnce, 1, b"x")).await;
    assert_eq!(
        raw.disconnect_reason().await,
        DisconnectReasonCode::TopicNameInvalid
    );
}

#[tokio::test]
async fn qos_3_is_a_malformed_packet() {
    let broker = TestBroker::start().await;
    let mut raw = connected(&broker, "c1").await;
    // PUBLISH with QoS bits 11, topic "a", packet id 1.
    raw.send_bytes(&[0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01])
        .await;
    assert_eq!(
        raw.disconnect_reason().await,
        DisconnectReasonCode::MalformedPacket
    );
}

#[tokio::test]
async fn invalid_utf8_in_a_topic_ends_the_connection() {
    let broker = TestBroker::start().await;
    let mut raw = connected(&broker, "c1").await;
    raw.send_bytes(&[0x30, 0x05, 0x00, 0x02, 0xC3, 0x28, 0x00])
        .await;
    let reason = raw.disconnect_reason().await;
    assert!(
        matches!(
            reason,
            DisconnectReasonCode::MalformedPacket | DisconnectReasonCode::PayloadFormatInvalid
        ),
        "{reason:?}"
    );
}

#[tokio::test]
async fn garbage_and_truncated_connects_are_closed() {
    let broker = TestBroker::start().await;
    let mut garbage = Raw::open(broker.addr).await;
    garbage.send_bytes(b"GET / HTTP/1.1\r\n\r\n").await;
    assert!(garbage.closed().await);
    let mut truncated = Raw::open(broker.addr).await;
    truncated
        .send_bytes(&[0x10, 0x20, 0x00, 0x04, b'M', b'Q'])
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    truncated.stream.shutdown().await.ok();
    assert!(truncated.closed().await);
    let mut unknown_level = Raw::open(broker.addr).await;
    unknown_level
        .send_bytes(&[
            0x10, 0x0c, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x09, 0x02, 0x00, 0x3c, 0x00, 0x00,
        ])
        .await;
    assert!(unknown_level.closed().await);
    // The broker still serves well-behaved clients.
    connected(&broker, "after").await;
}

use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn packets_over_the_maximum_size_are_refused() {
    let broker = TestBroker::with_config(|c| c.max_packet_size = 64).await;
    let (mut raw, ack) = Raw::connect(broker.addr, connect_packet("c1", "raw@t1")).await;
    assert_eq!(ack.max_packet_size, Some(64));
    raw.send(publish("big", QoS::AtMostOnce, 0, &[b'x'; 100]))
        .await;
    assert_eq!(
        raw.disconnect_reason().await,
        DisconnectReasonCode::PacketTooLarge
    );
}

#[tokio::test]
async fn messages_over_the_clients_maximum_are_not_sent() {
    let broker = TestBroker::start().await;
    let mut connect = connect_packet("small", "raw@t1");
    connect.max_packet_size = NonZeroU32::new(40);
    let (mut sub, _) = Raw::connect(broker.addr, connect).await;
    sub.send(subscribe("m/#", QoS::AtMostOnce)).await;
    assert!(matches!(sub.recv().await, Some(Packet::SubscribeAck(_))));
    let mut publisher = connected(&broker, "p").await;
    publisher
        .send(publish("m/big", QoS::AtMostOnce, 0, &[b'x'; 100]))
        .await;
    publisher
        .send(publish("m/small", QoS::AtMostOnce, 0, b"ok"))
        .await;
    match sub.recv().await {
        Some(Packet::Publish(p)) => assert_eq!(&p.topic[..], "m/small"),
        other => panic!("expected the small message, got {other:?}"),
    }
}

#[tokio::test]
async fn keepalive_expires_after_one_and_a_half_intervals() {
    let broker = TestBroker::start().await;
    let mut connect = connect_packet("sleepy", "raw@t1");
    connect.keep_alive = 1;
    let (mut raw, _) = Raw::connect(broker.addr, connect).await;
    let started = std::time::Instant::now();
    assert_eq!(
        raw.disconnect_reason().await,
        DisconnectReasonCode::KeepAliveTimeout
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1400),
        "not before 1.5 x keepalive: {waited:?}"
    );
    let events = broker.seen.presence.lock().clone();
    assert!(events.iter().any(|e| e.client_id == "sleepy"
        && e.kind == PresenceKind::Disconnected(DisconnectReason::KeepaliveTimeout)));
}

#[tokio::test]
async fn server_keepalive_bounds_the_client_value() {
    let broker = TestBroker::with_config(|c| c.keepalive_max = 30).await;
    let mut connect = connect_packet("c", "raw@t1");
    connect.keep_alive = 600;
    let (_raw, ack) = Raw::connect(broker.addr, connect).await;
    assert_eq!(ack.server_keepalive_sec, Some(30));
}

#[tokio::test]
async fn a_second_connection_takes_the_session_over() {
    let broker = TestBroker::start().await;
    let mut first = connected(&broker, "same").await;
    let _second = connected(&broker, "same").await;
    assert_eq!(
        first.disconnect_reason().await,
        DisconnectReasonCode::SessionTakenOver
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let events = broker.seen.presence.lock().clone();
    let kinds: Vec<_> = events
        .iter()
        .filter(|e| e.client_id == "same")
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            PresenceKind::Connected,
            PresenceKind::Connected,
            PresenceKind::Disconnected(DisconnectReason::TakenOver)
        ]
    );
    assert_eq!(events[0].principal.namespace(), "t1");
    assert_eq!(
        events[0].principal.identity::<String>().map(String::as_str),
        Some("raw")
    );
}

#[tokio::test]
async fn refusals_use_connack_reason_codes() {
    let broker = TestBroker::start().await;
    let (_, ack) = Raw::connect(broker.addr, connect_packet("c", "banned@t1")).await;
    assert_eq!(ack.reason_code, ConnectAckReason::Banned);
    let mut wrong = connect_packet("c", "raw@t1");
    wrong.password = Some(Bytes::from_static(b"nope"));
    let (_, ack) = Raw::connect(broker.addr, wrong).await;
    assert_eq!(ack.reason_code, ConnectAckReason::BadUserNameOrPassword);
    let mut no_id = connect_packet("", "raw@t1");
    no_id.clean_start = false;
    let (_, ack) = Raw::connect(broker.addr, no_id).await;
    assert_eq!(ack.reason_code, ConnectAckReason::ClientIdentifierNotValid);
    let (_, ack) = Raw::connect(broker.addr, connect_packet("", "raw@t1")).await;
    assert_eq!(ack.reason_code, ConnectAckReason::Success);
    assert!(
        ack.assigned_client_id.is_some(),
        "an empty client id gets one assigned"
    );
}

#[tokio::test]
async fn enhanced_authentication_is_not_offered() {
    let broker = TestBroker::start().await;
    let mut scram = connect_packet("c-scram", "raw@t1");
    scram.auth_method = Some("SCRAM-SHA-256".into());
    let (mut raw, ack) = Raw::connect(broker.addr, scram).await;
    assert_eq!(ack.reason_code, ConnectAckReason::BadAuthenticationMethod);
    assert!(raw.closed().await);

    let mut raw = connected(&broker, "c-reauth").await;
    raw.send(Packet::Auth(Auth {
        reason_code: AuthReasonCode::ReAuth,
        auth_method: Some("SCRAM-SHA-256".into()),
        auth_data: None,
        reason_string: None,
        user_properties: Vec::new(),
    }))
    .await;
    assert_eq!(
        raw.disconnect_reason().await,
        DisconnectReasonCode::ProtocolError
    );
    assert!(raw.closed().await);
}

#[tokio::test]
async fn maximum_connections_are_enforced() {
    let broker = TestBroker::with_config(|c| c.max_connections = 1).await;
    let _first = connected(&broker, "one").await;
    let (_, ack) = Raw::connect(broker.addr, connect_packet("two", "raw@t1")).await;
    assert_eq!(ack.reason_code, ConnectAckReason::ServerBusy);
}

#[tokio::test]
async fn the_in_flight_window_follows_the_clients_receive_maximum() {
    let broker = TestBroker::start().await;
    let mut connect = connect_packet("window", "raw@t1");
    connect.receive_max = NonZeroU16::new(2);
    let (mut sub, _) = Raw::connect(broker.addr, connect).await;
    sub.send(subscribe("f/#", QoS::AtLeastOnce)).await;
    assert!(matches!(sub.recv().await, Some(Packet::SubscribeAck(_))));
    let mut publisher = connected(&broker, "p").await;
    for id in 1..=5 {
        publisher
            .send(publish("f/x", QoS::AtLeastOnce, id, b"m"))
            .await;
        assert!(matches!(
            publisher.recv().await,
            Some(Packet::PublishAck(_))
        ));
    }
    let mut unacked = Vec::new();
    for _ in 0..2 {
        match sub.recv().await {
            Some(Packet::Publish(p)) => unacked.push(p.packet_id.unwrap()),
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
    assert_eq!(
        sub.recv_within(Duration::from_millis(300)).await,
        Err(()),
        "window of 2 is full"
    );
    sub.send(puback(unacked[0])).await;
    assert!(
        matches!(sub.recv().await, Some(Packet::Publish(_))),
        "an ack opens the window"
    );
}

#[tokio::test]
async fn unacknowledged_messages_are_redelivered_with_dup_on_resume() {
    let broker = TestBroker::start().await;
    let mut connect = connect_packet("resume", "raw@t1");
    connect.session_expiry_interval_secs = 60;
    let (mut sub, _) = Raw::connect(broker.addr, connect.clone()).await;
    sub.send(subscribe("d/#", QoS::AtLeastOnce)).await;
    assert!(matches!(sub.recv().await, Some(Packet::SubscribeAck(_))));
    let mut publisher = connected(&broker, "p").await;
    publisher
        .send(publish("d/x", QoS::AtLeastOnce, 1, b"once"))
        .await;
    let first = match sub.recv().await {
        Some(Packet::Publish(p)) => p,
        other => panic!("{other:?}"),
    };
    assert!(!first.dup);
    drop(sub);
    tokio::time::sleep(Duration::from_millis(100)).await;
    connect.clean_start = false;
    let (mut again, ack) = Raw::connect(broker.addr, connect).await;
    assert!(ack.session_present);
    match again.recv().await {
        Some(Packet::Publish(p)) => {
            assert!(p.dup, "redelivery carries DUP");
            assert_eq!(p.packet_id, first.packet_id);
            assert_eq!(p.payload, first.payload);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn qos2_inbound_is_exactly_once_and_released() {
    let broker = TestBroker::start().await;
    let mut sub = subscribed(&broker, "s", "e/#", QoS::ExactlyOnce).await;
    let mut publisher = connected(&broker, "p").await;
    for _ in 0..2 {
        // The same packet id twice (a retransmission) is routed once.
        publisher
            .send(publish("e/x", QoS::ExactlyOnce, 7, b"one"))
            .await;
        assert!(matches!(
            publisher.recv().await,
            Some(Packet::PublishReceived(_))
        ));
    }
    publisher
        .send(Packet::PublishRelease(rmqtt_codec::v5::PublishAck2 {
            packet_id: NonZeroU16::new(7).unwrap(),
            ..Default::default()
        }))
        .await;
    assert!(
        matches!(publisher.recv().await, Some(Packet::PublishComplete(c)) if c.reason_code as u8 == 0)
    );
    assert!(matches!(sub.recv().await, Some(Packet::Publish(p)) if p.qos == QoS::ExactlyOnce));
    assert_eq!(
        sub.recv_within(Duration::from_millis(300)).await,
        Err(()),
        "delivered once"
    );
}

#[tokio::test]
async fn puback_waits_for_the_publish_hook() {
    let broker = TestBroker::start().await;
    let mut publisher = connected(&broker, "p").await;
    let started = std::time::Instant::now();
    publisher
        .send(publish("slow/x", QoS::AtLeastOnce, 1, b"m"))
        .await;
    match publisher.recv().await {
        Some(Packet::PublishAck(ack)) => assert_eq!(ack.reason_code, PublishAckReason::Success),
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "PUBACK only after the hook completed"
    );
}

#[tokio::test]
async fn pipelined_publishes_reach_the_hook_together_and_are_acknowledged_in_order() {
    let broker = TestBroker::start().await;
    let mut sub = subscribed(&broker, "s", "#", QoS::AtMostOnce).await;
    let mut publisher = connected(&broker, "p").await;
    let topics = ["a/1", "reject/x", "forbidden/x", "consume/y", "a/2"];
    let packets = topics
        .iter()
        .zip(1u16..)
        .map(|(topic, id)| publish(topic, QoS::AtLeastOnce, id, b"m"))
        .collect();
    publisher.send_together(packets).await;
    let expected = [
        PublishAckReason::Success,
        PublishAckReason::PayloadFormatInvalid,
        PublishAckReason::NotAuthorized,
        PublishAckReason::Success,
        PublishAckReason::Success,
    ];
    for (id, reason) in (1u16..).zip(expected) {
        match publisher.recv().await {
            Some(Packet::PublishAck(ack)) => {
                assert_eq!((ack.packet_id.get(), ack.reason_code), (id, reason));
            }
            other => panic!("expected PUBACK {id}, got {other:?}"),
        }
    }
    for topic in ["a/1", "a/2"] {
        match sub.recv().await {
            Some(Packet::Publish(p)) => assert_eq!(&p.topic[..], topic, "routed in order"),
            other => panic!("expected {topic}, got {other:?}"),
        }
    }
    assert_eq!(
        sub.recv_within(Duration::from_millis(300)).await,
        Err(()),
        "refused and consumed messages are not routed"
    );
    let seen: Vec<String> = broker
        .seen
        .published
        .lock()
        .iter()
        .map(|m| m.topic.to_string())
        .collect();
    assert_eq!(
        seen,
        ["a/1", "reject/x", "consume/y", "a/2"],
        "the ACL's refusal never reaches the hook"
    );
    let batches = broker.seen.batches.lock().clone();
    assert_eq!(batches.iter().sum::<usize>(), 4, "{batches:?}");
    assert!(
        batches.iter().any(|&n| n > 1),
        "handed over together: {batches:?}"
    );
}

#[tokio::test]
async fn unknown_topic_alias_is_a_protocol_error() {
    let broker = TestBroker::start().await;
    let mut raw = connected(&broker, "c").await;
    let packet = Packet::Publish(Box::new(Publish {
        dup: false,
        retain: false,
        qos: QoS::AtMostOnce,
        topic: "".into(),
        packet_id: None,
        payload: Bytes::from_static(b"x"),
        properties: Some(PublishProperties {
            topic_alias: NonZeroU16::new(3),
            ..Default::default()
        }),
    }));
    raw.send(packet).await;
    assert_eq!(
        raw.disconnect_reason().await,
        DisconnectReasonCode::ProtocolError
    );
}

#[tokio::test]
async fn a_slow_subscriber_does_not_stall_others() {
    let broker = TestBroker::with_config(|c| c.max_queued_messages = 10).await;
    // The stalled subscriber never reads; its socket buffers and then its queue fill up.
    let stalled = subscribed(&broker, "stalled", "s/#", QoS::AtLeastOnce).await;
    let mut healthy = subscribed(&broker, "healthy", "s/#", QoS::AtMostOnce).await;
    let mut publisher = connected(&broker, "p").await;
    let payload: &'static [u8] = Box::leak(vec![b'x'; 8 * 1024].into_boxed_slice());
    for id in 1..=2000u16 {
        publisher
            .send(publish("s/x", QoS::AtLeastOnce, id, payload))
            .await;
        assert!(
            matches!(publisher.recv().await, Some(Packet::PublishAck(_))),
            "publisher is never blocked"
        );
        assert!(
            matches!(healthy.recv().await, Some(Packet::Publish(_))),
            "healthy subscriber keeps receiving"
        );
    }
    drop(stalled);
}

#[tokio::test]
async fn client_disconnect_with_session_expiry_zero_after_nonzero_is_allowed() {
    let broker = TestBroker::start().await;
    let mut connect = connect_packet("bye", "raw@t1");
    connect.session_expiry_interval_secs = 60;
    let (mut raw, _) = Raw::connect(broker.addr, connect.clone()).await;
    raw.send(Packet::Disconnect(Disconnect {
        session_expiry_interval_secs: Some(0),
        ..Disconnect::default()
    }))
    .await;
    assert!(raw.closed().await);
    connect.clean_start = false;
    let (_, ack) = Raw::connect(broker.addr, connect).await;
    assert!(
        !ack.session_present,
        "expiry 0 at DISCONNECT ended the session"
    );
}

#[tokio::test]
async fn a_session_ends_when_its_expiry_interval_passes() {
    let broker = TestBroker::start().await;
    let mut connect = connect_packet("short-lived", "raw@t1");
    connect.session_expiry_interval_secs = 1;
    let mut raw = Raw::connect(broker.addr, connect.clone()).await.0;
    raw.send(subscribe("exp/#", QoS::AtLeastOnce)).await;
    assert!(matches!(raw.recv().await, Some(Packet::SubscribeAck(_))));
    raw.send(Packet::Disconnect(Disconnect::default())).await;
    assert!(raw.closed().await);
    connect.clean_start = false;

    // Within the interval the session is still there.
    let (mut resumed, ack) = Raw::connect(broker.addr, connect.clone()).await;
    assert!(ack.session_present, "resumed within the expiry interval");
    resumed
        .send(Packet::Disconnect(Disconnect::default()))
        .await;
    assert!(resumed.closed().await);

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (mut late, ack) = Raw::connect(broker.addr, connect).await;
    assert!(!ack.session_present, "the session expired");
    let mut publisher = connected(&broker, "p").await;
    publisher
        .send(publish("exp/x", QoS::AtLeastOnce, 1, b"after"))
        .await;
    assert!(matches!(
        publisher.recv().await,
        Some(Packet::PublishAck(_))
    ));
    assert_eq!(
        late.recv_within(Duration::from_millis(500)).await,
        Err(()),
        "the expired session's subscription is gone"
    );
}

#[tokio::test]
async fn a_client_over_its_publish_rate_is_slowed_not_dropped() {
    const RATE: f64 = 10.0;
    const BURST: u32 = 2;
    const SENT: u16 = 12;
    let broker = TestBroker::with_config(|c| {
        c.publish_rate = Some(wanwu_mqtt::RateLimit {
            per_second: RATE,
            burst: BURST,
        });
    })
    .await;
    let mut sub = subscribed(&broker, "sub", "rate/#", QoS::AtMostOnce).await;
    let mut publisher = connected(&broker, "fast").await;
    let started = std::time::Instant::now();
    for _ in 0..SENT {
        publisher
            .send(publish("rate/x", QoS::AtMostOnce, 0, b"m"))
            .await;
    }
    for _ in 0..SENT {
        assert!(
            matches!(sub.recv().await, Some(Packet::Publish(_))),
            "every message of a throttled client arrives"
        );
    }
    // The bucket allows BURST at once, then RATE per second: the rest cannot be faster.
    let least = f64::from(u32::from(SENT) - BURST) / RATE;
    assert!(
        started.elapsed().as_secs_f64() >= least * 0.9,
        "{SENT} messages in {:?}, the limit allows no fewer than {least} s",
        started.elapsed()
    );
    publisher.send(Packet::PingRequest).await;
    assert_eq!(publisher.recv().await, Some(Packet::PingResponse));
}
