//! The rule benchmark through the platform path (see `wanwu_core::rules::bench`):
//! `cargo run --release -p wanwu-core --example rules_platform_bench -- [rules] [devices] [messages] [senders]`.

use wanwu_core::rules::bench::{PlatformBenchConfig, PlatformSide, run};

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn line(name: &str, side: &PlatformSide) {
    println!(
        "{name:>10}: ingest {:>9.0} msg/s | evaluated {:>8} dropped {:>8} | drain {:>8.1} ms | probe latency p50 {:>7.1} ms p99 {:>7.1} ms",
        side.ingest_per_s, side.evaluated, side.dropped, side.drain_ms, side.p50_ms, side.p99_ms
    );
}

#[tokio::main]
async fn main() {
    let defaults = PlatformBenchConfig::default();
    let config = PlatformBenchConfig {
        rules: arg(1, defaults.rules),
        devices: arg(2, defaults.devices),
        messages: arg(3, defaults.messages),
        senders: arg(4, defaults.senders),
    };
    println!("{config:?}");
    let report = run(config).await.expect("benchmark");
    line("no rules", &report.baseline);
    line("rules", &report.rules);
    println!(
        "ingest throughput ratio (rules / no rules): {:.3}",
        report.rules.ingest_per_s / report.baseline.ingest_per_s
    );
}
