//! MQTT access to `wanwu serve` over real sockets: device and app authentication, tenant
//! isolation, the topic ACL, anonymous access, token rotation, presence, error reports and
//! MQTT over WebSocket. Clients are `mosquitto_pub`/`mosquitto_sub` and a paho-mqtt script
//! (`mqtt_probe.py`) that prints exact reason codes.

mod common;

use common::{Api, Server, air_station, mosquitto, text};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// CONNACK 0x86: bad user name or password (paho maps the 3.1.1 return code 4 to it).
const BAD_CREDENTIALS: u64 = 0x86;
/// 0x87: not authorized (CONNACK, SUBACK, PUBACK).
const NOT_AUTHORIZED: u64 = 0x87;
/// MQTT 3.1.1 SUBACK failure.
const SUBACK_FAILURE: u64 = 0x80;

/// How long a probe may run.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Options of one `mqtt_probe.py` run.
#[derive(Clone)]
struct ProbeArgs {
    port: u16,
    version: &'static str,
    credentials: Option<(String, String)>,
    websocket: bool,
}

impl ProbeArgs {
    fn v5(port: u16) -> Self {
        ProbeArgs {
            port,
            version: "5",
            credentials: None,
            websocket: false,
        }
    }

    fn v311(port: u16) -> Self {
        ProbeArgs {
            version: "311",
            ..Self::v5(port)
        }
    }

    fn login(mut self, user: &str, password: &str) -> Self {
        self.credentials = Some((user.to_owned(), password.to_owned()));
        self
    }

    fn websocket(mut self) -> Self {
        self.websocket = true;
        self
    }

    /// Starts the probe with `steps`; its JSON lines arrive on the returned [`Probe`].
    fn spawn(&self, steps: &[&str]) -> Probe {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mqtt_probe.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--version")
            .arg(self.version);
        if let Some((user, password)) = &self.credentials {
            cmd.arg("--user").arg(user).arg("--password").arg(password);
        }
        if self.websocket {
            cmd.args(["--transport", "websockets", "--path", "/mqtt"]);
        }
        let mut child = cmd
            .args(steps)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run python3 mqtt_probe.py");
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value =
                    serde_json::from_str(&line).unwrap_or_else(|_| json!({"unparsed": line}));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Probe {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Runs the probe to its end and returns every line it printed.
    fn run(&self, steps: &[&str]) -> Vec<Value> {
        self.spawn(steps).finish()
    }
}

/// A running probe; killed when dropped.
struct Probe {
    child: Child,
    lines: mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl Probe {
    /// Waits for the next line carrying `key`.
    fn wait_for(&mut self, key: &str) -> Value {
        let deadline = Instant::now() + PROBE_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.get(key).is_some() {
                        return line[key].clone();
                    }
                }
                Err(_) => panic!("probe printed no {key:?}; saw {:?}", self.seen),
            }
        }
    }

