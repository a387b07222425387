//! Test harness: runs the real `wanwu` binary on free ports with a temporary data
//! directory, parses its `wanwu listening ...` line, and talks HTTP to it.
//!
//! ```ignore
//! let server = Server::start();                  // fresh data dir, ports picked by the OS
//! let api = server.admin();                      // HTTP client with the admin token
//! let reply = api.get("/api/v1/devices").await;  // Reply { status, body }
//! let server = server.restart();                 // SIGTERM, wait, start on the same data
//! ```
//! The child is killed when the `Server` is dropped. Every test gets its own directory
//! and ports, so tests run in parallel.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// How long a start may take before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a graceful stop may take before the test fails.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `mosquitto_pub` or `mosquitto_sub` (`program`) against 127.0.0.1:`port` with
/// `args`, killed after 20 s.
pub fn mosquitto(program: &str, port: u16, args: &[&str]) -> std::process::Output {
    Command::new("timeout")
        .arg("20")
        .arg(program)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

/// Standard output and standard error of a finished process, as text.
pub fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Publishes `payload` on `topic` with QoS 1 as `device` (its `token` as password) on
/// `server`'s MQTT listener; fails the test unless `mosquitto_pub` succeeds.
pub fn device_publish(server: &Server, device: &str, token: &str, topic: &str, payload: &str) {
    let port = server.mqtt.expect("MQTT listener").port();
    let args = [
        "-u", device, "-P", token, "-q", "1", "-t", topic, "-m", payload,
    ];
    let out = mosquitto("mosquitto_pub", port, &args);
    assert!(
        out.status.success(),
        "mosquitto_pub {topic}: {}",
        text(&out)
    );
}

/// Path of the binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_wanwu")
}

/// How to start a server.
#[derive(Clone, Default)]
pub struct ServerBuilder {
    data: Option<PathBuf>,
    tempdir: Option<Arc<tempfile::TempDir>>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    http: Option<String>,
    mqtt: Option<String>,
    subcommand: Option<String>,
}

impl ServerBuilder {
    /// Uses `dir` as data directory instead of a fresh temporary one.
    pub fn data(mut self, dir: &Path) -> Self {
        self.data = Some(dir.to_owned());
        self
    }

    /// Runs `wanwu NAME` (e.g. `demo`, which takes the same `--data`, `--http` and
    /// `--mqtt` flags) instead of `wanwu serve`.
    pub fn subcommand(mut self, name: impl Into<String>) -> Self {
        self.subcommand = Some(name.into());
        self
    }

    /// Adds a command-line argument after `serve`.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets an environment variable of the child.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Listens for HTTP on `addr` instead of `127.0.0.1:0`.
    pub fn http(mut self, addr: impl Into<String>) -> Self {
        self.http = Some(addr.into());
        self
    }

    /// Listens for MQTT on `addr` instead of `127.0.0.1:0`.
    pub fn mqtt(mut self, addr: impl Into<String>) -> Self {
        self.mqtt = Some(addr.into());
        self
    }

    fn data_dir(&mut self) -> PathBuf {
        if self.data.is_none() {
            let dir = tempfile::tempdir().expect("temp dir");
            self.data = Some(dir.path().to_owned());
            self.tempdir = Some(Arc::new(dir));
        }
        self.data.clone().expect("data dir set")
    }

    fn command(&mut self) -> Command {
        let data = self.data_dir();
        let mut cmd = Command::new(binary());
        cmd.arg(self.subcommand.as_deref().unwrap_or("serve"))
            .arg("--data")
            .arg(&data)
            .arg("--http")
            .arg(self.http.as_deref().unwrap_or("127.0.0.1:0"))
            .arg("--mqtt")
            .arg(self.mqtt.as_deref().unwrap_or("127.0.0.1:0"))
            .args(&self.args)
            .env_remove("WANWU_ADMIN_TOKEN")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Starts the server and waits for its listening line.
    pub fn start(mut self) -> Server {
        let mut child = self.command().spawn().expect("spawn wanwu");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("stderr piped");
        let err_sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                err_sink
                    .lock()
                    .expect("stderr lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout_lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let out_pipe = child.stdout.take().expect("stdout piped");
        let out_sink = stdout_lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out_pipe).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("wanwu listening ") {
                    let _ = tx.send(line.clone());
                }
                out_sink.lock().expect("stdout lock").push(line);
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let line = loop {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) {
                break line;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "wanwu exited before listening ({status}); stderr:\n{}",
                    stderr.lock().expect("stderr lock")
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("wanwu did not listen within {START_TIMEOUT:?}");
            }
        };
        let addrs = parse_listening(&line);
        let data = self.data.clone().expect("data dir");
        let admin_token = self
            .env
            .iter()
            .find(|(k, _)| k == "WANWU_ADMIN_TOKEN")
            .map(|(_, v)| v.clone())
            .or_else(|| read_admin_token(&data))
            .expect("admin token: DATA/admin-token or WANWU_ADMIN_TOKEN");
        Server {
            child: Some(child),
            http: addrs["http"],
            mqtt: addrs.get("mqtt").copied(),
            data,
            admin_token,
            stdout: stdout_lines,
            stderr,
            builder: self,
        }
    }

