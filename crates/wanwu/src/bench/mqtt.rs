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
use wanwu_sim::mqtt_load::{BrokerSpec, MqttBenchOptions, MqttBenchReport, Outcome, Scenario};

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
    println!("{report}");
    table(&report)
}

/// Smoke-run sizes: every scenario in about a second.
fn shrink(options: &mut MqttBenchOptions) {
    options.publishers = 50;
    options.subscribers = 50;
    options.warmup = Duration::from_millis(200);
    options.duration = Duration::from_secs(1);
    options.drain = Duration::from_millis(500);
    options.latency_loads = vec![0.5];
    options.idle_connections = 500;
}

/// A row of one figure, `of`, of wanwu's outcome `a` against mosquitto's `b`.
fn figure(
    measure: String,
    (a, b): (&Outcome, &Outcome),
    of: impl Fn(&Outcome) -> f64,
    higher_is_better: bool,
) -> Row {
    Row {
        measure,
        wanwu: of(a),
        baseline: of(b),
        higher_is_better,
    }
}

/// The rows every run has: share of messages delivered, broker and generator CPU.
fn accounting_rows(name: &str, pair: (&Outcome, &Outcome)) -> [Row; 3] {
    [
        figure(
            format!("{name}, delivered %"),
            pair,
            Outcome::delivered_percent,
            true,
        ),
        figure(
            format!("{name}, broker cpu cores"),
            pair,
            |o| o.cores().broker,
            false,
        ),
        figure(
            format!("{name}, load generator cpu cores"),
            pair,
            |o| o.cores().generator,
            false,
        ),
    ]
}

/// The report as a table of wanwu against mosquitto: each scenario at saturation, then at
/// each fixed offered rate, then the idle connections. The full report (with the load
/// generator's lag and every count) is printed before the table.
fn table(report: &MqttBenchReport) -> anyhow::Result<Table> {
    let [ours, baseline] = report.results.as_slice() else {
        anyhow::bail!("expected two brokers, got {}", report.results.len());
    };
    let o = &report.options;
    let mut rows = Vec::new();
    for (slot, scenario) in Scenario::ALL.into_iter().enumerate() {
        let pair = (&ours.saturation[slot], &baseline.saturation[slot]);
        let name = format!("{} saturated", scenario.name());
        rows.extend([
            figure(
                format!("{name}, {}", scenario.unit()),
                pair,
                |o| o.per_second,
                true,
            ),
            figure(
                format!("{name}, broker cpu us/message"),
                pair,
                Outcome::broker_us_per_message,
                false,
            ),
        ]);
        rows.extend(accounting_rows(&name, pair));
    }
    for (level, fraction) in o.latency_loads.iter().enumerate() {
        for (slot, scenario) in Scenario::ALL.into_iter().enumerate() {
            let pair = (&ours.at_rate[level][slot], &baseline.at_rate[level][slot]);
            rows.extend(rate_rows(scenario, fraction * 100.0, pair));
        }
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
            "wanwu serve vs {MOSQUITTO}; {}; {} idle connections of {} asked for (open-file \
             limit {}); load average {} at start, {} at end",
            o.sizes(),
            o.idle_connections,
            report.idle_requested,
            report.open_file_limit,
            report.load_average[0],
            report.load_average[1],
        ),
        load_shares_cores: true,
        rows,
    })
}

/// Rows of one scenario at a fixed offered rate (`percent` of the lower saturated rate).
fn rate_rows(scenario: Scenario, percent: f64, pair: (&Outcome, &Outcome)) -> Vec<Row> {
    let name = format!("{} at {percent:.0}% load", scenario.name());
    let mut rows = vec![
        figure(
            // Messages the publishers sent; in fan-out each is delivered to every subscriber.
            format!("{name}, messages sent/s"),
            pair,
            |o| o.sent_per_second,
            true,
        ),
        figure(
            format!("{name}, latency p50 ms"),
            pair,
            |o| millis(o.latency.p50_us),
            false,
        ),
        figure(
            format!("{name}, latency p99 ms"),
            pair,
            |o| millis(o.latency.p99_us),
            false,
        ),
        figure(
            format!("{name}, latency max ms"),
            pair,
            |o| millis(o.latency.max_us),
            false,
        ),
    ];
    rows.extend(accounting_rows(&name, pair));
    rows
}

/// Microseconds as milliseconds.
fn millis(us: u32) -> f64 {
    f64::from(us) / 1000.0
}
