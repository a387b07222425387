//! MQTT load generator and broker benchmark (`wanwu bench mqtt`).
//!
//! Runs the same scenarios against each broker in [`MqttBenchOptions::brokers`] (wanwu's
//! standalone broker and Debian's mosquitto by default; `wanwu bench mqtt` puts the whole
//! platform, [`BrokerSpec::wanwu_serve`], in wanwu's place), one after the other, each in its
//! own process on a free port, and reports throughput, latency, memory and CPU with
//! ratios against the baseline (the last broker):
//!
//! - fan-in: `publishers` connections publish 100-byte messages to one subscriber, at QoS 0
//!   and QoS 1; each publisher keeps `window` messages on their way end to end (sent and
//!   not yet received by the subscriber), so the brokers run at capacity with bounded queues;
//! - fan-out: one publisher, `subscribers` subscribers to one topic; a message stays on its
//!   way until every subscriber received it, with `window` messages at once;
//! - idle: `idle_connections` connections from source addresses 127.0.0.2..9 (to get past
//!   the ephemeral port range), resident memory per connection, and whether all still
//!   answer a PINGREQ afterwards.
//!
//! Clients are hand-rolled, pipelined MQTT 3.1.1 connections (several messages per write,
//! no allocation per message); the generator reports its own CPU time next to the broker's.

mod codec;
mod scenario;
mod target;

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

pub use target::BrokerSpec;
use target::{RunningBroker, own_cpu_seconds};

/// Errors of the load generator.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A socket or file operation failed.
    #[error("{0}: {1}")]
    Io(&'static str, std::io::Error),
    /// The broker program could not be started.
    #[error("cannot start {0}: {1}")]
    Start(String, std::io::Error),
    /// The broker exited or never accepted connections.
    #[error("broker {0} did not come up")]
    Exited(String),
    /// The broker refused a connection or subscription.
    #[error("broker refused: {0}")]
    Refused(String),
    /// A client task failed.
    #[error("client task failed: {0}")]
    Task(String),
}

impl LoadError {
    fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |e| Self::Io(what, e)
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct MqttBenchOptions {
    /// Brokers to compare; the last one is the baseline of the ratios.
    pub brokers: Vec<BrokerSpec>,
    /// Publishers in the fan-in scenario.
    pub publishers: usize,
    /// Subscribers in the fan-out scenario.
    pub subscribers: usize,
    /// Payload size in bytes (at least 12: index and timestamp).
    pub payload: usize,
    /// Messages on their way per publisher (fan-in) or in total (fan-out).
    pub fan_in_window: usize,
    /// Messages on their way in the fan-out scenario.
    pub fan_out_window: usize,
    /// Warm-up before recording.
    pub warmup: Duration,
    /// Recording time per scenario.
    pub duration: Duration,
    /// Idle connections to open (capped by the open-file limit).
    pub idle_connections: usize,
    /// Source addresses for idle connections.
    pub source_addresses: Vec<Ipv4Addr>,
}

impl MqttBenchOptions {
    /// The standard comparison: `wanwu_broker` against mosquitto at `mosquitto`.
    pub fn standard(
        wanwu_broker: impl Into<std::path::PathBuf>,
        mosquitto: impl Into<std::path::PathBuf>,
    ) -> Self {
        Self {
            brokers: vec![
                BrokerSpec::wanwu(wanwu_broker),
                BrokerSpec::mosquitto(mosquitto),
            ],
            publishers: 1000,
            subscribers: 1000,
            payload: 100,
            fan_in_window: 4,
            fan_out_window: 16,
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(10),
            idle_connections: 100_000,
            source_addresses: (2..=9).map(|last| Ipv4Addr::new(127, 0, 0, last)).collect(),
        }
    }
}

/// Throughput and latency of one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Throughput {
    /// Messages delivered per second.
    pub per_second: f64,
    /// Median end-to-end latency in microseconds.
    pub p50_us: u32,
    /// 99th percentile latency in microseconds.
    pub p99_us: u32,
}

