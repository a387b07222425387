//! The engine benchmark: the rule stage (queues, workers, evaluation) over telemetry, with a
//! set of active rules against the same stage without them, in one run.
//!
//! Three measures, each for the baseline and for the rules:
//! - CPU per input: one [`crate::Evaluator`] on this thread over the throughput inputs, in
//!   CPU time of the thread (Linux `/proc/thread-self/schedstat`), so that cores shared with
//!   other work do not distort it; wall time where that file is missing;
//! - throughput: a producer offers pre-built inputs as fast as the queues take them; inputs
//!   per second until every one is evaluated (the producer sleeps while the queues are full);
//! - latency at a fixed rate: a producer offers `rate` inputs per second for `seconds`, in
//!   batches of one millisecond (queues full at that moment drop, and are counted);
//!   one input in 100 goes to a probe device whose probe rule publishes its sequence number,
//!   and the time from offering it to the firing is its latency. The probe rule is present in
//!   both runs, so "without rules" means "with only the probe rule".
//!
//! The rule set mimics a city deployment: most rules watch a few named devices, some a whole
//! product, a few a district tag; some use windowed aggregates and `for`/`clear`.

use crate::action::PlannedAction;
use crate::clock::SystemClock;
use crate::engine::{Engine, EngineConfig, Firing};
use crate::input::{DeviceInfo, Input, MemoryDirectory};
use crate::rule::RuleDef;
use crate::runtime::{Runtime, RuntimeConfig};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wanwu_model::Value;

const TENANT: &str = "bench";
const PROBES: usize = 16;
const PRODUCTS: usize = 100;
const DISTRICTS: usize = 20;

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct BenchConfig {
    /// Active rules (besides the probe rule).
    pub rules: usize,
    /// Devices sending telemetry.
    pub devices: usize,
    /// Inputs of the throughput measure.
    pub messages: usize,
    /// Offered inputs per second of the latency measure.
    pub rate: u64,
    /// Length of the latency measure.
    pub seconds: u64,
    /// Worker threads.
    pub workers: usize,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            rules: 1000,
            devices: 10_000,
            messages: 400_000,
            rate: 100_000,
            seconds: 5,
            workers: 2,
        }
    }
}

/// Results of one side (baseline or rules).
#[derive(Clone, Copy, Debug, Default)]
pub struct SideReport {
    /// Inputs per second, closed loop.
    pub throughput: f64,
    /// Inputs per second achieved at the fixed rate.
    pub achieved_rate: f64,
    /// Inputs dropped at the fixed rate (full queues).
    pub dropped: u64,
    /// Median latency at the fixed rate, µs.
    pub p50_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
    /// Evaluation cost per input, µs of CPU time (one evaluator, one thread).
    pub cpu_us_per_input: f64,
    /// Inputs per second the workers could take if each had a core: workers / CPU per input.
    pub cpu_capacity: f64,
    /// Rule evaluations per input (throughput measure).
    pub evaluations_per_input: f64,
    /// Firings during the throughput measure.
    pub firings: u64,
}

/// Results of a benchmark run.
#[derive(Clone, Copy, Debug)]
pub struct BenchReport {
    /// What ran.
    pub config: BenchConfig,
    /// Without rules (only the probe rule).
    pub baseline: SideReport,
    /// With the rules.
    pub rules: SideReport,
}

impl BenchReport {
    /// Share of the baseline's throughput lost with the rules, 0..1.
    pub fn throughput_loss(&self) -> f64 {
        1.0 - self.rules.throughput / self.baseline.throughput
    }

    /// Share of the offered rate lost with the rules against the baseline, 0..1.
    pub fn rate_loss(&self) -> f64 {
        1.0 - self.rules.achieved_rate / self.baseline.achieved_rate
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "rule stage: {} rules, {} devices, {} workers; throughput over {} inputs, latency at {} inputs/s for {} s",
            c.rules, c.devices, c.workers, c.messages, c.rate, c.seconds
        )?;
        writeln!(
            f,
            "{:<10} {:>10} {:>12} {:>13} {:>11} {:>9} {:>10} {:>10} {:>11} {:>8}",
            "",
            "cpu µs/in",
            "cpu-bound/s",
            "throughput/s",
            "at-rate/s",
            "dropped",
            "p50 µs",
            "p99 µs",
            "evals/input",
            "firings"
        )?;
        for (name, side) in [("no rules", &self.baseline), ("rules", &self.rules)] {
            writeln!(
                f,
                "{:<10} {:>10.2} {:>12.0} {:>13.0} {:>11.0} {:>9} {:>10.0} {:>10.0} {:>11.2} {:>8}",
                name,
                side.cpu_us_per_input,
                side.cpu_capacity,
                side.throughput,
                side.achieved_rate,
                side.dropped,
                side.p50_us,
                side.p99_us,
                side.evaluations_per_input,
                side.firings
            )?;
        }
        writeln!(
            f,
            "cpu per input with rules / without: {:.2}; max throughput with rules / without: {:.3} ({:.1}% lost); at {}/s: {:.3} ({:.1}% lost); p99 latency added: {:.0} µs",
            self.rules.cpu_us_per_input / self.baseline.cpu_us_per_input,
            1.0 - self.throughput_loss(),
            self.throughput_loss() * 100.0,
            c.rate,
            1.0 - self.rate_loss(),
            self.rate_loss() * 100.0,
            self.rules.p99_us - self.baseline.p99_us
        )
    }
}

