//! Time-series engine against SQLite: ingest and disk use, then queries.

use super::table::{Row, Table};
use anyhow::Context;
use wanwu_tsdb::bench::{BenchOptions, Report};

/// Runs the engine benchmark once; returns its ingest table and its query table.
pub fn run(quick: bool) -> anyhow::Result<(Table, Table)> {
    let dir = tempfile::tempdir().context("creating the benchmark's work directory")?;
    let mut options = BenchOptions::new(dir.path());
    (options.devices, options.days) = dataset_size(quick);
    if quick {
        options.query_runs = 3;
    }
    let setup = format!(
        "{} series x {} days of 1-minute points, median of {} query runs",
        options.devices, options.days, options.query_runs
    );
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    let report = runtime
        .block_on(wanwu_tsdb::bench::run(&options))
        .context("running the time-series benchmark")?;
    println!(
        "wanwu's disk bytes of the ingest dataset: {}",
        report.storage
    );
    let (ingest, query) = split(&report);
    let table = |name, rows| Table {
        name,
        baseline: "sqlite",
        setup: setup.clone(),
        load_shares_cores: true,
        rows,
    };
    Ok((table("ingest", ingest), table("query", query)))
}

/// Series and days of the ingest dataset: 1,000 x 7, or 20 x 1 with `--quick`.
pub fn dataset_size(quick: bool) -> (usize, usize) {
    if quick { (20, 1) } else { (1_000, 7) }
}

/// Ingest and disk measures on one side, queries on the other.
fn split(report: &Report) -> (Vec<Row>, Vec<Row>) {
    report
        .pairs
        .iter()
        .map(|p| Row {
            measure: p.name.to_string(),
            wanwu: p.wanwu,
            baseline: p.sqlite,
            higher_is_better: p.higher_is_better,
        })
        .partition(|row| row.measure.starts_with("ingest") || row.measure.starts_with("disk"))
}
