//! The rule benchmark through the platform path: telemetry acknowledged by the ingest
//! pipeline (validated, durable in the time-series log), handed to the rule stage by the
//! ingest fan-out, evaluated by the runtime, acted on. The same platform set-up runs twice in
//! one run: with only a probe rule ("no rules"), and with the probe rule and `rules` more.
//!
//! Measures of each side:
//! - ingest throughput: `senders` tasks each sending their share of `messages` payloads
//!   (three values, server time) and waiting for each acknowledgement;
//! - rule stage: inputs evaluated and dropped (queues full), and how long after the last
//!   acknowledgement the stage had evaluated every input (or stopped moving: inputs the
//!   fan-out dropped before the stage never come);
//! - latency: one payload in 100 goes to a probe device whose probe rule raises an alarm;
//!   the time from the payload's acknowledgement timestamp to the alarm notice on the bus
//!   (evaluation, then the alarm stored in the metadata store).
//!
//! The rule set mimics a city: 70 % of the rules watch 10 named devices each with a
//! threshold, 20 % a product, 10 % a district tag; their action is an MQTT publish (with no
//! broker attached here it fails at once, and is counted as a failed action).

use crate::auth::ApiPrincipal;
use crate::bus::NoticeKind;
use crate::clock::now_ms;
use crate::error::CoreError;
use crate::scope::Scope;
use crate::{DevicePrincipal, Platform, TelemetryOptions};
use serde_json::json;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wanwu_model::entity::Role;

const PRODUCTS: usize = 100;
const DISTRICTS: usize = 20;
const PROBE: &str = "probe";

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct PlatformBenchConfig {
    /// Rules besides the probe rule.
    pub rules: usize,
    /// Devices sending telemetry.
    pub devices: usize,
    /// Telemetry payloads sent.
    pub messages: usize,
    /// Concurrent senders.
    pub senders: usize,
}

impl Default for PlatformBenchConfig {
    fn default() -> Self {
        PlatformBenchConfig {
            rules: 1000,
            devices: 10_000,
            messages: 200_000,
            senders: 64,
        }
    }
}

/// The figures of one side.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlatformSide {
    /// Payloads acknowledged per second.
    pub ingest_per_s: f64,
    /// Inputs the rule stage evaluated.
    pub evaluated: u64,
    /// Inputs the rule stage dropped (its queues were full).
    pub dropped: u64,
    /// Time from the last acknowledgement until the stage had evaluated all it took, ms.
    pub drain_ms: f64,
    /// Median time from a probe's acknowledgement to its alarm notice, ms.
    pub p50_ms: f64,
    /// 99th percentile of the same, ms.
    pub p99_ms: f64,
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
        0..7 => "msg.values.pm25 > 240.0",
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
    let probe = json!({"id": "probe", "trigger": {"type": "message", "devices": {"ids": [PROBE]}},
        "actions": [{"type": "raise_alarm", "alarm": "probe", "severity": "info"}]});
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

async fn side(config: &PlatformBenchConfig, with_rules: bool) -> Result<PlatformSide, CoreError> {
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "wanwu-rules-bench-{}-{}",
        std::process::id(),
        with_rules
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let platform = Platform::open_with(&dir, TelemetryOptions::default()).await?;
    platform.bootstrap(None).await?;
    provision(&platform, config, with_rules).await?;
    let mut notices = platform.bus.subscribe("bench", 1 << 16);
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let collected = latencies.clone();
    let collector = tokio::spawn(async move {
        while let Some(notice) = notices.recv().await {
            if notice.kind == NoticeKind::Alarm && notice.device == PROBE {
                let latency = (now_ms() - notice.ts) as f64;
                collected
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(latency);
            }
        }
    });
    let started = Instant::now();
    let mut tasks = Vec::new();
    for sender in 0..config.senders {
        let platform = platform.clone();
        let (messages, devices, senders) = (config.messages, config.devices, config.senders);
        tasks.push(tokio::spawn(async move {
            let mut n = sender;
            while n < messages {
                let device = if n % 100 == 0 {
                    PROBE.to_owned()
                } else {
                    device_id(n % devices)
                };
                let principal = DevicePrincipal {
                    tenant: crate::DEFAULT_TENANT.into(),
                    product: if device == PROBE {
                        "p0".into()
                    } else {
                        format!("p{}", n % devices % PRODUCTS)
                    },
                    device,
                };
                let x = (n.wrapping_mul(2_654_435_761) % 1000) as f64 / 4.0;
                let payload = json!({"pm25": x, "pm10": 250.0 - x, "temperature": x / 6.25});
                let _ = platform
                    .ingest
                    .ingest(&principal, payload.to_string().as_bytes())
                    .await;
                n += senders;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let sent = started.elapsed();
    let acked = Instant::now();
    // Every payload becomes one input: wait until the stage has taken and evaluated them
    // all, or until nothing moved for 2 s (the rest was dropped before the stage).
    let (mut stats, mut moved, mut last) = (Default::default(), acked, 0);
    while moved.elapsed() < Duration::from_secs(2) {
        stats = platform.rules.runtime_stats().unwrap_or_default();
        if stats.processed != last {
            (last, moved) = (stats.processed, Instant::now());
        }
        if stats.processed + stats.dropped >= config.messages as u64 {
            moved = Instant::now();
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stats: wanwu_rules::RuntimeStats = stats;
    let drain_ms = moved.duration_since(acked).as_secs_f64() * 1000.0;
    tokio::time::sleep(Duration::from_millis(500)).await;
    platform.shutdown().await;
    drop(platform);
    collector.abort();
    let mut latencies = std::mem::take(&mut *latencies.lock().unwrap_or_else(|p| p.into_inner()));
    latencies.sort_by(f64::total_cmp);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(PlatformSide {
        ingest_per_s: config.messages as f64 / sent.as_secs_f64(),
        evaluated: stats.processed,
        dropped: stats.dropped,
        drain_ms,
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
    })
}

/// Runs both sides, the baseline first.
pub async fn run(config: PlatformBenchConfig) -> Result<PlatformBenchReport, CoreError> {
    Ok(PlatformBenchReport {
        baseline: side(&config, false).await?,
        rules: side(&config, true).await?,
    })
}
