//! The rule benchmark through the platform path: telemetry acknowledged by the ingest
//! pipeline (validated, durable in the time-series log), handed to the rule stage by the
//! ingest fan-out, evaluated by the runtime, acted on. The same platform set-up runs twice in
//! one run: with only a probe rule ("no rules"), and with the probe rule and `rules` more.
//! Each side runs twice, in the order no rules, rules, rules, no rules; a side's figures are
//! those of both its runs together, and each run's throughput is shown too.
//!
//! Load: payloads (three values) offered at a fixed `rate` per second, each ingest call its
//! own task, at most `in_flight` calls waiting for their acknowledgement at once (when all
//! are busy the offer waits, so the achieved rate shows what the ingest path sustains).
//! `rate` 0 offers as fast as the `in_flight` calls are acknowledged.
//!
//! Measures of each side:
//! - throughput: payloads acknowledged per second, and inputs evaluated per second (from the
//!   first offer until the stage has evaluated every input it took);
//! - losses: payloads that did not reach the stage (fan-out queue full), inputs dropped while
//!   waiting for a device lookup and on the runtime's queues;
//! - latency: one payload in 1,000 goes to a probe device whose probe rule calls a webhook
//!   (a local HTTP endpoint of the benchmark) with the payload's sequence number; the time
//!   from that payload's acknowledgement to the call's arrival (evaluation, the firing's lane,
//!   the HTTP call). A webhook rather than an alarm, so that the figure is the rule stage's
//!   and not the metadata store's, whose one writer is busy with twin updates.
//!
//! The rule set mimics a city: 70 % of the rules watch 10 named devices each with a
//! threshold (10 % of all rules also with a 5-minute average of the device's readings, so
//! that every device's history is kept), 20 % a product, 10 % a district tag; their action
//! is an MQTT publish (with no broker attached here it fails at once, and is counted as a
//! failed action).

use crate::auth::ApiPrincipal;
use crate::error::CoreError;
use crate::scope::Scope;
use crate::{DevicePrincipal, Platform, TelemetryOptions};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use wanwu_model::entity::Role;

const PRODUCTS: usize = 100;
const DISTRICTS: usize = 20;
const PROBE: &str = "probe";
/// One payload in this many goes to the probe device (few enough that storing the probe's
/// alarms does not become the bottleneck the latency measures).
const PROBE_EVERY: usize = 1000;

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct PlatformBenchConfig {
    /// Rules besides the probe rule.
    pub rules: usize,
    /// Devices sending telemetry.
    pub devices: usize,
    /// Telemetry payloads offered per side.
    pub messages: usize,
    /// Ingest calls waiting for their acknowledgement at most at once.
    pub in_flight: usize,
    /// Payloads offered per second; 0: as fast as they are acknowledged.
    pub rate: usize,
}

impl Default for PlatformBenchConfig {
    fn default() -> Self {
        PlatformBenchConfig {
            rules: 1000,
            devices: 10_000,
            messages: 500_000,
            in_flight: 256,
            rate: 100_000,
        }
    }
}

/// The figures of one side.
#[derive(Clone, Copy, Debug)]
pub struct PlatformSide {
    /// Payloads offered per second (what the offer loop achieved).
    pub offered_per_s: f64,
    /// Payloads acknowledged per second (both runs together).
    pub acked_per_s: f64,
    /// Payloads acknowledged per second in each of the two runs, in the order they ran.
    pub acked_per_s_runs: [f64; 2],
    /// Payloads acknowledged.
    pub acked: u64,
    /// Payloads the rule stage took from the ingest fan-out.
    pub reached_stage: u64,
    /// Inputs dropped while their device was looked up (parking or lookup queue full).
    pub admission_dropped: u64,
    /// Inputs dropped because a runtime queue was full.
    pub runtime_dropped: u64,
    /// Inputs evaluated (telemetry, and the probe's alarm changes).
    pub evaluated: u64,
    /// Inputs evaluated per second, from the first offer until the stage was drained.
    pub evaluated_per_s: f64,
    /// Time from the last acknowledgement until the stage had evaluated all it took, ms.
    pub drain_ms: f64,
    /// Probe payloads acknowledged.
    pub probes_acked: usize,
    /// Probes whose webhook call arrived.
    pub probes: usize,
    /// Median time from a probe's acknowledgement to its webhook call, ms.
    pub p50_ms: f64,
    /// 99th percentile of the same, ms.
    pub p99_ms: f64,
}

