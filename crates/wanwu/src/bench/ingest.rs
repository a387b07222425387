//! `wanwu bench ingest` beyond the engine-against-SQLite table ([`super::tsdb`]): the same
//! dataset through PostgreSQL (`COPY`) and VictoriaMetrics (import API), end-to-end MQTT
//! QoS 1 ingest through a real `wanwu serve`, and bytes per point on a public dataset.
//!
//! A baseline whose program is not installed is skipped with a line naming the Debian
//! package to install; the other rows still run.

mod dataset;
mod mqtt;
mod postgres;
mod server;
mod victoria;

use super::table::{Row, Table};
use anyhow::{Context, Result};
use dataset::CitySeries;
use mqtt::{MqttIngest, MqttLoad};
use std::time::Duration;
use victoria::Series;
use wanwu_tsdb::bench::{MINUTE, START, device_key, engine_bytes_per_point, ingest_values};
use wanwu_tsdb::{Options, Point, Value};

/// wanwu's engine figures on the dataset, from the SQLite table's run.
#[derive(Clone, Copy, Debug)]
pub struct EngineFigures {
    /// Series in the dataset.
    pub devices: usize,
    /// Days of 1-minute readings per series.
    pub days: usize,
    /// Acknowledged points per second.
    pub points_per_second: f64,
    /// Disk bytes per point.
    pub bytes_per_point: f64,
}

impl EngineFigures {
    /// Reads the figures from the rows of the engine-against-SQLite table.
    pub fn from_table(table: &Table, devices: usize, days: usize) -> Result<Self> {
        let figure = |prefix: &str| {
            table
                .rows
                .iter()
                .find(|r| r.measure.starts_with(prefix))
                .map(|r| r.wanwu)
                .with_context(|| format!("no {prefix:?} row in the ingest table"))
        };
        Ok(EngineFigures {
            devices,
            days,
            points_per_second: figure("ingest, points/s")?,
            bytes_per_point: figure("disk bytes per point")?,
        })
    }
}

/// Runs the baselines and the end-to-end benchmark; returns their tables.
pub fn run(quick: bool, engine: EngineFigures) -> Result<Vec<Table>> {
    let values = ingest_values(engine.devices, engine.days * 1440);
    let setup = format!(
        "{} series x {} days of 1-minute points (as against sqlite)",
        engine.devices, engine.days
    );
    let mut tables = Vec::new();
    match postgres::binaries() {
        Some(bin) => {
            let pg = postgres::ingest(&bin, &values).context("PostgreSQL baseline")?;
            tables.push(Table {
                name: "ingest",
                baseline: "postgresql",
                setup: format!("{setup}; PostgreSQL COPY per upload, default durability"),
                load_shares_cores: true,
                rows: vec![
                    rate(
                        "ingest, points/s (engine; COPY)",
                        engine.points_per_second,
                        pg.points_per_second,
                    ),
                    size(
                        "disk bytes per point",
                        engine.bytes_per_point,
                        pg.bytes_per_point,
                    ),
                ],
            });
        }
        None => skipped(postgres::PACKAGE),
    }

    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    let load = if quick {
        MqttLoad {
            devices: 8,
            window: 16,
            warmup: Duration::from_millis(500),
            duration: Duration::from_secs(2),
        }
    } else {
        MqttLoad {
            devices: 200,
            window: 64,
            warmup: Duration::from_secs(3),
            duration: Duration::from_secs(15),
        }
    };
    let e2e = runtime
        .block_on(mqtt::run(load))
        .context("end-to-end MQTT ingest")?;
    let dataset = dataset::load()?;
    if dataset.is_none() {
        println!(
            "public dataset not present: run scripts/fetch-bench-dataset (PyPI vega_datasets 0.9.0); its rows are skipped"
        );
    }
    let Some(program) = victoria::binary() else {
        skipped(victoria::PACKAGE);
        println!(
            "end-to-end MQTT QoS 1 JSON, durable points/s: {:.0} (no baseline)",
            e2e.points_per_second
        );
        return Ok(tables);
    };
    let series: Vec<Series> = values
        .iter()
        .enumerate()
        .map(|(i, readings)| Series {
            metric: "temperature".into(),
            device: device_key(i).device,
            points: readings
                .iter()
                .enumerate()
                .map(|(m, &v)| (START + m as i64 * MINUTE, v))
                .collect(),
        })
        .collect();
    let vm = runtime
        .block_on(victoria::ingest(&program, &series))
        .context("VictoriaMetrics baseline")?;
    let mut rows = vec![
        rate(
            "end-to-end over the network, points/s",
            e2e.points_per_second,
            vm.points_per_second,
        ),
        size(
            "disk bytes per point",
            engine.bytes_per_point,
            vm.bytes_per_point,
        ),
    ];
    if let Some(cities) = &dataset {
        let victoria = runtime.block_on(dataset_in_victoria(&program, cities))?;
        for (days, measure) in [
            (1, "public dataset, bytes/point (1-day partitions)"),
            (30, "public dataset, bytes/point (30-day partitions)"),
        ] {
            let wanwu = runtime.block_on(dataset_in_engine(cities, days))?;
            rows.push(size(measure, wanwu, victoria));
        }
    }
    tables.push(Table {
        name: "ingest",
        baseline: "victoria-metrics",
        setup: e2e_setup(&setup, load, &e2e),
        load_shares_cores: true,
        rows,
    });
    Ok(tables)
}