    /// Waits for the probe to exit; every line it printed.
    fn finish(mut self) -> Vec<Value> {
        let deadline = Instant::now() + PROBE_TIMEOUT;
        while self.child.try_wait().expect("probe status").is_none() {
            assert!(Instant::now() < deadline, "probe did not finish");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        let mut lines = std::mem::take(&mut self.seen);
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            lines.push(line);
        }
        assert!(
            lines.iter().all(|l| l.get("error").is_none()),
            "probe failed: {lines:?}\n{stderr}"
        );
        lines
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the first line carrying `key`.
fn first(lines: &[Value], key: &str) -> Value {
    lines
        .iter()
        .find_map(|l| l.get(key).cloned())
        .unwrap_or_else(|| panic!("no {key:?} in {lines:?}"))
}

/// Payloads of the messages received on `topic`.
fn payloads_on(lines: &[Value], topic: &str) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.get("message"))
        .filter(|m| m["topic"] == topic)
        .map(|m| m["payload"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Runs a mosquitto client (bounded by `timeout`) and returns its output.
fn mqtt_port(server: &Server) -> u16 {
    server.mqtt.expect("the listening line names mqtt=").port()
}

/// Creates product `aq` (once) and device `id` in the caller's tenant; returns its token.
async fn device(api: &Api, id: &str) -> String {
    let product = api.post("/api/v1/products", air_station("aq")).await;
    assert!(
        product.status == 201 || product.status == 409,
        "{}",
        product.text
    );
    let reply = api
        .post("/api/v1/devices", json!({"id": id, "product": "aq"}))
        .await;
    reply.expect(201)["token"]
        .as_str()
        .expect("device token")
        .to_owned()
}

#[tokio::test]
async fn devices_connect_with_their_token_and_nothing_else() {
    let server = Server::start();
    let port = mqtt_port(&server);
    let token = device(&server.admin(), "d1").await;

    for version in ["mqttv311", "mqttv5"] {
        let ok = mosquitto(
            "mosquitto_pub",
            port,
            &[
                "-V",
                version,
                "-u",
                "d1",
                "-P",
                &token,
                "-t",
                "devices/d1/commands/x",
                "-m",
                "{}",
            ],
        );
        assert!(ok.status.success(), "{version}: {}", text(&ok));
        for (user, password) in [("d1", "wwd_wrong"), ("ghost", token.as_str()), ("d1", "")] {
            let refused = mosquitto(
                "mosquitto_pub",
                port,
                &[
                    "-V",
                    version,
                    "-u",
                    user,
                    "-P",
                    password,
                    "-t",
                    "devices/d1/x",
                    "-m",
                    "{}",
                ],
            );
            assert!(
                !refused.status.success(),
                "{version} {user}: {}",
                text(&refused)
            );
            assert!(
                text(&refused)
                    .to_lowercase()
                    .contains("bad user name or password"),
                "{version} {user}: {}",
                text(&refused)
            );
        }
    }
    for probe in [ProbeArgs::v311(port), ProbeArgs::v5(port)] {
        let ok = probe.clone().login("d1", &token).run(&[]);
        assert_eq!(first(&ok, "connack"), 0);
        let refused = probe.login("d1", "wwd_wrong").run(&[]);
        assert_eq!(first(&refused, "connack"), BAD_CREDENTIALS);
    }
}

#[tokio::test]
async fn app_clients_see_their_tenant_and_never_another() {
    let server = Server::start();
    let port = mqtt_port(&server);
    let admin = server.admin();
    admin
        .post("/api/v1/tenants", json!({"id": "t2", "name": "Second"}))
        .await
        .expect(201);
    let app_one = common::create_token(&admin, "operator", None).await;
    let app_two = common::create_token(&admin, "operator", Some("t2")).await;
    let d1_one = device(&admin, "d1").await;
    let d1_two = device(&admin.for_tenant("t2"), "d1").await;

    let topic = "devices/d1/commands/blink";
    let mut watchers = [
        ProbeArgs::v5(port)
            .login("app", &app_one)
            .spawn(&["sub:#", "recv:1", "wait:1"]),
        ProbeArgs::v311(port)
            .login("app", &app_two)
            .spawn(&["sub:#", "recv:1", "wait:1"]),
        ProbeArgs::v5(port)
            .login("d1", &d1_one)
            .spawn(&["sub:devices/d1/#", "recv:1", "wait:1"]),
        ProbeArgs::v311(port)
            .login("d1", &d1_two)
            .spawn(&["sub:devices/d1/#", "recv:1", "wait:1"]),
    ];
    for watcher in &mut watchers {
        assert_eq!(watcher.wait_for("suback"), json!([1]));
    }
    let sent_one = ProbeArgs::v5(port)
        .login("app", &app_one)
        .run(&[&format!("pub:{topic}:1:for-one")]);
    assert_eq!(first(&sent_one, "puback"), 0);
    let sent_two = mosquitto(
        "mosquitto_pub",
        port,
        &[
            "-V", "mqttv311", "-u", "app", "-P", &app_two, "-t", topic, "-m", "for-two", "-q", "1",
        ],
    );
    assert!(sent_two.status.success(), "{}", text(&sent_two));

    let [app1, app2, dev1, dev2] = watchers.map(Probe::finish);
    assert_eq!(payloads_on(&app1, topic), ["for-one"]);
    assert_eq!(payloads_on(&dev1, topic), ["for-one"]);
    assert_eq!(payloads_on(&app2, topic), ["for-two"]);
    assert_eq!(payloads_on(&dev2, topic), ["for-two"]);
}

#[tokio::test]
async fn anonymous_clients_are_refused_by_default() {
    let server = Server::start();
    let port = mqtt_port(&server);
    let refused = ProbeArgs::v5(port).run(&[]);
    assert_eq!(first(&refused, "connack"), NOT_AUTHORIZED);
    let refused = mosquitto(
        "mosquitto_sub",
        port,
        &["-V", "mqttv311", "-t", "#", "-C", "1"],
    );
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("not authorised"),
        "{}",
        text(&refused)
    );
}

#[tokio::test]
async fn anonymous_clients_are_default_apps_when_allowed() {
    let server = Server::builder().arg("--mqtt-allow-anonymous").start();
    let port = mqtt_port(&server);
    let admin = server.admin();
    admin
        .post("/api/v1/tenants", json!({"id": "t2", "name": "Second"}))
        .await
        .expect(201);
    let app_two = common::create_token(&admin, "operator", Some("t2")).await;
    let token = device(&admin, "d1").await;

    let mut anonymous = ProbeArgs::v311(port).spawn(&["sub:#", "recv:2", "wait:0.5"]);
    assert_eq!(anonymous.wait_for("suback"), json!([1]));
    let mut device_d1 = ProbeArgs::v5(port)
        .login("d1", &token)
        .spawn(&["sub:devices/d1/commands/#", "recv:1"]);
    assert_eq!(device_d1.wait_for("suback"), json!([1]));
    let other = ProbeArgs::v5(port)
        .login("app", &app_two)
        .run(&["pub:news:1:from-t2"]);
    assert_eq!(first(&other, "puback"), 0);
    let own = ProbeArgs::v5(port).run(&[
        "pub:news:1:from-default",
        "pub:devices/d1/commands/blink:1:go",
    ]);
    assert_eq!(first(&own, "connack"), 0);

    let seen = anonymous.finish();
    assert_eq!(payloads_on(&seen, "news"), ["from-default"]);
    assert_eq!(payloads_on(&seen, "devices/d1/commands/blink"), ["go"]);
    assert_eq!(
        payloads_on(&device_d1.finish(), "devices/d1/commands/blink"),
        ["go"]
    );
}

#[tokio::test]
async fn a_device_cannot_use_another_devices_topics() {
    let server = Server::start();
    let port = mqtt_port(&server);
    let admin = server.admin();
    let a = device(&admin, "a").await;
    let b = device(&admin, "b").await;
    let app = common::create_token(&admin, "operator", None).await;

    let mut b_watch =
        ProbeArgs::v5(port)
            .login("b", &b)
            .spawn(&["sub:devices/b/#", "recv:1", "wait:0.5"]);
    assert_eq!(b_watch.wait_for("suback"), json!([1]));
    let mut app_watch =
        ProbeArgs::v5(port)
            .login("app", &app)
            .spawn(&["sub:devices/b/#", "recv:1", "wait:0.5"]);
    assert_eq!(app_watch.wait_for("suback"), json!([1]));

    let v5 = ProbeArgs::v5(port).login("a", &a).run(&[
        "sub:devices/b/#",
        "sub:devices/+/commands/#",
        "sub:#",
        "pub:devices/b/telemetry:1:{\"pm25\": 1}",
        "pub:devices/b/commands/blink:1:forged",
    ]);
    let subacks: Vec<Value> = v5.iter().filter_map(|l| l.get("suback").cloned()).collect();
    assert_eq!(subacks, vec![json!([NOT_AUTHORIZED]); 3]);
    let pubacks: Vec<Value> = v5.iter().filter_map(|l| l.get("puback").cloned()).collect();
    assert_eq!(pubacks, vec![json!(NOT_AUTHORIZED); 2]);

    let v311 = ProbeArgs::v311(port).login("a", &a).run(&[
        "sub:devices/b/#",
        "pub:devices/b/shadow/reported:1:{}",
        "pub:devices/b/commands/blink:1:forged-311",
    ]);
    assert_eq!(first(&v311, "suback"), json!([SUBACK_FAILURE]));
    let denied = mosquitto(
        "mosquitto_sub",
        port,
        &[
            "-V",
            "mqttv311",
            "-u",
            "a",
            "-P",
            &a,
            "-t",
            "devices/b/#",
            "-C",
            "1",
            "-W",
            "2",
        ],
    );
    assert!(
        text(&denied).contains("All subscription requests were denied"),
        "{}",
        text(&denied)
    );
    // Apps never speak for a device either.
    let forged = ProbeArgs::v5(port)
        .login("app", &app)
        .run(&["pub:devices/b/telemetry:1:{\"pm25\": 2}"]);
    assert_eq!(first(&forged, "puback"), NOT_AUTHORIZED);

    // A legitimate command marks the end: everything before it was refused, not routed.
    let marker = ProbeArgs::v5(port)
        .login("app", &app)
        .run(&["pub:devices/b/commands/blink:1:marker"]);
    assert_eq!(first(&marker, "puback"), 0);
    for seen in [b_watch.finish(), app_watch.finish()] {
        let messages: Vec<&Value> = seen.iter().filter_map(|l| l.get("message")).collect();
        assert_eq!(
            messages,
            [&json!({"topic": "devices/b/commands/blink", "payload": "marker"})],
            "only the marker may reach device b's topics"
        );
    }
}

#[tokio::test]
async fn a_rotated_token_fails_at_the_next_connect() {
    let server = Server::start();
    let port = mqtt_port(&server);
    let admin = server.admin();
    let old = device(&admin, "d1").await;
    assert_eq!(
        first(&ProbeArgs::v5(port).login("d1", &old).run(&[]), "connack"),
        0
    );

    let rotated = admin.post("/api/v1/devices/d1/token", json!({})).await;
    let new = rotated.expect(200)["token"]
        .as_str()
        .expect("new token")
        .to_owned();
    assert_ne!(new, old);
    assert_eq!(
        first(&ProbeArgs::v5(port).login("d1", &old).run(&[]), "connack"),
        BAD_CREDENTIALS
    );
    assert_eq!(
        first(&ProbeArgs::v311(port).login("d1", &old).run(&[]), "connack"),
        BAD_CREDENTIALS
    );
    assert_eq!(
        first(&ProbeArgs::v311(port).login("d1", &new).run(&[]), "connack"),
        0
    );
}

/// Polls `GET /devices/{id}` until `done` holds for it.
async fn device_until(api: &Api, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let reply = api.get(&format!("/api/v1/devices/{id}")).await;
        let body = reply.expect(200).clone();
        if done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "device never got there: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn presence_follows_connections() {
    let server = Server::start();
    let port = mqtt_port(&server);
    let admin = server.admin();
    let token = device(&admin, "d1").await;
    device(&admin, "d2").await;
    let before = admin.get("/api/v1/devices/d1").await;
    assert_eq!(before.expect(200)["status"], "offline");
    assert_eq!(before.body["last_seen"], Value::Null);

    let mut connected = ProbeArgs::v5(port)
        .login("d1", &token)
        .spawn(&["sub:devices/d1/#", "wait:30"]);
    connected.wait_for("suback");
    let online = device_until(&admin, "d1", |d| d["status"] == "online").await;
    assert_eq!(online["connection"]["protocol"], "mqtt/5");
    assert!(
        online["connection"]["client_address"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:")),
        "{online}"
    );
    assert!(online["last_seen"].as_i64().is_some());
    assert_eq!(
        common::ids(&admin.get("/api/v1/devices?status=online").await),
        ["d1"]
    );
    assert_eq!(
        common::ids(&admin.get("/api/v1/devices?status=offline").await),
        ["d2"]
    );
    let bad = admin.get("/api/v1/devices?status=sleeping").await;
    assert_eq!(bad.status, 400, "{}", bad.text);

    drop(connected); // killed: the connection is lost without DISCONNECT
    let lost = device_until(&admin, "d1", |d| d["status"] == "offline").await;
    assert_eq!(lost["offline_reason"], "connection_lost");

    let clean = ProbeArgs::v311(port).login("d1", &token).run(&["wait:0.2"]);
    assert_eq!(first(&clean, "connack"), 0);
    let gone = device_until(&admin, "d1", |d| d["offline_reason"] == "disconnect").await;
    assert_eq!(gone["status"], "offline");
    assert_eq!(gone["connection"]["protocol"], "mqtt/3.1.1");
    assert!(
        gone["last_seen"].as_i64() >= lost["last_seen"].as_i64(),
        "{gone}"
    );
    assert_eq!(
        common::ids(&admin.get("/api/v1/devices?status=online").await),
        Vec::<String>::new()
    );
}

/// An MQTT 3.1.1 CONNECT with user name, password and `keepalive` seconds.
fn connect_packet(client_id: &str, user: &str, password: &str, keepalive: u16) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0b1100_0010];
    body.extend_from_slice(&keepalive.to_be_bytes());
    for field in [client_id, user, password] {
        body.extend_from_slice(&(field.len() as u16).to_be_bytes());
        body.extend_from_slice(field.as_bytes());
    }
    let mut packet = vec![0x10];
    let mut len = body.len();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        packet.push(byte);
        if len == 0 {
            break;
        }
    }
    packet.extend(body);
    packet
}

