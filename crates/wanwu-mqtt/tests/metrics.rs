//! Traffic is counted with the `metrics` crate.

mod common;

use std::time::Duration;

use common::{MosquittoSub, TestBroker, mosquitto_pub};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

/// One metric: name, labels, value.
type Sample = (String, Vec<(String, String)>, DebugValue);

fn counter(snapshot: &[Sample], name: &str, label: Option<(&str, &str)>) -> f64 {
    snapshot
        .iter()
        .filter(|(n, labels, _)| {
            n == name && label.is_none_or(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, _, value)| match value {
            DebugValue::Counter(c) => *c as f64,
            DebugValue::Gauge(g) => g.into_inner(),
            DebugValue::Histogram(_) => 0.0,
        })
        .sum()
}

#[tokio::test]
async fn messages_connections_drops_and_bytes_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder in this test binary");
    let broker = TestBroker::start().await;
    let mut sub = MosquittoSub::start(&broker, "s@t1", &["-q", "1", "-t", "m/#"]).await;
    assert!(mosquitto_pub(&broker, "p@t1", &["-q", "1", "-t", "m/x", "-m", "hello"]).await);
    assert_eq!(sub.line().await, "m/x hello");
    assert!(
        mosquitto_pub(
            &broker,
            "p@t1",
            &["-q", "0", "-t", "nobody/listens", "-m", "x"]
        )
        .await
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let snapshot: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let labels = key
                .labels()
                .map(|l| (l.key().to_string(), l.value().to_string()))
                .collect();
            (key.name().to_string(), labels, value)
        })
        .collect();
    assert_eq!(
        counter(
            &snapshot,
            "mqtt_messages_received_total",
            Some(("qos", "1"))
        ),
        1.0
    );
    assert_eq!(
        counter(
            &snapshot,
            "mqtt_messages_received_total",
            Some(("qos", "0"))
        ),
        1.0
    );
    assert_eq!(
        counter(&snapshot, "mqtt_messages_sent_total", Some(("qos", "1"))),
        1.0
    );
    assert_eq!(
        counter(
            &snapshot,
            "mqtt_messages_dropped_total",
            Some(("reason", "no_subscribers"))
        ),
        1.0
    );
    assert_eq!(counter(&snapshot, "mqtt_connections_total", None), 3.0);
    assert_eq!(
        counter(&snapshot, "mqtt_connections", None),
        1.0,
        "only the subscriber is still connected"
    );
    assert!(counter(&snapshot, "mqtt_bytes_received_total", None) > 30.0);
    assert!(counter(&snapshot, "mqtt_bytes_sent_total", None) > 10.0);
}
