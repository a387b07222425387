//! PostgreSQL as an ingest baseline: a throwaway cluster (Debian's `postgresql` package) in a
//! temporary directory, reached over its Unix socket only, the SQLite baseline's schema
//! (`points (series, ts, value)` with an index on `(series, ts)`), and the same uploads as
//! `COPY ... FROM STDIN` statements, one per upload (each its own transaction, default
//! durability: `fsync` and `synchronous_commit` on), streamed through one `psql` session.

use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use wanwu_tsdb::bench::{MINUTE, START};

/// The Debian package that provides the baseline.
pub const PACKAGE: &str = "postgresql";

/// Readings of every series per upload, as in the engine and SQLite runs.
const READINGS_PER_UPLOAD: usize = 10;

/// PostgreSQL's figures on a dataset.
#[derive(Clone, Copy, Debug)]
pub struct PostgresIngest {
    /// Points per second committed.
    pub points_per_second: f64,
    /// Table and index bytes per point.
    pub bytes_per_point: f64,
}

/// The directory of `initdb` and `pg_ctl`: the newest `/usr/lib/postgresql/N/bin`.
pub fn binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// A running throwaway cluster; stopped (immediately) when dropped.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    as_postgres: bool,
}

impl Cluster {
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `program args..`, as the `postgres` user when this process is root (PostgreSQL
    /// refuses to run as root).
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    fn start(bin: &Path) -> Result<Cluster> {
        let dir = tempfile::tempdir().context("creating the cluster directory")?;
        let as_postgres = is_root();
        if as_postgres {
            run(Command::new("chown").args(["postgres:"]).arg(dir.path()))?;
        }
        let cluster = Cluster {
            bin: bin.to_owned(),
            dir,
            as_postgres,
        };
        run(cluster
            .command("initdb")
            .args(["-A", "trust", "-U", "bench", "--no-sync", "-D"])
            .arg(cluster.data()))?;
        let options = format!(
            "-c listen_addresses='' -k {} -p 5432",
            cluster.dir.path().display()
        );
        run(cluster
            .command("pg_ctl")
            .args(["-w", "-s", "-o", &options, "-l"])
            .arg(cluster.dir.path().join("log"))
            .arg("-D")
            .arg(cluster.data())
            .arg("start"))?;
        Ok(cluster)
    }

    fn psql(&self) -> Command {
        let mut cmd = self.command("psql");
        cmd.args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-U",
            "bench",
            "-p",
            "5432",
        ])
        .args(["-d", "postgres", "-h"])
        .arg(self.dir.path());
        cmd
    }

    fn sql(&self, sql: &str) -> Result<String> {
        let out = self
            .psql()
            .args(["-A", "-t", "-c", sql])
            .output()
            .context("running psql")?;
        if !out.status.success() {
            bail!("psql {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-s", "-m", "immediate", "-D"])
            .arg(self.data())
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Loads `values` (series × 1-minute readings from [`START`]) into a fresh cluster.
pub fn ingest(bin: &Path, values: &[Vec<f64>]) -> Result<PostgresIngest> {
    let cluster = Cluster::start(bin)?;
    cluster.sql(
        "CREATE TABLE points (series integer NOT NULL, ts bigint NOT NULL, \
         value double precision NOT NULL); CREATE INDEX points_series_ts ON points (series, ts);",
    )?;
    let minutes = values.first().map_or(0, Vec::len);
    let points = values.len() * minutes;
    let started = Instant::now();
    let mut psql = cluster
        .psql()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting psql")?;
    let mut stdin = std::io::BufWriter::new(psql.stdin.take().context("psql stdin")?);
    let mut script = String::new();
    for upload in (0..minutes).step_by(READINGS_PER_UPLOAD) {
        script.clear();
        script.push_str("COPY points FROM STDIN WITH (FORMAT csv);\n");
        for (series, readings) in values.iter().enumerate() {
            let upload_readings = readings.iter().enumerate().skip(upload);
            for (m, value) in upload_readings.take(READINGS_PER_UPLOAD) {
                let ts = START + m as i64 * MINUTE;
                // Writing to a String cannot fail.
                let _ = writeln!(script, "{series},{ts},{value}");
            }
        }
        script.push_str("\\.\n");
        stdin.write_all(script.as_bytes()).context("feeding psql")?;
    }
    drop(stdin);
    let out = psql.wait_with_output().context("waiting for psql")?;
    if !out.status.success() {
        bail!("psql COPY failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let seconds = started.elapsed().as_secs_f64();
    cluster.sql("CHECKPOINT")?;
    let bytes: f64 = cluster
        .sql("SELECT pg_total_relation_size('points')")?
        .parse()
        .context("table size")?;
    Ok(PostgresIngest {
        points_per_second: points as f64 / seconds,
        bytes_per_point: bytes / points.max(1) as f64,
    })
}
