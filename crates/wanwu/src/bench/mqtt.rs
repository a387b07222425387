//! The MQTT broker of the running platform against Debian's mosquitto.
//!
//! wanwu is this executable as `wanwu serve` (the whole platform: its broker behind the
//! platform's authentication, ACL, uplink and presence hooks, with a scratch data
//! directory); the load generator's clients log in anonymously, as applications of tenant
//! `default`, on `bench/...` topics, which the platform routes unchanged. Both brokers run
//! one after the other, each as its own process on a free port, driven by
//! [`wanwu_sim::mqtt_load`] from this process.

use super::table::{Row, Table};
use anyhow::Context;
use std::path::Path;
use std::time::Duration;
use wanwu_sim::mqtt_load::{
    BrokerResult, BrokerSpec, MqttBenchOptions, MqttBenchReport, Throughput,
};

/// Where Debian's `mosquitto` package installs the broker.
const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// Runs the MQTT benchmark.
pub fn run(quick: bool) -> anyhow::Result<Table> {
    anyhow::ensure!(
        Path::new(MOSQUITTO).exists(),
        "the baseline broker {MOSQUITTO} is missing (Debian package `mosquitto`)"
    );
    let wanwu = std::env::current_exe().context("locating the wanwu executable")?;
    let mut options = MqttBenchOptions::standard(&wanwu, MOSQUITTO);
    options.brokers = vec![
        BrokerSpec::wanwu_serve(&wanwu),
        BrokerSpec::mosquitto(MOSQUITTO),
    ];
    if quick {
        shrink(&mut options);
    }
    let report = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the load generator's runtime")?
        .block_on(wanwu_sim::mqtt_load::run(&options))
        .context("MQTT benchmark")?;
    table(&report)
}

/// Smoke-run sizes: every scenario in about a second.
fn shrink(options: &mut MqttBenchOptions) {
    options.publishers = 50;
    options.subscribers = 50;
    options.warmup = Duration::from_millis(200);
    options.duration = Duration::from_secs(1);
    options.idle_connections = 500;
}

/// The report as a table of wanwu against mosquitto.
fn table(report: &MqttBenchReport) -> anyhow::Result<Table> {
    let [ours, baseline] = report.results.as_slice() else {
        anyhow::bail!("expected two brokers, got {}", report.results.len());
    };
    let o = &report.options;
    let mut rows = Vec::new();
    let scenarios = [
        ("fan-in QoS 0", "messages/s"),
        ("fan-in QoS 1", "messages/s"),
        ("fan-out QoS 0", "deliveries/s"),
        ("fan-out QoS 1", "deliveries/s"),
    ];
    for (slot, (name, unit)) in scenarios.into_iter().enumerate() {
        let (a, b) = (throughput(ours, slot), throughput(baseline, slot));
        let (cpu_a, cpu_b) = (ours.cpu[slot], baseline.cpu[slot]);
        let row = |measure: String, wanwu: f64, baseline: f64, higher_is_better| Row {
            measure,
            wanwu,
            baseline,
            higher_is_better,
        };
        rows.extend([
            row(format!("{name}, {unit}"), a.per_second, b.per_second, true),
            row(
                format!("{name}, latency p50 ms"),
                millis(a.p50_us),
                millis(b.p50_us),
                false,
            ),
            row(
                format!("{name}, latency p99 ms"),
                millis(a.p99_us),
                millis(b.p99_us),
                false,
            ),
            row(
                format!("{name}, broker cpu s"),
                cpu_a.broker,
                cpu_b.broker,
                false,
            ),
            row(
                format!("{name}, load generator cpu s"),
                cpu_a.generator,
                cpu_b.generator,
                false,
            ),
        ]);
    }
    rows.push(Row {
        measure: "idle connections answering PINGREQ".into(),
        wanwu: ours.idle.alive as f64,
        baseline: baseline.idle.alive as f64,
        higher_is_better: true,
    });
    rows.push(Row {
        measure: "idle memory per connection, bytes".into(),
        wanwu: ours.idle.bytes_per_connection,
        baseline: baseline.idle.bytes_per_connection,
        higher_is_better: false,
    });
    Ok(Table {
        name: "mqtt",
        baseline: "mosquitto",
        setup: format!(
            "wanwu serve vs {MOSQUITTO}; fan-in {} publishers -> 1 (window {}), fan-out 1 -> {} \
             subscribers (window {}), {}-byte payloads, {:.1} s warm-up + {:.1} s per run; \
             {} idle connections (open-file limit {})",
            o.publishers,
            o.fan_in_window,
            o.subscribers,
            o.fan_out_window,
            o.payload,
            o.warmup.as_secs_f64(),
            o.duration.as_secs_f64(),
            o.idle_connections,
            report.open_file_limit,
        ),
        load_shares_cores: true,
        rows,
    })
}

/// Throughput of scenario `slot`: fan-in QoS 0 and 1, then fan-out QoS 0 and 1 (the order
/// of [`BrokerResult::cpu`]).
fn throughput(result: &BrokerResult, slot: usize) -> Throughput {
    match slot {
        0 | 1 => result.fan_in[slot],
        _ => result.fan_out[slot - 2],
    }
}

/// Microseconds as milliseconds.
fn millis(us: u32) -> f64 {
    f64::from(us) / 1000.0
}
