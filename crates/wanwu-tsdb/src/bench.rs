//! The engine benchmark, with SQLite as the baseline in the same run.
//!
//! Datasets are synthetic but shaped like sensor data: a temperature per device with a daily
//! cycle, a slow drift and noise, rounded to 0.1 °C, one reading per minute.
//!
//! - ingest and disk bytes: `devices` series × `days` of 1-minute readings, written in batches
//!   of 10 readings of every device (a gateway's upload); also the data for query (c);
//! - query (a): one series, 1 year of 1-minute data, to daily averages in Asia/Shanghai;
//! - query (b): the latest values of 10,000 series;
//! - query (c): hourly averages across all `devices` series over the last week.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::{Agg, Batch, Engine, Interval, Options, SeriesKey, StorageBreakdown, Value, time_zone};

/// What went wrong while benchmarking.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The engine failed.
    #[error("engine: {0}")]
    Engine(#[from] crate::Error),
    /// The SQLite baseline failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] sqlx::Error),
    /// Setting up the work directory failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Benchmark size and place.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Work directory (emptied parts are created below it).
    pub dir: PathBuf,
    /// Series in the ingest dataset (default 1,000).
    pub devices: usize,
    /// Days of 1-minute data per series in the ingest dataset (default 7).
    pub days: usize,
    /// Times each query runs; the median is reported (default 15).
    pub query_runs: usize,
}

impl BenchOptions {
    /// Defaults matching the published figures, in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            devices: 1_000,
            days: 7,
            query_runs: 15,
        }
    }
}

/// One measurement of wanwu and of the baseline.
#[derive(Clone, Debug)]
pub struct Pair {
    /// What was measured, with its unit.
    pub name: &'static str,
    /// wanwu's figure.
    pub wanwu: f64,
    /// SQLite's figure.
    pub sqlite: f64,
    /// True when more is better (rates), false when less is better (bytes, latency).
    pub higher_is_better: bool,
}

impl Pair {
    /// How many times better wanwu is than the baseline.
    pub fn advantage(&self) -> f64 {
        if self.higher_is_better {
            self.wanwu / self.sqlite
        } else {
            self.sqlite / self.wanwu
        }
    }
}

/// Everything measured.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Points in the ingest dataset.
    pub ingest_points: u64,
    /// Measurements, each with its baseline.
    pub pairs: Vec<Pair>,
    /// Extra wanwu-only figures (name, value).
    pub notes: Vec<(String, f64)>,
    /// Where wanwu's disk bytes of the ingest dataset go.
    pub storage: StorageBreakdown,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "ingest dataset: {} points", self.ingest_points)?;
        writeln!(
            f,
            "{:<52} {:>14} {:>14} {:>10}",
            "measure", "wanwu", "sqlite", "advantage"
        )?;
        for p in &self.pairs {
            writeln!(
                f,
                "{:<52} {:>14.3} {:>14.3} {:>9.1}x",
                p.name,
                p.wanwu,
                p.sqlite,
                p.advantage()
            )?;
        }
        for (name, value) in &self.notes {
            writeln!(f, "{name:<52} {value:>14.3}")?;
        }
        write!(
            f,
            "wanwu's disk bytes of the ingest dataset: {}",
            self.storage
        )
    }
}

/// Step of the datasets: one reading per minute.
pub const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;
/// First timestamp of the datasets: 2026-01-01T00:00:00Z.
pub const START: i64 = 1_767_225_600_000;

/// A smooth noisy temperature signal, rounded to 0.1.
struct Sensor {
    rng: StdRng,
    base: f64,
    drift: f64,
    phase: f64,
}

impl Sensor {
    fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let base = 15.0 + rng.random::<f64>() * 10.0;
        let phase = rng.random::<f64>() * 0.5;
        Self {
            rng,
            base,
            drift: 0.0,
            phase,
        }
    }

    fn reading(&mut self, ts: i64) -> f64 {
        let day_fraction = (ts.rem_euclid(DAY)) as f64 / DAY as f64;
        self.drift = (self.drift + (self.rng.random::<f64>() - 0.5) * 0.02).clamp(-2.0, 2.0);
        let noise: f64 = (0..3).map(|_| self.rng.random::<f64>() - 0.5).sum::<f64>() * 0.2;
        let v = self.base
            + 5.0 * (std::f64::consts::TAU * (day_fraction + self.phase)).sin()
            + self.drift
            + noise;
        (v * 10.0).round() / 10.0
    }
}

/// The key of series `i` of the datasets (tenant `bench`, device `dev-NNNNN`, key
/// `temperature`).
pub fn device_key(i: usize) -> SeriesKey {
    SeriesKey::new("bench", format!("dev-{i:05}"), "temperature")
}

