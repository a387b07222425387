//! MQTT load generator and broker benchmark (`wanwu bench mqtt`).
//!
//! Runs the same scenarios against each broker in [`MqttBenchOptions::brokers`] (wanwu's
//! standalone broker and Debian's mosquitto by default; `wanwu bench mqtt` puts the whole
//! platform, [`BrokerSpec::wanwu_serve`], in wanwu's place), each run against a freshly
//! started broker process on a free port, with ratios against the baseline (the last
//! broker). Four scenarios ([`Scenario`]): fan-in, `publishers` connections publishing to
//! one subscriber, and fan-out, one publisher to `subscribers` subscribers of one topic, each
//! at QoS 0 and QoS 1 with 100-byte payloads. Each scenario runs
//!
//! - at saturation (closed loop): each publisher keeps `fan_in_window` messages on their way
//!   (fan-out: `fan_out_window` messages, each until every subscriber has it), so the broker
//!   runs at capacity with bounded queues; this gives the throughput. Its latency would be
//!   queueing delay set by the window (Little's law), so it is not reported;
//! - open loop at fixed offered rates, the same for every broker: each fraction of
//!   [`MqttBenchOptions::latency_loads`] of the lowest saturated throughput any broker
//!   reached in that scenario. Publishers send on a schedule whatever the broker does; every
//!   message sent in the recording window counts: its publish-to-delivery latency (from the
//!   send time stamped in its payload to its arrival at the subscriber), p50, p99 and
//!   maximum, and whether it arrived at all (lost otherwise).
//!
//! Then `idle_connections` idle connections (capped by the open-file limit) from source
//! addresses 127.0.0.2..9 (to get past the ephemeral port range): resident memory per
//! connection, and whether all still answer a PINGREQ afterwards.
//!
//! Clients are hand-rolled, pipelined MQTT 3.1.1 connections (several messages per write,
//! no allocation per message); the broker's and the generator's own CPU use over each
//! recording are reported next to every figure.

mod codec;
mod credit;
mod report;
mod run;
mod scenario;
mod summary;
mod target;

use std::net::Ipv4Addr;
use std::time::Duration;

use run::Timing;
use scenario::{Load, Pacing};
pub use summary::Percentiles;
pub use target::BrokerSpec;
use target::RunningBroker;

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
    /// Payload size in bytes (at least 17: publisher, sequence number, send time and sample flag).
    pub payload: usize,
    /// Messages on their way per publisher (fan-in) or in total (fan-out).
    pub fan_in_window: usize,
    /// Messages on their way in the fan-out scenario.
    pub fan_out_window: usize,
    /// Warm-up before recording.
    pub warmup: Duration,
    /// Recording time per scenario.
    pub duration: Duration,
    /// Longest wait for messages sent during the recording; what is missing then is lost.
    pub drain: Duration,
    /// Offered loads of the open-loop latency runs, as fractions of the lowest saturated
    /// throughput any broker reached in the scenario.
    pub latency_loads: Vec<f64>,
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
            drain: Duration::from_secs(2),
            latency_loads: vec![0.5, 0.8],
            idle_connections: 100_000,
            source_addresses: (2..=9).map(|last| Ipv4Addr::new(127, 0, 0, last)).collect(),
        }
    }
}

/// One of the four throughput and latency scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Many publishers, one subscriber, QoS 0.
    FanInQos0,
    /// Many publishers, one subscriber, QoS 1.
    FanInQos1,
    /// One publisher, many subscribers, QoS 0.
    FanOutQos0,
    /// One publisher, many subscribers, QoS 1.
    FanOutQos1,
}

impl Scenario {
    /// Every scenario, in the order of the result arrays.
    pub const ALL: [Self; 4] = [
        Self::FanInQos0,
        Self::FanInQos1,
        Self::FanOutQos0,
        Self::FanOutQos1,
    ];