impl Throughput {
    fn new(count: u64, elapsed: Duration, mut latencies: Vec<u32>) -> Self {
        latencies.sort_unstable();
        let at = |q: f64| {
            latencies
                .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(0)
        };
        Self {
            per_second: count as f64 / elapsed.as_secs_f64(),
            p50_us: at(0.5),
            p99_us: at(0.99),
        }
    }
}

/// Memory use with many idle connections.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdleResult {
    /// Connections opened.
    pub connections: usize,
    /// Connections that still answered a PINGREQ after all were open.
    pub alive: usize,
    /// Broker resident memory growth per connection, in bytes.
    pub bytes_per_connection: f64,
}

/// CPU seconds used during a scenario.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    /// By the broker.
    pub broker: f64,
    /// By this load generator.
    pub generator: f64,
}

/// Results for one broker.
#[derive(Debug, Clone, Default)]
pub struct BrokerResult {
    /// Broker name.
    pub name: String,
    /// Fan-in at QoS 0 and QoS 1.
    pub fan_in: [Throughput; 2],
    /// Fan-out at QoS 0 and QoS 1.
    pub fan_out: [Throughput; 2],
    /// Idle connections.
    pub idle: IdleResult,
    /// CPU use per scenario: fan-in QoS 0, QoS 1, fan-out QoS 0, QoS 1, idle.
    pub cpu: [CpuUse; 5],
}

/// The benchmark's outcome; `Display` prints the table with ratios.
#[derive(Debug, Clone)]
pub struct MqttBenchReport {
    /// Options used.
    pub options: MqttBenchOptions,
    /// One entry per broker, in the order of the options.
    pub results: Vec<BrokerResult>,
    /// The open-file limit this process ran with (it caps the idle connections).
    pub open_file_limit: u64,
}

/// The open-file limit (soft) after raising it to the hard limit.
fn raise_open_file_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024)
}

/// Runs every scenario against every broker.
pub async fn run(options: &MqttBenchOptions) -> Result<MqttBenchReport, LoadError> {
    let fd_limit = raise_open_file_limit();
    let mut options = options.clone();
    // Both the broker and this process hold one descriptor per connection; keep headroom.
    options.idle_connections = options
        .idle_connections
        .min(fd_limit.saturating_sub(1000) as usize);
    let mut results = Vec::new();
    for spec in &options.brokers {
        results.push(bench_broker(spec, &options).await?);
    }
    Ok(MqttBenchReport {
        options,
        results,
        open_file_limit: fd_limit,
    })
}

async fn bench_broker(
    spec: &BrokerSpec,
    options: &MqttBenchOptions,
) -> Result<BrokerResult, LoadError> {
    let mut result = BrokerResult {
        name: spec.name.clone(),
        ..BrokerResult::default()
    };
    for (slot, qos) in [0u8, 1].into_iter().enumerate() {
        (result.fan_in[slot], result.cpu[slot]) = fresh_run(spec, options, Fan::In, qos).await?;
        (result.fan_out[slot], result.cpu[2 + slot]) =
            fresh_run(spec, options, Fan::Out, qos).await?;
    }
    let broker = RunningBroker::start(spec).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = broker.rss();
    let (idle, cpu) = with_cpu(&broker, async {
        let streams = scenario::idle(
            broker.addr,
            options.idle_connections,
            &options.source_addresses,
        )
        .await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = broker.rss();
        let connections = streams.len();
        let alive = scenario::ping_all(streams).await;
        Ok::<_, LoadError>(IdleResult {
            connections,
            alive,
            bytes_per_connection: after.saturating_sub(before) as f64 / connections.max(1) as f64,
        })
    })
    .await;
    result.idle = idle?;
    result.cpu[4] = cpu;
    broker.stop().await;
    Ok(result)
}

/// Direction of a throughput scenario.
#[derive(Debug, Clone, Copy)]
enum Fan {
    /// Many publishers, one subscriber.
    In,
    /// One publisher, many subscribers.
    Out,
}