/// The ingest dataset as (per series) values; timestamps are [`START`] + minute index.
/// Baselines outside this module (PostgreSQL, VictoriaMetrics) load the same data.
pub fn ingest_values(devices: usize, minutes: usize) -> Vec<Vec<f64>> {
    (0..devices)
        .map(|d| {
            let mut s = Sensor::new(d as u64);
            (0..minutes)
                .map(|m| s.reading(START + m as i64 * MINUTE))
                .collect()
        })
        .collect()
}

async fn fresh_dir(root: &Path, name: &str) -> Result<PathBuf, BenchError> {
    let dir = root.join(name);
    if tokio::fs::try_exists(&dir).await? {
        tokio::fs::remove_dir_all(&dir).await?;
    }
    tokio::fs::create_dir_all(&dir).await?;
    Ok(dir)
}

/// Bytes of the files under `dir`, recursively.
pub fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// CPU time (user + system) of this process's thread named `name`, from `/proc` (Linux).
fn thread_cpu_seconds(name: &str) -> Option<f64> {
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        if std::fs::read_to_string(task.path().join("comm"))
            .ok()?
            .trim()
            == name
        {
            return cpu_seconds(&task.path().join("stat"));
        }
    }
    None
}

/// User + system CPU seconds in a `/proc/.../stat` file (clock ticks of 10 ms).
pub fn cpu_seconds(stat: &Path) -> Option<f64> {
    let stat = std::fs::read_to_string(stat).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e3
}

async fn time_runs<F, Fut>(runs: usize, mut f: F) -> Result<f64, BenchError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), BenchError>>,
{
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        f().await?;
        samples.push(t.elapsed());
    }
    Ok(median(samples))
}

const POINTS_PER_UPLOAD: usize = 10;

/// Writes the dataset in uploads of 10 readings of every device; a few uploads in flight.
async fn engine_ingest(
    engine: &Engine,
    values: &[Vec<f64>],
    keys: &[SeriesKey],
) -> Result<(), BenchError> {
    let minutes = values[0].len();
    let mut in_flight = tokio::task::JoinSet::new();
    for chunk_start in (0..minutes).step_by(POINTS_PER_UPLOAD) {
        let end = (chunk_start + POINTS_PER_UPLOAD).min(minutes);
        let mut batch = Batch::new();
        for (key, series) in keys.iter().zip(values) {
            let points = (chunk_start..end)
                .map(|m| crate::Point::new(START + m as i64 * MINUTE, Value::F64(series[m])))
                .collect();
            batch.extend(key.clone(), points);
        }
        if in_flight.len() >= 4
            && let Some(done) = in_flight.join_next().await
        {
            done.map_err(|_| crate::Error::Closed)??;
        }
        let engine = engine.clone();
        in_flight.spawn(async move { engine.write(batch).await });
    }
    while let Some(done) = in_flight.join_next().await {
        done.map_err(|_| crate::Error::Closed)??;
    }
    Ok(())
}