    /// Runs the server expecting it to exit by itself (e.g. on a bad flag); returns the
    /// exit status, stdout and stderr.
    pub fn run_to_exit(mut self) -> (ExitStatus, String, String) {
        let child = self.command().spawn().expect("spawn wanwu");
        let out = wait_with_timeout(child, START_TIMEOUT);
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn wait_with_timeout(child: Child, timeout: Duration) -> std::process::Output {
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(output) => output.expect("wait for wanwu"),
        Err(_) => {
            signal(id, "KILL");
            panic!("wanwu did not exit within {timeout:?}");
        }
    }
}

/// Parses `wanwu listening http=ADDR mqtt=ADDR ...` into a map.
pub fn parse_listening(line: &str) -> HashMap<String, SocketAddr> {
    line.trim_start_matches("wanwu listening ")
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.parse().expect("listening address")))
        .collect()
}

/// The admin token the first start wrote, if any.
pub fn read_admin_token(data: &Path) -> Option<String> {
    std::fs::read_to_string(data.join("admin-token"))
        .ok()
        .map(|t| t.trim().to_owned())
}

/// Sends a signal (e.g. `TERM`, `KILL`) to a process.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// A plain HTTP client (rustls with `ring` as crypto provider, should TLS be used).
pub fn http_client() -> reqwest::Client {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::new()
}

/// A running `wanwu serve`.
pub struct Server {
    child: Option<Child>,
    /// HTTP address.
    pub http: SocketAddr,
    /// MQTT address, once the binary listens for MQTT.
    pub mqtt: Option<SocketAddr>,
    /// Data directory.
    pub data: PathBuf,
    /// The platform admin token.
    pub admin_token: String,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
    builder: ServerBuilder,
}

impl Server {
    /// A builder for a server with options.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// Starts a server on a fresh data directory.
    pub fn start() -> Server {
        Self::builder().start()
    }

    /// `http://ADDR` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// An HTTP client without token.
    pub fn anonymous(&self) -> Api {
        Api {
            client: http_client(),
            base: self.url(""),
            token: None,
            tenant: None,
        }
    }

    /// An HTTP client with the platform admin token.
    pub fn admin(&self) -> Api {
        self.anonymous().with_token(&self.admin_token)
    }

    /// A client with a new API token of `role`, created by `admin` in its tenant (or in
    /// `tenant`).
    pub async fn client_with_role(&self, admin: &Api, role: &str, tenant: Option<&str>) -> Api {
        self.anonymous()
            .with_token(&create_token(admin, role, tenant).await)
    }

    /// Creates tenant `t2` (as the platform `admin`) and returns a client of its admin.
    pub async fn second_tenant(&self, admin: &Api) -> Api {
        admin
            .create(
                "/api/v1/tenants",
                serde_json::json!({"id": "t2", "name": "Second"}),
            )
            .await;
        self.client_with_role(admin, "admin", Some("t2")).await
    }

