//! The rule stage with its rules against the same stage with none.

use super::table::{Row, Table};
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