async fn sqlite_open(dir: &Path) -> Result<SqlitePool, BenchError> {
    let opts = SqliteConnectOptions::new()
        .filename(dir.join("bench.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await?;
    sqlx::query(
        "CREATE TABLE points (series INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL)",
    )
    .execute(&pool)
    .await?;
    sqlx::query("CREATE INDEX points_series_ts ON points (series, ts)")
        .execute(&pool)
        .await?;
    Ok(pool)
}

const SQLITE_ROWS_PER_INSERT: usize = 1_000;

/// The same uploads as SQLite transactions of multi-row inserts.
async fn sqlite_ingest(
    pool: &SqlitePool,
    values: &[Vec<f64>],
    series_offset: usize,
) -> Result<(), BenchError> {
    let insert = |rows: usize| {
        format!(
            "INSERT INTO points (series, ts, value) VALUES {}",
            vec!["(?, ?, ?)"; rows].join(",")
        )
    };
    let full_insert = insert(SQLITE_ROWS_PER_INSERT);
    let minutes = values[0].len();
    for chunk_start in (0..minutes).step_by(POINTS_PER_UPLOAD) {
        let end = (chunk_start + POINTS_PER_UPLOAD).min(minutes);
        let rows: Vec<(i64, i64, f64)> = values
            .iter()
            .enumerate()
            .flat_map(|(s, series)| {
                (chunk_start..end).map(move |m| {
                    (
                        (s + series_offset) as i64,
                        START + m as i64 * MINUTE,
                        series[m],
                    )
                })
            })
            .collect();
        let mut tx = pool.begin().await?;
        for chunk in rows.chunks(SQLITE_ROWS_PER_INSERT) {
            let sql = if chunk.len() == SQLITE_ROWS_PER_INSERT {
                full_insert.clone()
            } else {
                insert(chunk.len())
            };
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for &(s, ts, v) in chunk {
                q = q.bind(s).bind(ts).bind(v);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Where the disk bytes of `series` (each a key and its points) go, written to a fresh engine
/// in `dir` with `options`, after compaction: segments, log and catalog. Bytes per point are
/// `total() / points`.
pub async fn engine_storage(
    dir: &Path,
    series: &[(SeriesKey, Vec<crate::Point>)],
    options: Options,
) -> Result<StorageBreakdown, BenchError> {
    let engine = Engine::open(fresh_dir(dir, "wanwu-dataset").await?, options).await?;
    let mut points = 0;
    for (key, data) in series {
        for chunk in data.chunks(1000) {
            let mut batch = Batch::new();
            batch.extend(key.clone(), chunk.to_vec());
            engine.write(batch).await?;
        }
        points += data.len();
    }
    engine.compact().await?;
    let breakdown = engine.storage_breakdown()?;
    engine.close().await?;
    debug_assert_eq!(breakdown.points, points as u64);
    Ok(breakdown)
}

/// Runs every benchmark; prints nothing (see [`Report`]'s `Display`).
pub async fn run(opts: &BenchOptions) -> Result<Report, BenchError> {
    let mut report = Report::default();
    let minutes = opts.days * 1440;
    let values = ingest_values(opts.devices, minutes);
    let keys: Vec<SeriesKey> = (0..opts.devices).map(device_key).collect();
    let points = (opts.devices * minutes) as u64;
    report.ingest_points = points;

    // Ingest and bytes per point.
    let engine_dir = fresh_dir(&opts.dir, "wanwu-ingest").await?;
    let engine = Engine::open(&engine_dir, Options::default()).await?;
    let t = Instant::now();
    let process = Path::new("/proc/self/stat");
    let cpu_before = (thread_cpu_seconds("tsdb-wal"), cpu_seconds(process));
    engine_ingest(&engine, &values, &keys).await?;
    let ingest_s = t.elapsed().as_secs_f64();
    let cpu_after = (thread_cpu_seconds("tsdb-wal"), cpu_seconds(process));
    let per_cpu = |before: Option<f64>, after: Option<f64>| {
        Some(points as f64 / (after? - before?).max(0.01))
    };
    if let Some(rate) = per_cpu(cpu_before.1, cpu_after.1) {
        report.notes.push((
            "wanwu ingest per CPU-second, whole process, points/s".into(),
            rate,
        ));
    }
    if let Some(rate) = per_cpu(cpu_before.0, cpu_after.0) {
        report.notes.push((
            "wanwu ingest per CPU-second of the log writer, points/s".into(),
            rate,
        ));
    }
    engine.compact().await?;
    let with_flush_s = t.elapsed().as_secs_f64();
    report.storage = engine.storage_breakdown()?;
    let engine_bytes = report.storage.total();

    let sqlite_dir = fresh_dir(&opts.dir, "sqlite-ingest").await?;
    let pool = sqlite_open(&sqlite_dir).await?;
    let t = Instant::now();
    let sqlite_cpu_before = cpu_seconds(process);
    sqlite_ingest(&pool, &values, 0).await?;
    let sqlite_s = t.elapsed().as_secs_f64();
    if let (Some(wanwu), Some(sqlite)) = (
        per_cpu(cpu_before.1, cpu_after.1),
        per_cpu(sqlite_cpu_before, cpu_seconds(process)),
    ) {
        report.pairs.push(Pair {
            name: "ingest, points per CPU-second (whole process)",
            wanwu,
            sqlite,
            higher_is_better: true,
        });
    }
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await?;
    let sqlite_bytes = dir_bytes(&sqlite_dir);
    report.pairs.push(Pair {
        name: "ingest, points/s (acknowledged, in the log)",
        wanwu: points as f64 / ingest_s,
        sqlite: points as f64 / sqlite_s,
        higher_is_better: true,
    });
    report.notes.push((
        "wanwu ingest incl. flush + compaction, points/s".into(),
        points as f64 / with_flush_s,
    ));
    report.pairs.push(Pair {
        name: "disk bytes per point",
        wanwu: engine_bytes as f64 / points as f64,
        sqlite: sqlite_bytes as f64 / points as f64,
        higher_is_better: false,
    });

    // Query (c): hourly averages across all devices over the week.
    let tz = time_zone("Asia/Shanghai")?;
    let (from, to) = (START, START + minutes as i64 * MINUTE - 1);
    let wanwu_c = time_runs(opts.query_runs, || async {
        let buckets = engine.query_agg_many(&keys, from, to, Interval::Hours(1), Agg::Avg, &tz)?;
        assert_eq!(buckets.len(), opts.days * 24);
        Ok(())
    })
    .await?;
    let sqlite_c = time_runs(opts.query_runs.min(5), || async {
        let rows: Vec<(i64, f64)> = sqlx::query_as("SELECT ts / 3600000 AS h, avg(value) FROM points WHERE ts BETWEEN ? AND ? GROUP BY h ORDER BY h")
            .bind(from)
            .bind(to)
            .fetch_all(&pool)
            .await?;
        assert_eq!(rows.len(), opts.days * 24);
        Ok(())
    })
    .await?;
    report.pairs.push(Pair {
        name: "(c) hourly avg across all series, 1 week, ms",
        wanwu: wanwu_c,
        sqlite: sqlite_c,
        higher_is_better: false,
    });
    engine.close().await?;
    pool.close().await;

    // Query (a): one series, one year of 1-minute data, daily averages.
    let year = 365 * 1440;
    let one = ingest_values(1, year);
    let key = vec![device_key(0)];
    let engine = Engine::open(
        fresh_dir(&opts.dir, "wanwu-year").await?,
        Options::default(),
    )
    .await?;
    engine_ingest(&engine, &one, &key).await?;
    engine.compact().await?;
    let pool = sqlite_open(&fresh_dir(&opts.dir, "sqlite-year").await?).await?;
    sqlite_ingest(&pool, &one, 0).await?;
    let (from, to) = (START, START + year as i64 * MINUTE - 1);
    for (name, zone) in [
        ("(a) 1 year of 1-min data to daily avg (UTC), ms", "UTC"),
        (
            "(a) 1 year of 1-min data to daily avg (Asia/Shanghai), ms",
            "Asia/Shanghai",
        ),
    ] {
        let tz = time_zone(zone)?;
        let offset_ms = i64::from(
            tz.to_offset(jiff::Timestamp::from_millisecond(START).expect("valid"))
                .seconds(),
        ) * 1000;
        let wanwu = time_runs(opts.query_runs, || async {
            let days = engine.query_agg(&key[0], from, to, Interval::Days(1), Agg::Avg, &tz)?;
            assert!(days.len() >= 365);
            Ok(())
        })
        .await?;
        let sqlite = time_runs(opts.query_runs.min(5), || async {
            let rows: Vec<(i64, f64)> = sqlx::query_as("SELECT (ts + ?) / 86400000 AS d, avg(value) FROM points WHERE series = 0 AND ts BETWEEN ? AND ? GROUP BY d")
                .bind(offset_ms)
                .bind(from)
                .bind(to)
                .fetch_all(&pool)
                .await?;
            assert!(rows.len() >= 365);
            Ok(())
        })
        .await?;
        report.pairs.push(Pair {
            name,
            wanwu,
            sqlite,
            higher_is_better: false,
        });
    }
    engine.close().await?;
    pool.close().await;

    // Query (b): latest values of 10,000 series.
    let many = 10_000;
    let recent = ingest_values(many, 10);
    let keys: Vec<SeriesKey> = (0..many).map(device_key).collect();
    let engine_dir = fresh_dir(&opts.dir, "wanwu-latest").await?;
    let engine = Engine::open(&engine_dir, Options::default()).await?;
    engine_ingest(&engine, &recent, &keys).await?;
    let pool = sqlite_open(&fresh_dir(&opts.dir, "sqlite-latest").await?).await?;
    sqlite_ingest(&pool, &recent, 0).await?;
    let wanwu_b = time_runs(opts.query_runs, || async {
        let latest = engine.latest_many(&keys)?;
        assert!(latest.iter().all(Option::is_some));
        Ok(())
    })
    .await?;
    let sqlite_b = time_runs(opts.query_runs.min(5), || async {
        let rows: Vec<(i64, i64, f64)> =
            sqlx::query_as("SELECT series, max(ts), value FROM points GROUP BY series")
                .fetch_all(&pool)
                .await?;
        assert_eq!(rows.len(), many);
        Ok(())
    })
    .await?;
    report.pairs.push(Pair {
        name: "(b) latest values of 10,000 series, ms",
        wanwu: wanwu_b,
        sqlite: sqlite_b,
        higher_is_better: false,
    });
    // After a restart the newest points come from block summaries, not from memory.
    engine.close().await?;
    let engine = Engine::open(&engine_dir, Options::default()).await?;
    let t = Instant::now();
    let latest = engine.latest_many(&keys)?;
    assert!(latest.iter().all(Option::is_some));
    report.notes.push((
        "(b) after restart, first call (from disk), ms".into(),
        t.elapsed().as_secs_f64() * 1e3,
    ));
    engine.close().await?;
    pool.close().await;
    Ok(report)
}