    /// Process id of the child.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Lines the child printed on stdout so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().expect("stdout lock").clone()
    }

    /// What the child printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.stop_with("TERM")
    }

    /// Sends signal `name` (e.g. `INT`, `TERM`) and waits for the exit.
    pub fn stop_with(&mut self, name: &str) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        signal(child.id(), name);
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("wanwu did not stop within {STOP_TIMEOUT:?} of SIG{name}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the child with SIGKILL (no chance to clean up) and waits for it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same data directory with the same options after
    /// [`Server::kill9`] (ports are picked anew): recovery from a crash.
    pub fn start_again(self) -> Server {
        assert!(self.child.is_none(), "start_again after kill9");
        self.builder.clone().data(&self.data.clone()).start()
    }

    /// Stops the server gracefully and starts it again on the same data directory with
    /// the same options (ports are picked anew).
    pub fn restart(mut self) -> Server {
        let status = self.terminate();
        assert!(
            status.success(),
            "graceful stop failed: {status}\n{}",
            self.stderr()
        );
        self.builder.clone().data(&self.data.clone()).start()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// An HTTP reply: status and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body as JSON.
    pub body: serde_json::Value,
    /// The body as text.
    pub text: String,
}

impl Reply {
    /// The `error.code` of an error reply.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// Panics unless the status is `status`; returns the body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &serde_json::Value {
        assert_eq!(self.status, status, "unexpected reply: {}", self.text);
        &self.body
    }

    /// Panics unless this is the error JSON with `status` and `code`.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "unexpected reply: {}", self.text);
        assert_eq!(self.code(), code, "unexpected error: {}", self.text);
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "error without message: {}",
            self.text
        );
    }
}

/// HTTP client of one server, optionally with a token and a tenant header.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
    tenant: Option<String>,
}

