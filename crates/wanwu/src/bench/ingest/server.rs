//! A real `wanwu serve` for the end-to-end benchmark: this very binary started as a child on
//! free ports with a temporary data directory, and the few API calls that provision it.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The admin token the benchmark's server is started with.
const ADMIN_TOKEN: &str = "bench-admin-token-0123456789abcdef";

/// A `wanwu serve` child process; killed when dropped.
pub struct ServeChild {
    child: Child,
    /// HTTP address.
    pub http: SocketAddr,
    /// MQTT address.
    pub mqtt: SocketAddr,
    client: reqwest::Client,
    _data: tempfile::TempDir,
}

impl ServeChild {
    /// Starts `wanwu serve` on 127.0.0.1 with free ports and waits for its listening line.
    pub fn start() -> Result<Self> {
        let data = tempfile::tempdir().context("creating the server's data directory")?;
        let exe = std::env::current_exe().context("locating the wanwu binary")?;
        let mut child = Command::new(exe)
            .args([
                "serve",
                "--http",
                "127.0.0.1:0",
                "--mqtt",
                "127.0.0.1:0",
                "--data",
            ])
            .arg(data.path())
            .env("WANWU_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting wanwu serve")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if line.starts_with("wanwu listening ") {
                    let _ = tx.send(line);
                }
            }
        });
        let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            bail!("wanwu serve did not start listening within 60 s");
        };
        let address = |name: &str| -> Result<SocketAddr> {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .with_context(|| format!("no {name} address in {line:?}"))?
                .parse()
                .with_context(|| format!("bad {name} address in {line:?}"))
        };
        Ok(ServeChild {
            http: address("http")?,
            mqtt: address("mqtt")?,
            child,
            client: http_client(),
            _data: data,
        })
    }

    /// CPU seconds (user + system) the server used so far.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = format!("/proc/{}/stat", self.child.id());
        wanwu_tsdb::bench::cpu_seconds(std::path::Path::new(&stat)).unwrap_or(0.0)
    }

    /// `POST path` with the admin token; the reply's JSON on 2xx.
    pub async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let reply = self
            .client
            .post(format!("http://{}{path}", self.http))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = reply.status();
        let text = reply.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("POST {path}: {status}: {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("POST {path}: not JSON"))
    }

    /// Creates product `id` with float properties `keys` and `devices` devices of it;
    /// returns each device's id and token.
    pub async fn provision(
        &self,
        product: &str,
        keys: &[String],
        devices: usize,
    ) -> Result<Vec<(String, String)>> {
        let properties: Vec<Value> = keys
            .iter()
            .map(|k| json!({"id": k, "type": "float"}))
            .collect();
        self.post(
            "/api/v1/products",
            json!({"id": product, "name": product, "properties": properties}),
        )
        .await?;
        let mut credentials = Vec::with_capacity(devices);
        let started = Instant::now();
        for n in 0..devices {
            let id = format!("{product}-{n:05}");
            let device = self
                .post("/api/v1/devices", json!({"id": id, "product": product}))
                .await?;
            let token = device["token"]
                .as_str()
                .context("device token in the reply")?;
            credentials.push((id, token.to_owned()));
        }
        tracing::debug!(devices, elapsed = ?started.elapsed(), "provisioned");
        Ok(credentials)
    }
}

/// A plain HTTP client (rustls with `ring`, should TLS ever be used).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