impl PlatformSide {
    /// Payloads acknowledged but never evaluated (dropped before or in the stage).
    pub fn lost(&self) -> u64 {
        (self.acked - self.reached_stage.min(self.acked))
            + self.admission_dropped
            + self.runtime_dropped
    }
}

/// Both sides.
#[derive(Clone, Copy, Debug)]
pub struct PlatformBenchReport {
    /// Only the probe rule.
    pub baseline: PlatformSide,
    /// The probe rule and the rule set.
    pub rules: PlatformSide,
}

fn admin_scope() -> Scope {
    Scope::own(ApiPrincipal {
        tenant: crate::DEFAULT_TENANT.into(),
        role: Role::Admin,
        token_id: "bench".into(),
        platform_admin: true,
    })
}

fn device_id(i: usize) -> String {
    format!("d{i}")
}

fn rule_json(i: usize, devices: usize) -> serde_json::Value {
    let trigger = match i % 10 {
        0..7 => {
            let ids: Vec<String> = (0..10).map(|k| device_id((i * 10 + k) % devices)).collect();
            json!({"type": "message", "devices": {"ids": ids}})
        }
        7 | 8 => json!({"type": "message", "devices": {"product": format!("p{}", i % PRODUCTS)}}),
        _ => {
            json!({"type": "message", "devices": {"tags": {"district": format!("z{}", i % DISTRICTS)}}})
        }
    };
    let condition = match i % 10 {
        // One in seven of these also asks for a windowed average: every device's pm25
        // history is kept.
        0 => "msg.values.pm25 > 240.0 && avg('pm25', '5m') > 100.0",
        1..7 => "msg.values.pm25 > 240.0",
        7 | 8 => "msg.values.pm10 > 245.0 && msg.values.temperature < 40.0",
        _ => "msg.values.temperature > 39.5",
    };
    json!({"id": format!("r{i}"), "trigger": trigger, "condition": condition,
           "actions": [{"type": "publish", "topic": "alerts/${device}",
                        "payload": {"pm25": "${values.pm25}"}}]})
}

async fn provision(
    platform: &Platform,
    config: &PlatformBenchConfig,
    with_rules: bool,
    probe_url: &str,
) -> Result<(), CoreError> {
    let scope = admin_scope();
    for p in 0..PRODUCTS {
        let product = json!({"id": format!("p{p}"), "name": "bench", "properties": [
            {"id": "pm25", "type": "float"}, {"id": "pm10", "type": "float"},
            {"id": "temperature", "type": "float"}]});
        let product =
            serde_json::from_value(product).map_err(|e| CoreError::Internal(e.to_string()))?;
        platform.registry.create_product(&scope, product).await?;
    }
    let mut inputs: Vec<serde_json::Value> = (0..config.devices)
        .map(|i| {
            json!({"id": device_id(i), "product": format!("p{}", i % PRODUCTS),
                        "tags": {"district": format!("z{}", i % DISTRICTS)}})
        })
        .collect();
    inputs.push(json!({"id": PROBE, "product": "p0"}));
    for chunk in inputs.chunks(crate::registry::MAX_BATCH) {
        let batch = serde_json::from_value(serde_json::Value::from(chunk.to_vec()))
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        platform.registry.create_device_batch(&scope, batch).await?;
    }
    let probe = json!({"id": "probe", "trigger": {"type": "message", "kinds": ["telemetry"], "devices": {"ids": [PROBE]}},
        "actions": [{"type": "webhook", "url": probe_url, "retries": 0,
                     "body": {"seq": "${values.pm25}"}}]});
    let mut rules = vec![probe];
    if with_rules {
        rules.extend((0..config.rules).map(|i| rule_json(i, config.devices)));
    }
    for rule in rules {
        platform
            .rules
            .create_rule(&scope, rule)
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))?;
    }
    Ok(())
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// When each probe payload was acknowledged, and when its alarm notice was seen, by sequence
/// number.
#[derive(Default)]
struct Probes {
    acked: Mutex<HashMap<u64, Instant>>,
    seen: Mutex<HashMap<u64, Instant>>,
}