impl Api {
    /// The same client with `token`.
    pub fn with_token(&self, token: &str) -> Api {
        Api {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    /// The same client naming `tenant` in `X-Wanwu-Tenant`.
    pub fn for_tenant(&self, tenant: &str) -> Api {
        Api {
            tenant: Some(tenant.to_owned()),
            ..self.clone()
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: serde_json::Value) -> Reply {
        self.send("POST", path, Some(body.to_string().into_bytes()))
            .await
    }

    /// `POST path` that must create (201); the created entity.
    pub async fn create(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        self.post(path, body).await.expect(201).clone()
    }

    /// `POST path` that must create (201); the created entity's id.
    pub async fn create_id(&self, path: &str, body: serde_json::Value) -> String {
        let created = self.create(path, body).await;
        created["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {created}"))
            .to_owned()
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch(&self, path: &str, body: serde_json::Value) -> Reply {
        self.send("PATCH", path, Some(body.to_string().into_bytes()))
            .await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, None).await
    }

    /// Any method with raw body bytes sent as `application/json`.
    pub async fn send(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(tenant) = &self.tenant {
            request = request.header("X-Wanwu-Tenant", tenant);
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = request.send().await.expect("HTTP request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("HTTP body");
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Reply { status, body, text }
    }
}

/// The air-quality product of the design document.
pub fn air_station(id: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "name": "Air station",
        "properties": [
            {"id": "pm25", "name": "PM2.5", "type": "float", "unit": "ug/m3", "min": 0, "max": 1000, "access": "read"},
            {"id": "mode", "type": "enum", "values": ["auto", "manual"], "access": "read_write"}
        ],
        "events": [{"id": "fail", "name": "Failure", "severity": "critical", "params": [{"id": "code", "type": "int"}]}],
        "commands": [{"id": "blink", "name": "Blink", "params": [{"id": "times", "type": "int", "min": 1, "max": 10}]}]
    })
}

/// In the caller's tenant: product `aq` ([`air_station`]), asset `sh` (a city) and device
/// `st-1` of `aq` under `sh`.
pub async fn provision_station(api: &Api) {
    api.create("/api/v1/products", air_station("aq")).await;
    api.create(
        "/api/v1/assets",
        serde_json::json!({"id": "sh", "name": "Shanghai", "kind": "city"}),
    )
    .await;
    api.create(
        "/api/v1/devices",
        serde_json::json!({"id": "st-1", "product": "aq", "asset": "sh"}),
    )
    .await;
}

/// Creates a device (`body` as for `POST /devices`); returns its token.
pub async fn create_device(api: &Api, body: serde_json::Value) -> String {
    api.create("/api/v1/devices", body).await["token"]
        .as_str()
        .expect("device token")
        .to_owned()
}

/// `POST /devices/{device}/telemetry` with `token`; the reply, whatever it is.
pub async fn post_telemetry(
    server: &Server,
    device: &str,
    token: &str,
    payload: &serde_json::Value,
) -> Reply {
    server
        .anonymous()
        .with_token(token)
        .post(
            &format!("/api/v1/devices/{device}/telemetry"),
            payload.clone(),
        )
        .await
}

/// Telemetry of `device` over HTTP with its `token`; fails the test unless accepted.
pub async fn ingest(server: &Server, device: &str, token: &str, payload: serde_json::Value) {
    post_telemetry(server, device, token, &payload)
        .await
        .expect(200);
}

/// Creates an API token with `role` in the caller's tenant (or `tenant`); returns the secret.
pub async fn create_token(api: &Api, role: &str, tenant: Option<&str>) -> String {
    let mut body = serde_json::json!({"name": format!("{role} token"), "role": role});
    if let Some(tenant) = tenant {
        body["tenant"] = tenant.into();
    }
    let reply = api.post("/api/v1/tokens", body).await;
    reply.expect(201)["token"]
        .as_str()
        .expect("token secret")
        .to_owned()
}

/// The ids of a list reply's items.
pub fn ids(reply: &Reply) -> Vec<String> {
    reply.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {}", reply.text))
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect()
}

/// `mosquitto_sub -v` on `topic` with `username`/`password`, killed on drop; the lines it
/// prints arrive as (topic, payload).
pub struct Subscriber {
    child: Child,
    lines: mpsc::Receiver<(String, String)>,
}

impl Subscriber {
    /// Subscribes to `topic` (QoS 1) on `server`'s MQTT listener.
    pub fn start(server: &Server, username: &str, password: &str, topic: &str) -> Subscriber {
        let mqtt = server.mqtt.expect("MQTT listener");
        let mut child = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &mqtt.port().to_string()])
            .args(["-u", username, "-P", password, "-q", "1", "-v", "-t", topic])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some((topic, payload)) = line.split_once(' ') {
                    let _ = tx.send((topic.to_owned(), payload.to_owned()));
                }
            }
        });
        Subscriber { child, lines }
    }

    /// The next (topic, payload) within `within`.
    pub fn next(&self, within: Duration) -> Option<(String, String)> {
        self.lines.recv_timeout(within).ok()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `probe` every 100 ms until it gives a value, failing the test after 20 s with
/// `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A Python MQTT client from this directory (`mqtt_probe.py`, `command_device.py`) run with
/// `args`, killed on drop; the JSON lines it prints arrive on a channel.
pub struct PythonClient {
    child: Child,
    lines: mpsc::Receiver<serde_json::Value>,
    /// Lines read while looking for another key, oldest first, kept for later calls.
    passed_over: RefCell<VecDeque<serde_json::Value>>,
}

impl PythonClient {
    /// Runs `tests/{script}` with `args`.
    pub fn start(script: &str, args: &[&str]) -> PythonClient {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join(script);
        let mut child = Command::new("python3")
            .arg(path)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("run python3 {script}: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({"unparsed": line}));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        PythonClient {
            child,
            lines,
            passed_over: RefCell::default(),
        }
    }

    /// The field `key` of the oldest line not taken yet that has it, waiting up to `within`
    /// for one to arrive. Lines without `key` stay for later calls, so the order in which the
    /// client prints lines of different keys does not matter.
    pub fn next_with(&self, key: &str, within: Duration) -> Option<serde_json::Value> {
        let mut passed_over = self.passed_over.borrow_mut();
        if let Some(at) = passed_over.iter().position(|line| line.get(key).is_some()) {
            return passed_over.remove(at).map(|line| line[key].clone());
        }
        let deadline = Instant::now() + within;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.get(key).is_some() => return Some(line[key].clone()),
                Ok(line) => passed_over.push_back(line),
                Err(_) => return None,
            }
        }
        None
    }
}

impl Drop for PythonClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PythonClient {
    /// `mqtt_probe.py` (MQTT 5) logged in as `device` with `token` on `server`, running
    /// `steps`.
    pub fn device_probe(server: &Server, device: &str, token: &str, steps: &[&str]) -> Self {
        let port = server.mqtt.expect("MQTT listener").port().to_string();
        let mut args = vec!["--port", &port, "--user", device, "--password", token];
        args.extend_from_slice(steps);
        Self::start("mqtt_probe.py", &args)
    }
}

/// Gives device `id` a new token (`POST /devices/{id}/token`) and returns it.
pub async fn new_device_token(api: &Api, id: &str) -> String {
    let reply = api
        .post(
            &format!("/api/v1/devices/{id}/token"),
            serde_json::json!({}),
        )
        .await;
    reply.expect(200)["token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// Now, in ms since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}