/// Runs one throughput scenario against a freshly started broker.
async fn fresh_run(
    spec: &BrokerSpec,
    options: &MqttBenchOptions,
    fan: Fan,
    qos: u8,
) -> Result<(Throughput, CpuUse), LoadError> {
    let broker = RunningBroker::start(spec).await?;
    let timing = (options.warmup, options.duration);
    let (throughput, cpu) = with_cpu(&broker, async {
        match fan {
            Fan::In => {
                let window = options.fan_in_window;
                scenario::fan_in(
                    broker.addr,
                    options.publishers,
                    qos,
                    options.payload,
                    window,
                    timing,
                )
                .await
            }
            Fan::Out => {
                let window = options.fan_out_window;
                scenario::fan_out(
                    broker.addr,
                    options.subscribers,
                    qos,
                    options.payload,
                    window,
                    timing,
                )
                .await
            }
        }
    })
    .await;
    broker.stop().await;
    Ok((throughput?, cpu))
}

async fn with_cpu<T>(broker: &RunningBroker, work: impl Future<Output = T>) -> (T, CpuUse) {
    let (broker_before, own_before) = (broker.cpu_seconds(), own_cpu_seconds());
    let value = work.await;
    let cpu = CpuUse {
        broker: broker.cpu_seconds() - broker_before,
        generator: own_cpu_seconds() - own_before,
    };
    (value, cpu)
}

fn ratio(ours: f64, baseline: f64) -> String {
    if baseline > 0.0 {
        format!("{:.2}x", ours / baseline)
    } else {
        "-".into()
    }
}

impl fmt::Display for MqttBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        writeln!(
            f,
            "MQTT benchmark: {} publishers -> 1 (window {}), 1 -> {} subscribers (window {}), {}-byte payloads, {} s per run",
            o.publishers,
            o.fan_in_window,
            o.subscribers,
            o.fan_out_window,
            o.payload,
            o.duration.as_secs()
        )?;
        writeln!(
            f,
            "{:<22} {:>12} {:>10} {:>10} {:>11} {:>11}",
            "scenario / broker", "msg/s", "p50 ms", "p99 ms", "broker cpu", "gen cpu"
        )?;
        let names = [
            "fan-in QoS 0",
            "fan-in QoS 1",
            "fan-out QoS 0",
            "fan-out QoS 1",
        ];
        for (index, name) in names.iter().enumerate() {
            writeln!(f, "{name}")?;
            for r in &self.results {
                let t = if index < 2 {
                    r.fan_in[index]
                } else {
                    r.fan_out[index - 2]
                };
                let cpu = r.cpu[index];
                writeln!(
                    f,
                    "  {:<20} {:>12.0} {:>10.2} {:>10.2} {:>10.1}s {:>10.1}s",
                    r.name,
                    t.per_second,
                    f64::from(t.p50_us) / 1000.0,
                    f64::from(t.p99_us) / 1000.0,
                    cpu.broker,
                    cpu.generator
                )?;
            }
            if let [ours, .., baseline] = self.results.as_slice() {
                let (a, b) = if index < 2 {
                    (ours.fan_in[index], baseline.fan_in[index])
                } else {
                    (ours.fan_out[index - 2], baseline.fan_out[index - 2])
                };
                writeln!(
                    f,
                    "  ratio {} / {}: throughput {}, p99 {}",
                    ours.name,
                    baseline.name,
                    ratio(a.per_second, b.per_second),
                    ratio(f64::from(a.p99_us), f64::from(b.p99_us))
                )?;
            }
        }
        writeln!(f, "idle connections")?;
        for r in &self.results {
            writeln!(
                f,
                "  {:<20} {} opened, {} alive, {:.0} bytes/connection (broker cpu {:.1}s, gen cpu {:.1}s)",
                r.name,
                r.idle.connections,
                r.idle.alive,
                r.idle.bytes_per_connection,
                r.cpu[4].broker,
                r.cpu[4].generator
            )?;
        }
        if let [ours, .., baseline] = self.results.as_slice() {
            writeln!(
                f,
                "  ratio {} / {}: memory per connection {}",
                ours.name,
                baseline.name,
                ratio(
                    ours.idle.bytes_per_connection,
                    baseline.idle.bytes_per_connection
                )
            )?;
        }
        Ok(())
    }
}
