//! `wanwu bench`: every benchmark behind one entry point.
//!
//! Each benchmark runs wanwu and its baseline in the same process and prints one
//! [`table::Table`] with the ratio of every figure against the baseline, headed by the
//! machine's facts. `--quick` runs small sizes: a smoke run that proves each benchmark
//! completes and reports numbers, not figures to publish.

mod children;
mod commands;
mod ingest;
mod machine;
mod mqtt;
mod registry;
mod rules;
mod table;
mod tsdb;
mod ws;
mod ws_twin;

use clap::{Args, ValueEnum};
use table::Table;

/// Flags of `wanwu bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Which benchmark to run.
    #[arg(value_enum)]
    which: Which,
    /// Small sizes: seconds instead of minutes (a smoke run, not figures to publish).
    #[arg(long)]
    quick: bool,
}

/// The benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Which {
    /// Time-series ingest and disk use against SQLite, PostgreSQL and VictoriaMetrics;
    /// end-to-end MQTT ingest through `wanwu serve`.
    Ingest,
    /// Only the end-to-end MQTT ingest through `wanwu serve`, against the broker alone.
    IngestMqtt,
    /// Time-series queries against SQLite.
    Query,
    /// The rule stage with 1,000 rules against no rules.
    Rules,
    /// Command round trips (HTTP -> device -> reply -> HTTP) with 1,000 devices connected
    /// against request/response through mosquitto.
    Commands,
    /// Device creation in batches against one transaction per device; device
    /// authentication from the cache against a store lookup.
    Registry,
    /// The MQTT broker of `wanwu serve` against mosquitto.
    Mqtt,
    /// Live telemetry to 100 WebSocket subscribers against 100 MQTT subscribers of
    /// mosquitto; twin updates per second against retained messages in mosquitto.
    Ws,
    /// Every benchmark above, one after the other.
    All,
}

/// Runs the chosen benchmarks and prints their tables.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let machine = machine::Machine::probe();
    let wants = |w: Which| args.which == w || args.which == Which::All;
    let mut tables: Vec<Table> = Vec::new();
    if wants(Which::Ingest) || wants(Which::Query) {
        let (engine_table, query) = tsdb::run(args.quick)?;
        if wants(Which::Ingest) {
            let (devices, days) = tsdb::dataset_size(args.quick);
            let engine = ingest::EngineFigures::from_table(&engine_table, devices, days)?;
            tables.push(engine_table);
            tables.extend(ingest::run(args.quick, engine)?);
        }
        if wants(Which::Query) {
            tables.push(query);
        }
    }
    if args.which == Which::IngestMqtt {
        tables.push(ingest::run_e2e(args.quick)?);
    }
    if wants(Which::Rules) {
        tables.push(rules::run(args.quick));
        tables.push(rules::run_platform(args.quick)?);
    }
    if wants(Which::Commands) {
        tables.push(commands::run(args.quick)?);
    }
    if wants(Which::Registry) {
        tables.push(registry::run(args.quick)?);
    }
    if wants(Which::Mqtt) {
        tables.push(mqtt::run(args.quick)?);
    }
    if wants(Which::Ws) {
        tables.extend(ws::run(args.quick)?);
    }
    for table in &tables {
        print!("{}", table.render(&machine));
    }
    Ok(())
}
