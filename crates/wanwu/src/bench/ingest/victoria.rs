//! VictoriaMetrics as an ingest baseline: Debian's `victoria-metrics` binary on a free port
//! with a temporary data directory, fed through its import API (`POST /api/v1/import`, JSON
//! lines) over HTTP from this process, the same uploads as the engine run (10 readings of
//! every series per request, 4 requests in flight). The import API answers before the rows
//! are on disk (VictoriaMetrics keeps recent rows in memory for seconds), so disk bytes are
//! measured after a graceful stop, which writes them out; its caches are not counted.

use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Debian package that provides the baseline.
pub const PACKAGE: &str = "victoria-metrics";

/// Readings of every series per upload, as in the engine run.
const READINGS_PER_UPLOAD: usize = 10;
/// Import requests in flight.
const IN_FLIGHT: usize = 4;

/// One series to import: its labels' values and its points.
pub struct Series {
    /// Metric name.
    pub metric: String,
    /// Value of the `device` label.
    pub device: String,
    /// Timestamps (ms) and values.
    pub points: Vec<(i64, f64)>,
}

/// VictoriaMetrics' figures on a dataset.
#[derive(Clone, Copy, Debug)]
pub struct VictoriaIngest {
    /// Points per second acknowledged by the import API.
    pub points_per_second: f64,
    /// Points per CPU-second of the VictoriaMetrics process during the import (HTTP parsing
    /// and storage; the load generator is not counted).
    pub points_per_cpu_second: f64,
    /// Bytes of the data directory per point after a forced flush.
    pub bytes_per_point: f64,
}

/// The `victoria-metrics` program on `PATH`, if installed.
pub fn binary() -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(PACKAGE))
        .find(|path| path.is_file())
}

/// A running VictoriaMetrics; killed when dropped.
struct Victoria {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    client: reqwest::Client,
}

impl Victoria {
    async fn start(program: &Path) -> Result<Victoria> {
        let dir = tempfile::tempdir().context("creating the VictoriaMetrics directory")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("picking a free port")?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let child = Command::new(program)
            .arg(format!(
                "-storageDataPath={}",
                dir.path().join("data").display()
            ))
            .arg(format!("-httpListenAddr={addr}"))
            .args(["-retentionPeriod=100y", "-loggerLevel=ERROR"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let victoria = Victoria {
            child,
            addr,
            dir,
            client: crate::bench::children::http_client(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(reply) = victoria.client.get(victoria.url("/health")).send().await
                && reply.status().is_success()
            {
                return Ok(victoria);
            }
            if Instant::now() > deadline {
                bail!("VictoriaMetrics did not answer /health within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops VictoriaMetrics with SIGTERM and waits for it: it writes the rows it still
    /// holds in memory to disk first.
    fn stop(&mut self) -> Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -TERM VictoriaMetrics failed: {status}");
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while self
            .child
            .try_wait()
            .context("waiting for VictoriaMetrics")?
            .is_none()
        {
            if Instant::now() > deadline {
                bail!("VictoriaMetrics did not stop within 60 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Bytes of the stored data: everything under the data path but the caches, which are
    /// written at shutdown and rebuilt from the data.
    fn data_bytes(&self) -> u64 {
        let data = self.dir.path().join("data");
        wanwu_tsdb::bench::dir_bytes(&data) - wanwu_tsdb::bench::dir_bytes(&data.join("cache"))
    }

    async fn import(&self, body: String) -> Result<()> {
        let reply = self
            .client
            .post(self.url("/api/v1/import"))
            .body(body)
            .send()
            .await
            .context("POST /api/v1/import")?;
        if !reply.status().is_success() {
            bail!("VictoriaMetrics import: {}", reply.status());
        }
        Ok(())
    }
}

impl Drop for Victoria {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One import request: `READINGS_PER_UPLOAD` readings from `upload` of every series, as JSON
/// lines.
fn upload_body(series: &[Series], upload: usize) -> String {
    let mut body = String::new();
    for s in series {
        let end = (upload + READINGS_PER_UPLOAD).min(s.points.len());
        let Some(points) = s.points.get(upload..end).filter(|p| !p.is_empty()) else {
            continue;
        };
        // Writing to a String cannot fail.
        let _ = write!(
            body,
            "{{\"metric\":{{\"__name__\":\"{}\",\"device\":\"{}\"}},\"values\":[",
            s.metric, s.device
        );
        for (i, (_, v)) in points.iter().enumerate() {
            let _ = write!(body, "{}{v}", if i == 0 { "" } else { "," });
        }
        body.push_str("],\"timestamps\":[");
        for (i, (ts, _)) in points.iter().enumerate() {
            let _ = write!(body, "{}{ts}", if i == 0 { "" } else { "," });
        }
        body.push_str("]}\n");
    }
    body
}

/// Imports `series` into a fresh VictoriaMetrics.
pub async fn ingest(program: &Path, series: &[Series]) -> Result<VictoriaIngest> {
    let mut victoria = Victoria::start(program).await?;
    let longest = series.iter().map(|s| s.points.len()).max().unwrap_or(0);
    let points: usize = series.iter().map(|s| s.points.len()).sum();
    let stat = PathBuf::from(format!("/proc/{}/stat", victoria.child.id()));
    let cpu_before = wanwu_tsdb::bench::cpu_seconds(&stat).unwrap_or(0.0);
    let started = Instant::now();
    let mut in_flight = futures_util::stream::FuturesUnordered::new();
    for upload in (0..longest).step_by(READINGS_PER_UPLOAD) {
        if in_flight.len() >= IN_FLIGHT
            && let Some(done) = futures_util::StreamExt::next(&mut in_flight).await
        {
            done?;
        }
        in_flight.push(victoria.import(upload_body(series, upload)));
    }
    while let Some(done) = futures_util::StreamExt::next(&mut in_flight).await {
        done?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = wanwu_tsdb::bench::cpu_seconds(&stat).unwrap_or(0.0) - cpu_before;
    drop(in_flight);
    victoria.stop()?;
    let bytes = victoria.data_bytes();
    Ok(VictoriaIngest {
        points_per_second: points as f64 / seconds,
        points_per_cpu_second: points as f64 / cpu.max(0.01),
        bytes_per_point: bytes as f64 / points.max(1) as f64,
    })
}