impl Probes {
    fn note(map: &Mutex<HashMap<u64, Instant>>, seq: u64) {
        map.lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(seq)
            .or_insert_with(Instant::now);
    }

    /// Acknowledgement-to-notice times, ms, sorted.
    fn latencies(&self) -> Vec<f64> {
        let acked = self.acked.lock().unwrap_or_else(|p| p.into_inner());
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut latencies: Vec<f64> = seen
            .iter()
            .filter_map(|(seq, at)| acked.get(seq).map(|ack| *at - *ack.min(at)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        latencies.sort_by(f64::total_cmp);
        latencies
    }
}

/// A local HTTP endpoint for the probe rule's webhook: notes when each probe's call arrives.
async fn probe_endpoint(
    probes: Arc<Probes>,
) -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/probe", listener.local_addr()?);
    let accept = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer_probe_calls(stream, probes.clone()));
        }
    });
    Ok((url, accept))
}

/// Answers the HTTP/1.1 requests of one connection with 200, noting each body's `seq`.
async fn answer_probe_calls(stream: TcpStream, probes: Arc<Probes>) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        let mut length = 0;
        loop {
            line.clear();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let seq = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|body| seq_of(&body["seq"]));
        if let Some(seq) = seq {
            Probes::note(&probes.seen, seq);
        }
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        if reader.get_mut().write_all(answer).await.is_err() {
            return;
        }
    }
}

/// A probe's sequence number as the template rendered it (a number or a string).
fn seq_of(value: &serde_json::Value) -> Option<u64> {
    value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .map(|seq| seq as u64)
}

/// The payload number `n` sends: its device, product and body.
fn payload(n: usize, devices: usize) -> (DevicePrincipal, serde_json::Value) {
    let x = (n.wrapping_mul(2_654_435_761) % 1000) as f64 / 4.0;
    let (device, product, pm25) = if n.is_multiple_of(PROBE_EVERY) {
        (PROBE.to_owned(), "p0".to_owned(), (n / PROBE_EVERY) as f64)
    } else {
        let i = n % devices;
        (device_id(i), format!("p{}", i % PRODUCTS), x)
    };
    let principal = DevicePrincipal {
        tenant: crate::DEFAULT_TENANT.into(),
        product,
        device,
    };
    (
        principal,
        json!({"pm25": pm25, "pm10": 250.0 - x, "temperature": x / 6.25}),
    )
}

/// Offers the payloads at the configured rate; returns how long offering took, how long
/// until the last acknowledgement, and how many were acknowledged.
async fn offer(
    platform: &Platform,
    config: &PlatformBenchConfig,
    probes: &Arc<Probes>,
) -> (Duration, Duration, u64) {
    let slots = Arc::new(Semaphore::new(config.in_flight.max(1)));
    let acked = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    for n in 0..config.messages {
        if config.rate > 0 {
            let due = started + Duration::from_secs_f64(n as f64 / config.rate as f64);
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
        }
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let (platform, probes, acked) = (platform.clone(), probes.clone(), acked.clone());
        let (principal, body) = payload(n, config.devices);
        tokio::spawn(async move {
            let done = platform
                .ingest
                .ingest(&principal, body.to_string().as_bytes())
                .await;
            if done.is_ok() {
                acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if principal.device == PROBE {
                    Probes::note(&probes.acked, (n / PROBE_EVERY) as u64);
                }
            }
            drop(slot);
        });
    }
    let offered = started.elapsed();
    let _all = slots.acquire_many(config.in_flight.max(1) as u32).await;
    let acked = acked.load(std::sync::atomic::Ordering::Relaxed);
    (offered, started.elapsed(), acked)
}

