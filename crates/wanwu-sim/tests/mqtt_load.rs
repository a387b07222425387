//! The MQTT load generator against a real broker (Debian's mosquitto): at a fixed offered
//! rate every message sent during the recording is accounted for (delivered and timed, or
//! counted lost), the rate offered is the rate sent, and every idle connection answers.

use std::path::Path;
use std::time::Duration;

use wanwu_sim::mqtt_load::{BrokerSpec, MqttBenchOptions, Scenario, run};

const MOSQUITTO: &str = "/usr/sbin/mosquitto";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_for_every_message_at_saturation_and_at_a_fixed_rate() {
    assert!(
        Path::new(MOSQUITTO).exists(),
        "{MOSQUITTO} is needed (Debian package mosquitto)"
    );
    let mut options = MqttBenchOptions::standard(MOSQUITTO, MOSQUITTO);
    options.brokers = vec![BrokerSpec::mosquitto(MOSQUITTO)];
    options.publishers = 20;
    options.subscribers = 20;
    options.warmup = Duration::from_millis(200);
    options.duration = Duration::from_secs(1);
    options.drain = Duration::from_secs(2);
    options.latency_loads = vec![0.25];
    options.idle_connections = 200;
    let report = run(&options).await.expect("benchmark run");
    let [result] = report.results.as_slice() else {
        panic!("one broker, got {}", report.results.len());
    };
    for (slot, scenario) in Scenario::ALL.into_iter().enumerate() {
        let saturated = &result.saturation[slot];
        assert!(saturated.per_second > 0.0, "{scenario:?}: {saturated:?}");
        // No delivery is counted that was not counted as sent.
        assert!(
            saturated.delivered <= saturated.expected,
            "{scenario:?}: {saturated:?}"
        );
        assert_eq!(
            saturated.latency.count, 0,
            "no latency at saturation: {saturated:?}"
        );
        let offered = report.offered[0][slot];
        assert!(
            (offered - 0.25 * saturated.per_second).abs() < 1e-6,
            "{scenario:?}"
        );
        let at_rate = &result.at_rate[0][slot];
        let copies = if slot < 2 { 1.0 } else { 20.0 };
        let sent = at_rate.sent_per_second * copies;
        // A publisher that falls behind its schedule (its lag, reported) catches up in bursts,
        // so messages due before the recording may be sent during it and messages due at its
        // end after it: the count sent in the recording follows the offered rate within 10 %
        // plus what the largest lag shifts across its edges.
        let shifted = offered * f64::from(at_rate.lag.max_us) / 1e6 / at_rate.seconds;
        assert!(
            (sent - offered).abs() <= offered * 0.1 + shifted + copies,
            "{scenario:?}: offered {offered}, sent {sent}: {at_rate:?}"
        );
        assert!(at_rate.expected > 0, "{scenario:?}: {at_rate:?}");
        assert_eq!(at_rate.lost, 0, "{scenario:?}: {at_rate:?}");
        assert_eq!(at_rate.delivered, at_rate.expected, "{scenario:?}");
        assert_eq!(
            at_rate.latency.count as u64, at_rate.delivered,
            "every delivery timed: {scenario:?}"
        );
        let latency = at_rate.latency;
        assert!(
            0 < latency.p50_us
                && latency.p50_us <= latency.p99_us
                && latency.p99_us <= latency.max_us,
            "{scenario:?}: {latency:?}"
        );
    }
    assert_eq!(result.idle.connections, 200);
    assert_eq!(result.idle.alive, 200);
    let text = report.to_string();
    for heading in [
        "At saturation",
        "Open loop at fixed offered rates",
        "Idle connections: 200 opened",
    ] {
        assert!(text.contains(heading), "no {heading:?} in:\n{text}");
    }
}