fn e2e_setup(setup: &str, load: MqttLoad, e2e: &MqttIngest) -> String {
    format!(
        "{setup}; end to end: wanwu serve, {} devices publishing MQTT QoS 1 JSON with {} values \
         per message, window {}, counted {:.0} s, server {:.1} CPU-s, generator {:.1} CPU-s; \
         VictoriaMetrics: HTTP import of JSON lines, 10 readings per series per request",
        load.devices,
        mqtt::VALUES_PER_MESSAGE,
        load.window,
        e2e.seconds,
        e2e.server_cpu,
        e2e.generator_cpu
    )
}

/// Bytes per point of the public dataset in wanwu's engine with partitions of `days` (the
/// default, one day, holds only 24 hourly points per series and partition).
async fn dataset_in_engine(cities: &[CitySeries], days: u64) -> Result<f64> {
    let engine_series: Vec<_> = cities
        .iter()
        .map(|c| {
            let key = wanwu_tsdb::SeriesKey::new("bench", c.city, "temperature");
            let points = c
                .points
                .iter()
                .map(|&(ts, v)| Point::new(ts, Value::F64(v)))
                .collect();
            (key, points)
        })
        .collect();
    let dir = tempfile::tempdir().context("creating the dataset's work directory")?;
    let options = Options {
        partition: Duration::from_secs(days * 86_400),
        ..Options::default()
    };
    engine_bytes_per_point(dir.path(), &engine_series, options)
        .await
        .context("engine on the public dataset")
}

/// Bytes per point of the public dataset in VictoriaMetrics.
async fn dataset_in_victoria(program: &std::path::Path, cities: &[CitySeries]) -> Result<f64> {
    let series: Vec<Series> = cities
        .iter()
        .map(|c| Series {
            metric: "temperature".into(),
            device: c.city.into(),
            points: c.points.clone(),
        })
        .collect();
    let vm = victoria::ingest(program, &series)
        .await
        .context("VictoriaMetrics on the public dataset")?;
    Ok(vm.bytes_per_point)
}

fn skipped(package: &str) {
    println!(
        "{package} not installed: its rows are skipped (apt-get install {package}, or scripts/install-test-deps)"
    );
}

fn rate(measure: &str, wanwu: f64, baseline: f64) -> Row {
    Row {
        measure: measure.into(),
        wanwu,
        baseline,
        higher_is_better: true,
    }
}

fn size(measure: &str, wanwu: f64, baseline: f64) -> Row {
    Row {
        measure: measure.into(),
        wanwu,
        baseline,
        higher_is_better: false,
    }
}