    /// Its name, such as `fan-in QoS 1`.
    pub fn name(self) -> &'static str {
        match self {
            Self::FanInQos0 => "fan-in QoS 0",
            Self::FanInQos1 => "fan-in QoS 1",
            Self::FanOutQos0 => "fan-out QoS 0",
            Self::FanOutQos1 => "fan-out QoS 1",
        }
    }

    /// What its rates count: messages into the broker (fan-in) or deliveries out of it.
    pub fn unit(self) -> &'static str {
        if self.fan_in() {
            "messages/s"
        } else {
            "deliveries/s"
        }
    }

    fn fan_in(self) -> bool {
        matches!(self, Self::FanInQos0 | Self::FanInQos1)
    }

    fn qos(self) -> u8 {
        u8::from(matches!(self, Self::FanInQos1 | Self::FanOutQos1))
    }
}

/// What one run measured. Rates are per second of the recording; a message is sampled when
/// it was sent during the recording, and each subscriber's copy counts as one delivery.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome {
    /// Length of the recording, seconds.
    pub seconds: f64,
    /// Messages (fan-in) or deliveries (fan-out) that arrived during the recording, per second.
    pub per_second: f64,
    /// Sampled messages the publishers sent, per second.
    pub sent_per_second: f64,
    /// Deliveries of sampled messages expected.
    pub expected: u64,
    /// Deliveries of sampled messages that arrived (before the drain time ran out).
    pub delivered: u64,
    /// Deliveries of sampled messages that never arrived.
    pub lost: u64,
    /// Publish-to-delivery latency of every sampled delivery (open loop only).
    pub latency: Percentiles,
    /// How late sampled messages left against their schedule (open loop only): the load
    /// generator's own delay, which the latency does not include.
    pub lag: Percentiles,
    /// CPU seconds used during the recording.
    pub cpu: CpuUse,
}

impl Outcome {
    /// Share of expected deliveries that arrived, in percent (100 when none were expected).
    pub fn delivered_percent(&self) -> f64 {
        if self.expected == 0 {
            100.0
        } else {
            self.delivered as f64 * 100.0 / self.expected as f64
        }
    }

    /// Broker CPU time per message or delivery that arrived, in microseconds.
    pub fn broker_us_per_message(&self) -> f64 {
        let count = self.per_second * self.seconds;
        if count > 0.0 {
            self.cpu.broker * 1e6 / count
        } else {
            0.0
        }
    }

    /// Broker and generator CPU use as cores busy during the recording.
    pub fn cores(&self) -> CpuUse {
        let seconds = self.seconds.max(f64::MIN_POSITIVE);
        CpuUse {
            broker: self.cpu.broker / seconds,
            generator: self.cpu.generator / seconds,
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

/// CPU seconds (or cores busy) of the broker and of the load generator.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    /// By the broker.
    pub broker: f64,
    /// By this load generator.
    pub generator: f64,
}

impl CpuUse {
    /// What was used since `before`.
    fn since(self, before: Self) -> Self {
        Self {
            broker: self.broker - before.broker,
            generator: self.generator - before.generator,
        }
    }
}

/// Results for one broker.
#[derive(Debug, Clone, Default)]
pub struct BrokerResult {
    /// Broker name.
    pub name: String,
    /// Each scenario at saturation, in the order of [`Scenario::ALL`].
    pub saturation: [Outcome; 4],
    /// Each scenario at each offered load of [`MqttBenchReport::offered`].
    pub at_rate: Vec<[Outcome; 4]>,
    /// Idle connections.
    pub idle: IdleResult,
    /// CPU seconds of the idle-connection run.
    pub idle_cpu: CpuUse,
}

/// The benchmark's outcome; `Display` prints the tables with ratios.
#[derive(Debug, Clone)]
pub struct MqttBenchReport {
    /// Options used (idle connections as capped by the open-file limit).
    pub options: MqttBenchOptions,
    /// Idle connections asked for, before the cap.
    pub idle_requested: usize,
    /// One entry per broker, in the order of the options.
    pub results: Vec<BrokerResult>,
    /// Offered rate of each open-loop run, per latency load and scenario, in the
    /// scenario's unit.
    pub offered: Vec<[f64; 4]>,
    /// The open-file limit this process ran with (it caps the idle connections).
    pub open_file_limit: u64,
    /// `/proc/loadavg` (1, 5 and 15 minutes) at the start and at the end of the run.
    pub load_average: [String; 2],
}

/// Descriptors kept free besides the idle connections, in the broker and in this process.
const FD_HEADROOM: u64 = 1000;

/// The open-file limit (soft) after raising it to the hard limit.
fn raise_open_file_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024)
}