#[tokio::test]
async fn a_silent_device_goes_offline_after_its_keepalive() {
    let server = Server::start();
    let admin = server.admin();
    let token = device(&admin, "quiet").await;
    let mut socket = TcpStream::connect(server.mqtt.expect("mqtt address")).expect("connect");
    socket
        .write_all(&connect_packet("quiet-1", "quiet", &token, 1))
        .expect("send CONNECT");
    let mut connack = [0u8; 4];
    socket.read_exact(&mut connack).expect("CONNACK");
    assert_eq!(connack, [0x20, 2, 0, 0], "CONNACK accepted");
    device_until(&admin, "quiet", |d| d["status"] == "online").await;
    // Silence, socket open: the broker gives up after 1.5 x 1 s.
    let expired = device_until(&admin, "quiet", |d| d["status"] == "offline").await;
    assert_eq!(expired["offline_reason"], "keepalive_expired");
    assert!(expired["last_seen"].as_i64().is_some());
    drop(socket);
}

#[tokio::test]
async fn refused_uplinks_are_reported_on_the_errors_topic() {
    let server = Server::start();
    let port = mqtt_port(&server);
    let token = device(&server.admin(), "d1").await;
    let app = common::create_token(&server.admin(), "operator", None).await;
    let mut live = ProbeArgs::v311(port).login("app", &app).spawn(&[
        "sub:devices/+/telemetry",
        "recv:1",
        "wait:0.5",
    ]);
    assert_eq!(live.wait_for("suback"), json!([1]));
    let lines = ProbeArgs::v5(port).login("d1", &token).run(&[
        "sub:devices/d1/errors",
        "pub:devices/d1/telemetry:1:{\"nope\": true}",
        "recv:1",
        "pub:devices/d1/telemetry:1:{\"pm25\": 12.5}",
    ]);
    let pubacks: Vec<u64> = lines
        .iter()
        .filter_map(|l| l.get("puback")?.as_u64())
        .collect();
    assert_eq!(
        pubacks,
        [0x99, 0],
        "invalid refused, valid accepted: {lines:?}"
    );
    let reports = payloads_on(&lines, "devices/d1/errors");
    assert_eq!(reports.len(), 1, "{lines:?}");
    let report: Value = serde_json::from_str(&reports[0]).expect("JSON error report");
    assert_eq!(report["error"]["details"]["topic"], "devices/d1/telemetry");
    assert_eq!(report["error"]["details"]["reason_code"], 0x99);
    assert_eq!(report["error"]["code"], "invalid_input");
    assert!(
        report["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nope")),
        "{report}"
    );
    // Accepted telemetry also reaches the tenant's applications; the refused one did not.
    assert_eq!(
        payloads_on(&live.finish(), "devices/d1/telemetry"),
        ["{\"pm25\": 12.5}"]
    );
}