fn device_id(i: usize) -> String {
    format!("dev-{i}")
}

fn probe_id(i: usize) -> String {
    format!("probe-{i}")
}

fn directory(devices: usize) -> Arc<MemoryDirectory> {
    let directory = Arc::new(MemoryDirectory::default());
    let ids = (0..devices).map(device_id).chain((0..PROBES).map(probe_id));
    for (i, id) in ids.enumerate() {
        directory.put_device(DeviceInfo {
            id,
            tenant: TENANT.into(),
            product: format!("p{}", i % PRODUCTS),
            name: format!("Station {i}"),
            tags: BTreeMap::from([("district".into(), format!("d{}", i % DISTRICTS))]),
            attributes: serde_json::Map::new(),
            assets: Vec::new(),
        });
    }
    directory
}

fn def(json: serde_json::Value) -> RuleDef {
    serde_json::from_value(json).expect("benchmark rules are valid")
}

/// The rule set: 70% watch 10 named devices (threshold; every 7th with an aggregate, every
/// 5th with `for` and `clear`), 20% a product, 2% a district tag, 8% telemetry events only.
fn rules(count: usize, devices: usize) -> Vec<RuleDef> {
    let publish = json!([{"type": "publish", "topic": "alerts/${device}", "payload": {"pm25": "${values.pm25}"}}]);
    (0..count)
        .map(|i| {
            let id = format!("rule-{i}");
            let bucket = i % 50;
            let mut rule = if bucket < 35 {
                let ids: Vec<String> = (0..10).map(|k| device_id((i * 10 + k) % devices.max(1))).collect();
                let condition = if i % 7 == 0 {
                    "msg.values.pm25 > 200.0 && avg('pm25', '1m') > 150.0"
                } else {
                    "msg.values.pm25 > 240.0"
                };
                json!({"trigger": {"type": "message", "devices": {"ids": ids}}, "condition": condition})
            } else if bucket < 45 {
                json!({"trigger": {"type": "message", "devices": {"product": format!("p{}", i % PRODUCTS)}},
                       "condition": "msg.values.pm10 > 245.0 && msg.values.temperature < 40.0"})
            } else if bucket == 45 {
                json!({"trigger": {"type": "message", "devices": {"tags": {"district": format!("d{}", i % DISTRICTS)}}},
                       "condition": "msg.values.temperature > 39.5"})
            } else {
                json!({"trigger": {"type": "message", "kinds": ["event"]}, "condition": "msg.event == 'fail'"})
            };
            rule["id"] = json!(id);
            rule["tenant"] = json!(TENANT);
            rule["actions"] = publish.clone();
            if i % 5 == 0 && bucket < 35 {
                rule["for"] = json!("30s");
                rule["clear"] = json!({"condition": "msg.values.pm25 < 100.0", "actions": publish});
            }
            def(rule)
        })
        .collect()
}

fn probe_rule() -> RuleDef {
    let ids: Vec<String> = (0..PROBES).map(probe_id).collect();
    def(
        json!({"id": "probe", "tenant": TENANT, "trigger": {"type": "message", "devices": {"ids": ids}},
        "actions": [{"type": "publish", "topic": "probe", "payload": "${values.seq}"}]}),
    )
}

/// Input `n` of the stream: devices in turn, each reporting once a (virtual) second.
fn input(n: usize, devices: usize) -> Input {
    let device = n % devices.max(1);
    let ts = 1_700_000_000_000 + (n / devices.max(1)) as i64 * 1000;
    // Deterministic spread of values: about 1 in 25 above the thresholds.
    let x = ((n as u64).wrapping_mul(2_654_435_761) % 10_000) as f64 / 10_000.0;
    let values = BTreeMap::from([
        ("pm25".to_string(), Value::Float(250.0 * x)),
        ("pm10".to_string(), Value::Float(250.0 * (1.0 - x))),
        ("temperature".to_string(), Value::Float(40.0 * x)),
    ]);
    Input::telemetry(TENANT, device_id(device), ts, values)
}

fn probe(seq: usize, ts: i64) -> Input {
    let values = BTreeMap::from([("seq".to_string(), Value::Int(seq as i64))]);
    Input::telemetry(TENANT, probe_id(seq % PROBES), ts, values)
}

/// Latencies of probes, by sequence number.
struct Probes {
    sent: Vec<AtomicU64>,
    latencies: Mutex<Vec<u64>>,
    epoch: Instant,
}

