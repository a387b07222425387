//! The servers the benchmarks run against, as child processes killed on drop: `wanwu serve`
//! (this very binary, on ports it picks itself, with a temporary data directory) with the few
//! API calls that provision it, and Debian's mosquitto as the baseline broker.

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's `mosquitto` package installs the broker.
pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";
/// How long a server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

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
    /// Starts `wanwu serve` on 127.0.0.1, its HTTP and MQTT listeners on port 0, and waits for
    /// the line that names the ports it got (on a blocking thread, not the caller's).
    pub async fn start() -> Result<Self> {
        tokio::task::spawn_blocking(Self::start_blocking)
            .await
            .context("starting wanwu serve")?
    }

    fn start_blocking() -> Result<Self> {
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
        let Ok(line) = rx.recv_timeout(START_TIMEOUT) else {
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

    /// `http://{address}` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// The admin token the server was started with.
    pub fn admin_token(&self) -> &'static str {
        ADMIN_TOKEN
    }

    /// The HTTP client the server is provisioned with.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The server's process id (for profilers and /proc readings).
    pub fn pid(&self) -> u32 {
        self.child.id()
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
            .post(self.url(path))
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
            let token = self.create_device(product, &id).await?;
            credentials.push((id, token));
        }
        tracing::debug!(devices, elapsed = ?started.elapsed(), "provisioned");
        Ok(credentials)
    }

    /// Creates device `id` of `product`; returns its token.
    pub async fn create_device(&self, product: &str, id: &str) -> Result<String> {
        let device = self
            .post("/api/v1/devices", json!({"id": id, "product": product}))
            .await?;
        device["token"]
            .as_str()
            .map(str::to_owned)
            .context("device token in the reply")
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

/// Debian's mosquitto on a free port with a scratch directory, nothing persisted; killed on
/// drop.
pub struct MosquittoChild {
    child: Child,
    _dir: tempfile::TempDir,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl MosquittoChild {
    /// Fails with the package to install when mosquitto is missing.
    pub fn ensure_installed() -> Result<()> {
        ensure!(
            Path::new(MOSQUITTO).exists(),
            "the baseline broker {MOSQUITTO} is missing (Debian package `mosquitto`)"
        );
        Ok(())
    }

    /// Starts mosquitto with anonymous access, no persistence and no log, plus the
    /// configuration lines `extra`, and waits until it accepts connections. mosquitto cannot
    /// report a port it picked, so the port is one the system had free a moment before.
    pub async fn start(extra: &str) -> Result<Self> {
        let dir = tempfile::tempdir().context("creating mosquitto's scratch directory")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .context("finding a free port")?
            .port();
        let config = dir.path().join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 log_dest none\n{extra}"
            ),
        )
        .context("writing mosquitto.conf")?;
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting mosquitto")?;
        let mosquitto = MosquittoChild {
            child,
            _dir: dir,
            port,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            ensure!(Instant::now() < deadline, "mosquitto did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(mosquitto)
    }
}

impl Drop for MosquittoChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
