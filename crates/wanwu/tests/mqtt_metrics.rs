//! The broker's traffic is counted in the platform's `/metrics`: connections, messages in
//! and out by QoS, drops by reason, bytes.

mod common;

use common::{Server, mosquitto, text};

/// The value of the sample `name` (with its labels, exactly as printed) in `metrics`.
fn sample(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in:\n{metrics}"))
}

#[tokio::test]
async fn broker_traffic_is_counted_in_metrics() {
    let server = Server::start();
    let port = server.mqtt.expect("mqtt listener").port();
    let token = server.admin_token.clone();
    let login = ["-u", "app", "-P", token.as_str()];
    let run = |program: &str, args: &[&str]| {
        let all: Vec<&str> = login.iter().chain(args).copied().collect();
        let output = mosquitto(program, port, &all);
        assert!(output.status.success(), "{program}: {}", text(&output));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    // A retained QoS 1 message nobody listens to yet, then a subscriber that receives it.
    run(
        "mosquitto_pub",
        &["-q", "1", "-r", "-t", "lamps/1", "-m", "on"],
    );
    run(
        "mosquitto_pub",
        &["-q", "0", "-t", "nobody/here", "-m", "x"],
    );
    let got = run(
        "mosquitto_sub",
        &["-q", "1", "-t", "lamps/#", "-C", "1", "-v"],
    );
    assert_eq!(got.trim(), "lamps/1 on");

    let metrics = server.anonymous().get("/metrics").await;
    assert_eq!(metrics.status, 200);
    let m = &metrics.text;
    assert_eq!(sample(m, "mqtt_connections_total"), 3.0);
    assert_eq!(sample(m, r#"mqtt_messages_received_total{qos="1"}"#), 1.0);
    assert_eq!(sample(m, r#"mqtt_messages_received_total{qos="0"}"#), 1.0);
    assert_eq!(sample(m, r#"mqtt_messages_sent_total{qos="1"}"#), 1.0);
    assert_eq!(
        sample(m, r#"mqtt_messages_dropped_total{reason="no_subscribers"}"#),
        2.0,
        "both publishes found no subscriber when they arrived"
    );
    assert_eq!(sample(m, "mqtt_retained_messages"), 1.0);
    assert!(sample(m, "mqtt_bytes_received_total") > 0.0);
    assert!(sample(m, "mqtt_bytes_sent_total") > 0.0);
}