impl Probes {
    fn new(count: usize) -> Self {
        Probes {
            sent: (0..count).map(|_| AtomicU64::new(0)).collect(),
            latencies: Mutex::new(Vec::with_capacity(count)),
            epoch: Instant::now(),
        }
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn receive(&self, firing: &Firing) {
        if let [PlannedAction::Publish { topic, payload, .. }] = &firing.actions[..]
            && topic == "probe"
            && let Some(sent) = payload.as_u64().and_then(|seq| self.sent.get(seq as usize))
        {
            let latency = self.now_ns().saturating_sub(sent.load(Ordering::Relaxed));
            self.latencies
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(latency);
        }
    }

    fn percentile_us(&self, q: f64) -> f64 {
        let mut latencies = self
            .latencies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if latencies.is_empty() {
            return f64::NAN;
        }
        latencies.sort_unstable();
        let index = ((latencies.len() - 1) as f64 * q).round() as usize;
        latencies[index] as f64 / 1000.0
    }
}

/// Offers `input` until a queue takes it, sleeping (not spinning: the producer shares the
/// cores with the workers) while the queues are full.
fn offer_until_taken(runtime: &Runtime, mut input: Input) {
    while let Err(back) = runtime.offer(input) {
        input = back;
        std::thread::sleep(Duration::from_micros(50));
    }
}

fn wait_processed(runtime: &Runtime, count: u64) {
    while runtime.stats().processed < count {
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn side(config: &BenchConfig, with_rules: bool) -> SideReport {
    let directory = directory(config.devices);
    let engine = Engine::new(directory, Arc::new(SystemClock), EngineConfig::default());
    let mut defs = if with_rules {
        rules(config.rules, config.devices)
    } else {
        Vec::new()
    };
    defs.push(probe_rule());
    engine.set_rules(defs).expect("benchmark rules compile");
    let runtime_config = RuntimeConfig {
        workers: config.workers,
        queue_capacity: 8192,
        schedule_tick: None,
    };
    let mut report = SideReport::default();
    let inputs: Vec<Input> = (0..config.messages)
        .map(|n| input(n, config.devices))
        .collect();

    // CPU per input: one evaluator on this thread.
    let mut evaluator = engine.evaluator();
    let (cpu_started, wall_started) = (thread_cpu_ns(), Instant::now());
    for input in &inputs {
        std::hint::black_box(evaluator.process(input));
    }
    let spent_ns = match (cpu_started, thread_cpu_ns()) {
        (Some(start), Some(end)) => end.saturating_sub(start) as f64,
        _ => wall_started.elapsed().as_nanos() as f64,
    };
    drop(evaluator);
    report.cpu_us_per_input = spent_ns / 1000.0 / config.messages.max(1) as f64;
    report.cpu_capacity = config.workers as f64 * 1e6 / report.cpu_us_per_input;
    let evaluations_before = evaluations(&engine);

    // Throughput: pre-built inputs, offered as fast as taken.
    let firings = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&firings);
    let runtime = Runtime::start(
        Arc::clone(&engine),
        runtime_config,
        Arc::new(move |_: Firing| {
            counter.fetch_add(1, Ordering::Relaxed);
        }),
    );
    let started = Instant::now();
    for input in inputs {
        offer_until_taken(&runtime, input);
    }
    wait_processed(&runtime, config.messages as u64);
    report.throughput = config.messages as f64 / started.elapsed().as_secs_f64();
    report.firings = firings.load(Ordering::Relaxed);
    report.evaluations_per_input =
        (evaluations(&engine) - evaluations_before) as f64 / config.messages.max(1) as f64;
    runtime.shutdown();

    // Latency at a fixed rate: a paced producer, one probe in 100.
    let total = (config.rate * config.seconds) as usize;
    let probes = Arc::new(Probes::new(total / 100 + 1));
    let receiver = Arc::clone(&probes);
    let runtime = Runtime::start(
        Arc::clone(&engine),
        runtime_config,
        Arc::new(move |firing: Firing| receiver.receive(&firing)),
    );
    let started = Instant::now();
    let mut accepted = 0u64;
    // Paced in batches of one millisecond, sleeping in between rather than spinning.
    let per_ms = (config.rate / 1000).max(1) as usize;
    for n in 0..total {
        if n % per_ms == 0 {
            let due = Duration::from_millis((n / per_ms) as u64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let message = if n % 100 == 0 {
            let seq = n / 100;
            probes.sent[seq].store(probes.now_ns(), Ordering::Relaxed);
            probe(seq, 1_700_000_000_000 + n as i64)
        } else {
            input(config.messages + n, config.devices)
        };
        if runtime.submit(message) {
            accepted += 1;
        }
    }
    wait_processed(&runtime, accepted);
    report.achieved_rate = accepted as f64 / started.elapsed().as_secs_f64();
    report.dropped = runtime.stats().dropped;
    runtime.shutdown();
    report.p50_us = probes.percentile_us(0.5);
    report.p99_us = probes.percentile_us(0.99);
    report
}

/// Evaluations of every rule so far.
fn evaluations(engine: &Engine) -> u64 {
    engine
        .rules()
        .rules()
        .iter()
        .map(|r| r.stats().snapshot().evaluations)
        .sum()
}

/// CPU time this thread has run, ns (Linux), or `None`.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Runs the benchmark: the baseline, then the rules, in this process.
pub fn run(config: BenchConfig) -> BenchReport {
    let baseline = side(&config, false);
    let rules = side(&config, true);
    BenchReport {
        config,
        baseline,
        rules,
    }
}
