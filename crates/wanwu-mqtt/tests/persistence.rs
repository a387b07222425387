//! Persistent sessions and retained messages across a graceful restart and `kill -9`.

mod common;

use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use common::TestBroker;
use common::raw::{Raw, connect_packet};
use rmqtt_codec::types::{Publish, QoS};
use rmqtt_codec::v5::{
    Connect, Disconnect, Packet, PublishAck, PublishProperties, RetainHandling, Subscribe,
    SubscriptionOptions,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn durable_connect(client_id: &str, clean_start: bool) -> Connect {
    let mut connect = connect_packet(client_id, "raw@t1");
    connect.clean_start = clean_start;
    connect.session_expiry_interval_secs = 3600;
    connect
}

async fn subscribe_and_leave(addr: SocketAddr, client_id: &str, filter: &str) {
    let (mut raw, _) = Raw::connect(addr, durable_connect(client_id, true)).await;
    let options = SubscriptionOptions {
        qos: QoS::AtLeastOnce,
        no_local: false,
        retain_as_published: false,
        retain_handling: RetainHandling::AtSubscribe,
    };
    raw.send(Packet::Subscribe(Subscribe {
        packet_id: NonZeroU16::new(1).unwrap(),
        id: None,
        user_properties: Vec::new(),
        topic_filters: vec![(filter.into(), options)],
    }))
    .await;
    assert!(matches!(raw.recv().await, Some(Packet::SubscribeAck(_))));
    raw.send(Packet::Disconnect(Disconnect::default())).await;
    assert!(raw.closed().await);
}

/// Publishes `count` QoS 1 messages on `topic` (and one retained), each acknowledged.
async fn publish_acknowledged(addr: SocketAddr, topic: &str, count: u16) {
    let (mut raw, _) = Raw::connect(addr, connect_packet("publisher", "raw@t1")).await;
    for id in 1..=count + 1 {
        let retained = id > count;
        raw.send(Packet::Publish(Box::new(Publish {
            dup: false,
            retain: retained,
            qos: QoS::AtLeastOnce,
            topic: if retained {
                "retained/x".into()
            } else {
                topic.into()
            },
            packet_id: NonZeroU16::new(id),
            payload: Bytes::from(format!("m{id}")),
            properties: Some(PublishProperties::default()),
        })))
        .await;
        assert!(matches!(raw.recv().await, Some(Packet::PublishAck(a)) if a.packet_id.get() == id));
    }
}

/// Resumes the session and checks the queued messages arrive in order, then the retained one.
async fn expect_everything(addr: SocketAddr, client_id: &str, count: u16) {
    let (mut raw, ack) = Raw::connect(addr, durable_connect(client_id, false)).await;
    assert!(ack.session_present, "the session survived");
    for id in 1..=count {
        match raw.recv().await {
            Some(Packet::Publish(p)) => {
                assert_eq!(p.payload, Bytes::from(format!("m{id}")));
                raw.send(Packet::PublishAck(PublishAck {
                    packet_id: p.packet_id.unwrap(),
                    ..Default::default()
                }))
                .await;
            }
            other => panic!("expected queued message m{id}, got {other:?}"),
        }
    }
    // Packets are handled in order: the PINGRESP means the acknowledgements were processed.
    raw.send(Packet::PingRequest).await;
    assert!(matches!(raw.recv().await, Some(Packet::PingResponse)));
    let (mut fresh, _) = Raw::connect(addr, connect_packet("fresh", "raw@t1")).await;
    fresh
        .send(Packet::Subscribe(Subscribe {
            packet_id: NonZeroU16::new(1).unwrap(),
            id: None,
            user_properties: Vec::new(),
            topic_filters: vec![("retained/#".into(), SubscriptionOptions::default())],
        }))
        .await;
    assert!(matches!(fresh.recv().await, Some(Packet::SubscribeAck(_))));
    match fresh.recv().await {
        Some(Packet::Publish(p)) => {
            assert!(p.retain);
            assert_eq!(p.payload, Bytes::from(format!("m{}", count + 1)));
        }
        other => panic!("expected the retained message, got {other:?}"),
    }
}

#[tokio::test]
async fn sessions_and_retained_messages_survive_a_restart() {
    let broker = TestBroker::start().await;
    subscribe_and_leave(broker.addr, "keeper", "k/#").await;
    publish_acknowledged(broker.addr, "k/x", 5).await;
    let broker = broker.restart().await;
    expect_everything(broker.addr, "keeper", 5).await;
    // Acknowledged messages are gone after the next restart; the subscription is not.
    let broker = broker.restart().await;
    let (mut raw, ack) = Raw::connect(broker.addr, durable_connect("keeper", false)).await;
    assert!(ack.session_present);
    assert_eq!(
        raw.recv_within(Duration::from_millis(300)).await,
        Err(()),
        "nothing left to deliver"
    );
    publish_acknowledged(broker.addr, "k/y", 1).await;
    assert!(matches!(raw.recv().await, Some(Packet::Publish(p)) if &p.topic[..] == "k/y"));
}

/// The standalone broker binary as a child process.
struct BrokerProcess {
    child: Child,
    addr: SocketAddr,
}

impl BrokerProcess {
    async fn start(data: &std::path::Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wanwu-mqtt-broker"))
            .args(["--listen", "127.0.0.1:0", "--user", "raw@t1:pw@t1"])
            .arg("--data")
            .arg(data)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("broker binary starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("broker announces its address")
            .unwrap()
            .unwrap();
        let addr = line
            .strip_prefix("listening on ")
            .expect("listening line")
            .parse()
            .unwrap();
        Self { child, addr }
    }

    async fn kill_9(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

#[tokio::test]
async fn acknowledged_messages_survive_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(data.path()).await;
    subscribe_and_leave(broker.addr, "survivor", "k/#").await;
    publish_acknowledged(broker.addr, "k/x", 20).await;
    broker.kill_9().await;
    let broker = BrokerProcess::start(data.path()).await;
    expect_everything(broker.addr, "survivor", 20).await;
    broker.kill_9().await;
}
