//! The rule stage with its rules against the same stage with none: the engine alone, and
//! through the platform path.

use super::table::{Row, Table};
use wanwu_core::rules::bench::{PlatformBenchConfig, PlatformSide};
use wanwu_rules::bench::{BenchConfig, SideReport};

/// Runs the rule benchmark.
pub fn run(quick: bool) -> Table {
    let mut config = BenchConfig::default();
    if quick {
        config.rules = 100;
        config.devices = 1_000;
        config.messages = 20_000;
        config.rate = 5_000;
        config.seconds = 1;
    }
    let report = wanwu_rules::bench::run(config);
    let row = |measure: &str, figure: fn(&SideReport) -> f64, higher_is_better| Row {
        measure: measure.to_string(),
        wanwu: figure(&report.rules),
        baseline: figure(&report.baseline),
        higher_is_better,
    };
    Table {
        name: "rules",
        baseline: "no rules",
        setup: format!(
            "{} rules, {} devices, {} workers; {} inputs, latency at {} inputs/s for {} s",
            config.rules,
            config.devices,
            config.workers,
            config.messages,
            config.rate,
            config.seconds
        ),
        load_shares_cores: true,
        rows: vec![
            row("throughput, inputs/s", |s| s.throughput, true),
            row("cpu per input, us", |s| s.cpu_us_per_input, false),
            row("latency p50 at rate, us", |s| s.p50_us, false),
            row("latency p99 at rate, us", |s| s.p99_us, false),
        ],
    }
}

/// Runs the rule benchmark through the platform path (ingest, fan-out, rule stage, actions).
pub fn run_platform(quick: bool) -> anyhow::Result<Table> {
    let mut config = PlatformBenchConfig::default();
    if quick {
        config.rules = 100;
        config.devices = 1_000;
        config.messages = 20_000;
        config.in_flight = 64;
        config.rate = 10_000;
    }
    let report = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(wanwu_core::rules::bench::run(config))?;
    let row = |measure: &str, figure: fn(&PlatformSide) -> f64, higher_is_better| Row {
        measure: measure.to_string(),
        wanwu: figure(&report.rules),
        baseline: figure(&report.baseline),
        higher_is_better,
    };
    Ok(Table {
        name: "rules (platform path)",
        baseline: "probe rule only",
        setup: format!(
            "{} rules, {} devices, {} telemetry payloads offered at {}/s (0: as acknowledged), {} in flight, through ingest; each side runs twice (no rules, rules, rules, no rules)",
            config.rules, config.devices, config.messages, config.rate, config.in_flight
        ),
        load_shares_cores: true,
        rows: vec![
            row("offered, payloads/s", |s| s.offered_per_s, true),
            row("acknowledged, payloads/s", |s| s.acked_per_s, true),
            row("  first run", |s| s.acked_per_s_runs[0], true),
            row("  second run", |s| s.acked_per_s_runs[1], true),
            row("evaluated, inputs/s", |s| s.evaluated_per_s, true),
            row("payloads acknowledged", |s| s.acked as f64, true),
            row("inputs evaluated", |s| s.evaluated as f64, true),
            row(
                "payloads lost before evaluation",
                |s| s.lost() as f64,
                false,
            ),
            row("drain after last ack, ms", |s| s.drain_ms, false),
            row("probe ack -> webhook p50, ms", |s| s.p50_ms, false),
            row("probe ack -> webhook p99, ms", |s| s.p99_ms, false),
            row("probes answered", |s| s.probes as f64, true),
        ],
    })
}