/// The 1-, 5- and 15-minute load averages, as `/proc/loadavg` gives them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

/// Runs every scenario against every broker: first all at saturation, then all at the
/// offered rates derived from it, then the idle connections.
pub async fn run(options: &MqttBenchOptions) -> Result<MqttBenchReport, LoadError> {
    let load_before = load_average();
    let fd_limit = raise_open_file_limit();
    let mut options = options.clone();
    let idle_requested = options.idle_connections;
    // Both the broker and this process hold one descriptor per connection; keep headroom.
    options.idle_connections = idle_requested.min(fd_limit.saturating_sub(FD_HEADROOM) as usize);
    let mut results: Vec<BrokerResult> = options
        .brokers
        .iter()
        .map(|spec| BrokerResult {
            name: spec.name.clone(),
            ..BrokerResult::default()
        })
        .collect();
    for (spec, result) in options.brokers.iter().zip(&mut results) {
        for (slot, scenario) in Scenario::ALL.into_iter().enumerate() {
            let window = if scenario.fan_in() {
                options.fan_in_window
            } else {
                options.fan_out_window
            };
            result.saturation[slot] =
                fresh_run(spec, &options, scenario, Pacing::Window(window)).await?;
        }
    }
    let offered: Vec<[f64; 4]> = options
        .latency_loads
        .iter()
        .map(|fraction| {
            std::array::from_fn(|slot| {
                let lowest = results
                    .iter()
                    .map(|r| r.saturation[slot].per_second)
                    .fold(f64::INFINITY, f64::min);
                fraction * lowest
            })
        })
        .collect();
    for (spec, result) in options.brokers.iter().zip(&mut results) {
        for rates in &offered {
            let mut outcomes = [Outcome::default(); 4];
            for (slot, scenario) in Scenario::ALL.into_iter().enumerate() {
                outcomes[slot] =
                    fresh_run(spec, &options, scenario, Pacing::Rate(rates[slot])).await?;
            }
            result.at_rate.push(outcomes);
        }
        (result.idle, result.idle_cpu) = idle_run(spec, &options).await?;
    }
    Ok(MqttBenchReport {
        options,
        idle_requested,
        results,
        offered,
        open_file_limit: fd_limit,
        load_average: [load_before, load_average()],
    })
}

/// Runs one scenario against a freshly started broker.
async fn fresh_run(
    spec: &BrokerSpec,
    options: &MqttBenchOptions,
    scenario: Scenario,
    pacing: Pacing,
) -> Result<Outcome, LoadError> {
    let broker = RunningBroker::start(spec).await?;
    let load = Load {
        qos: scenario.qos(),
        payload: options.payload,
        pacing,
    };
    let timing = Timing {
        warmup: options.warmup,
        duration: options.duration,
        drain: options.drain,
    };
    let outcome = if scenario.fan_in() {
        scenario::fan_in(&broker, options.publishers, load, timing).await
    } else {
        scenario::fan_out(&broker, options.subscribers, load, timing).await
    };
    broker.stop().await;
    outcome
}

/// Opens the idle connections against a fresh broker and measures its memory growth.
async fn idle_run(
    spec: &BrokerSpec,
    options: &MqttBenchOptions,
) -> Result<(IdleResult, CpuUse), LoadError> {
    let broker = RunningBroker::start(spec).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (probe, before) = (broker.cpu_probe(), broker.rss());
    let cpu_before = probe.read();
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
    let cpu = probe.read().since(cpu_before);
    broker.stop().await;
    let idle = IdleResult {
        connections,
        alive,
        bytes_per_connection: after.saturating_sub(before) as f64 / connections.max(1) as f64,
    };
    Ok((idle, cpu))
}
