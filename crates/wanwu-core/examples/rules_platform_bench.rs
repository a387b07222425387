//! The rule benchmark through the platform path (see `wanwu_core::rules::bench`):
//! `cargo run --release -p wanwu-core --example rules_platform_bench -- [rules] [devices] [messages] [in_flight] [rate]`
//! (rate: payloads offered per second, 0 for as fast as they are acknowledged).

use wanwu_core::rules::bench::{PlatformBenchConfig, PlatformSide, run};

/// The allocator of `wanwu`, so that the figures are those of `wanwu bench rules`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn line(name: &str, side: &PlatformSide) {
    println!(
        "{name:>9}: offered {:>7.0}/s acked {:>7.0}/s (runs {:.0}, {:.0}; {} payloads) | reached stage {} | dropped: admission {} runtime {} | lost {} | evaluated {} ({:.0}/s) | drain {:.1} ms | probe ack -> webhook p50 {:.1} ms p99 {:.1} ms ({} of {} probes)",
        side.offered_per_s,
        side.acked_per_s,
        side.acked_per_s_runs[0],
        side.acked_per_s_runs[1],
        side.acked,
        side.reached_stage,
        side.admission_dropped,
        side.runtime_dropped,
        side.lost(),
        side.evaluated,
        side.evaluated_per_s,
        side.drain_ms,
        side.p50_ms,
        side.p99_ms,
        side.probes,
        side.probes_acked
    );
}

#[tokio::main]
async fn main() {
    let defaults = PlatformBenchConfig::default();
    let config = PlatformBenchConfig {
        rules: arg(1, defaults.rules),
        devices: arg(2, defaults.devices),
        messages: arg(3, defaults.messages),
        in_flight: arg(4, defaults.in_flight),
        rate: arg(5, defaults.rate),
    };
    println!("{config:?}");
    let report = run(config).await.expect("benchmark");
    let (base, rules) = (&report.baseline, &report.rules);
    line("no rules", base);
    line("rules", rules);
    println!(
        "acked/s ratio (rules / no rules): {:.3} ({:.1} % lost); evaluated/s ratio: {:.3}; added latency p50 {:+.1} ms p99 {:+.1} ms",
        rules.acked_per_s / base.acked_per_s,
        (1.0 - rules.acked_per_s / base.acked_per_s) * 100.0,
        rules.evaluated_per_s / base.evaluated_per_s,
        rules.p50_ms - base.p50_ms,
        rules.p99_ms - base.p99_ms
    );
}