#[tokio::test]
async fn mqtt_over_websocket_on_the_http_port() {
    let server = Server::start();
    let admin = server.admin();
    let token = device(&admin, "d1").await;
    let app = common::create_token(&admin, "operator", None).await;
    let ws = ProbeArgs::v5(server.http.port()).websocket();

    let mut device_ws = ws
        .clone()
        .login("d1", &token)
        .spawn(&["sub:devices/d1/commands/#", "recv:1"]);
    assert_eq!(device_ws.wait_for("suback"), json!([1]));
    let online = device_until(&admin, "d1", |d| d["status"] == "online").await;
    assert_eq!(online["connection"]["protocol"], "mqtt/5");
    let sent = ProbeArgs::v311(mqtt_port(&server))
        .login("app", &app)
        .run(&["pub:devices/d1/commands/blink:1:over-ws"]);
    assert_eq!(first(&sent, "puback"), 0);
    assert_eq!(
        payloads_on(&device_ws.finish(), "devices/d1/commands/blink"),
        ["over-ws"]
    );
    let refused = ws.login("d1", "wwd_wrong").run(&[]);
    assert_eq!(first(&refused, "connack"), BAD_CREDENTIALS);
}

#[test]
fn a_taken_mqtt_port_fails_fast_naming_the_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (status, _, stderr) = Server::builder().mqtt(addr.clone()).run_to_exit();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("--mqtt {addr}")), "{stderr}");
}
