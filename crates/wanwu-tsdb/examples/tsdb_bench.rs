//! Runs the engine benchmark against its SQLite baseline and prints the figures.
//!
//! `cargo run --release -p wanwu-tsdb --features bench --example tsdb_bench -- [DIR] [DEVICES] [DAYS]`

use wanwu_tsdb::bench::{BenchOptions, run};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("wanwu-tsdb-bench"));
    let mut opts = BenchOptions::new(&dir);
    if let Some(devices) = args.next() {
        opts.devices = devices.parse()?;
    }
    if let Some(days) = args.next() {
        opts.days = days.parse()?;
    }
    let report = run(&opts).await?;
    print!("{report}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