/// Waits until the stage has evaluated everything it took (or nothing moved for 2 s);
/// returns its counters and when the last input was evaluated.
async fn drain(platform: &Platform, acked: u64) -> (super::StageStats, Instant) {
    let (mut stats, mut moved, mut last) = (super::StageStats::default(), Instant::now(), 0);
    while moved.elapsed() < Duration::from_secs(2) {
        stats = platform.rules.stage_stats().unwrap_or_default();
        let runtime = stats.runtime;
        if runtime.processed != last {
            (last, moved) = (runtime.processed, Instant::now());
        } else if stats.telemetry_batches >= acked
            && runtime.processed == runtime.accepted
            && moved.elapsed() > Duration::from_millis(100)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (stats, moved)
}

/// What one run of one side measured.
struct Run {
    /// Time to offer every payload.
    offered: Duration,
    /// Time from the first offer until the last acknowledgement.
    sent: Duration,
    /// Time from the first offer until the stage had evaluated all it took.
    evaluated: Duration,
    /// Time from the last acknowledgement until then.
    drain: Duration,
    acked: u64,
    stats: super::StageStats,
    probes_acked: usize,
    /// Probe latencies, ms.
    latencies: Vec<f64>,
}

async fn side(config: &PlatformBenchConfig, with_rules: bool) -> Result<Run, CoreError> {
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "wanwu-rules-bench-{}-{}",
        std::process::id(),
        with_rules
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let platform = Platform::open_with(&dir, TelemetryOptions::default()).await?;
    platform.bootstrap(None).await?;
    let probes = Arc::new(Probes::default());
    let (probe_url, endpoint) = probe_endpoint(probes.clone())
        .await
        .map_err(|e| CoreError::Internal(format!("probe endpoint: {e}")))?;
    provision(&platform, config, with_rules, &probe_url).await?;
    let started = Instant::now();
    let (offered, sent, acked) = offer(&platform, config, &probes).await;
    let last_ack = Instant::now();
    let (stats, evaluated_at) = drain(&platform, acked).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    platform.shutdown().await;
    drop(platform);
    endpoint.abort();
    let _ = std::fs::remove_dir_all(&dir);
    let probes_acked = probes.acked.lock().unwrap_or_else(|p| p.into_inner()).len();
    Ok(Run {
        offered,
        sent,
        evaluated: evaluated_at.duration_since(started),
        drain: evaluated_at.saturating_duration_since(last_ack),
        acked,
        stats,
        probes_acked,
        latencies: probes.latencies(),
    })
}

/// The figures of a side over its runs: totals over total times, latencies pooled.
fn merge(messages: usize, runs: &[Run]) -> PlatformSide {
    let total = |f: fn(&Run) -> u64| runs.iter().map(f).sum::<u64>();
    let seconds = |f: fn(&Run) -> Duration| runs.iter().map(f).sum::<Duration>().as_secs_f64();
    let mut latencies: Vec<f64> = runs.iter().flat_map(|r| r.latencies.clone()).collect();
    latencies.sort_by(f64::total_cmp);
    let evaluated = total(|r| r.stats.runtime.processed);
    let mut acked_per_s_runs = [f64::NAN; 2];
    for (slot, run) in acked_per_s_runs.iter_mut().zip(runs) {
        *slot = run.acked as f64 / run.sent.as_secs_f64();
    }
    PlatformSide {
        offered_per_s: (messages * runs.len()) as f64 / seconds(|r| r.offered),
        acked_per_s: total(|r| r.acked) as f64 / seconds(|r| r.sent),
        acked_per_s_runs,
        acked: total(|r| r.acked),
        reached_stage: total(|r| r.stats.telemetry_batches),
        admission_dropped: total(|r| r.stats.admission.dropped + r.stats.admission.unknown),
        runtime_dropped: total(|r| r.stats.runtime.dropped),
        evaluated,
        evaluated_per_s: evaluated as f64 / seconds(|r| r.evaluated),
        drain_ms: seconds(|r| r.drain) * 1000.0 / runs.len() as f64,
        probes_acked: runs.iter().map(|r| r.probes_acked).sum(),
        probes: latencies.len(),
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
    }
}

/// Runs each side twice, in the order no rules, rules, rules, no rules, so that whatever
/// drifts during the run (the machine's other load, what an earlier platform left behind)
/// weighs on both sides alike.
pub async fn run(config: PlatformBenchConfig) -> Result<PlatformBenchReport, CoreError> {
    let first_baseline = side(&config, false).await?;
    let rules = [side(&config, true).await?, side(&config, true).await?];
    let baseline = [first_baseline, side(&config, false).await?];
    Ok(PlatformBenchReport {
        baseline: merge(config.messages, &baseline),
        rules: merge(config.messages, &rules),
    })
}
