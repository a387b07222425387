//! The device twin over real HTTP against the real binary: desired state as a merge patch
//! (read_write keys only, `null` deletes, `If-Match` versions), reported state from
//! telemetry, the delta, and a restart that keeps it all.

mod common;

use common::{Api, Reply, Server, air_station, create_token};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A product with two read_write properties and one read-only, and device `d1` of it;
/// returns the device's token.
async fn lamp(api: &Api) -> String {
    let mut product = air_station("lamp");
    product["properties"]
        .as_array_mut()
        .expect("properties")
        .push(json!({"id": "level", "type": "int", "min": 0, "max": 100, "access": "read_write"}));
    api.post("/api/v1/products", product).await.expect(201);
    let device = api
        .post("/api/v1/devices", json!({"id": "d1", "product": "lamp"}))
        .await;
    device.expect(201)["token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// `PATCH /devices/d1/shadow/desired` with an optional `If-Match`.
async fn patch_desired(server: &Server, if_match: Option<&str>, body: Value) -> Reply {
    let mut request = common::http_client()
        .patch(server.url("/api/v1/devices/d1/shadow/desired"))
        .bearer_auth(&server.admin_token)
        .header("content-type", "application/merge-patch+json")
        .body(body.to_string());
    if let Some(version) = if_match {
        request = request.header("if-match", version);
    }
    let response = request.send().await.expect("HTTP request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

async fn shadow(api: &Api) -> Value {
    api.get("/api/v1/devices/d1/shadow")
        .await
        .expect(200)
        .clone()
}

#[tokio::test]
async fn desired_merge_patch_versions_and_delta() {
    let server = Server::start();
    let api = server.admin();
    lamp(&api).await;

    let empty = shadow(&api).await;
    assert_eq!(
        empty,
        json!({"reported": {}, "desired": {}, "delta": {}, "version": 0,
               "metadata": {"reported": {}, "desired": {}}})
    );

    let before = now_ms();
    let twin = patch_desired(&server, None, json!({"mode": "manual", "level": 40})).await;
    let twin = twin.expect(200);
    assert_eq!(twin["desired"], json!({"mode": "manual", "level": 40}));
    assert_eq!(twin["delta"], json!({"mode": "manual", "level": 40}));
    assert_eq!(twin["version"], 1);
    let ts = twin["metadata"]["desired"]["level"]["ts"]
        .as_i64()
        .expect("ts");
    assert!(ts >= before, "key time {ts} is the time of the change");

    // The same values again change nothing; null deletes a key.
    let same = patch_desired(&server, None, json!({"level": 40})).await;
    assert_eq!(same.expect(200)["version"], 1);
    let twin = patch_desired(&server, Some("1"), json!({"mode": null})).await;
    let twin = twin.expect(200);
    assert_eq!(twin["desired"], json!({"level": 40}));
    assert_eq!(twin["version"], 2);
    assert!(twin["metadata"]["desired"].get("mode").is_none());

    // A stale version is refused and changes nothing; the quoted ETag form works too.
    patch_desired(&server, Some("1"), json!({"level": 50}))
        .await
        .expect_error(412, "version_mismatch");
    patch_desired(&server, Some("\"2\""), json!({"level": 60}))
        .await
        .expect(200);
    let now = shadow(&api).await;
    assert_eq!(now["desired"], json!({"level": 60}));
    assert_eq!(now["version"], 3);
}

#[tokio::test]
async fn bad_desired_state_is_refused_whole() {
    let server = Server::start();
    let api = server.admin();
    lamp(&api).await;
    patch_desired(&server, None, json!({"level": 10}))
        .await
        .expect(200);

    // pm25 is read-only: the whole patch is refused, level stays 10.
    let refused = patch_desired(&server, None, json!({"level": 20, "pm25": 3})).await;
    refused.expect_error(422, "invalid_input");
    assert_eq!(refused.body["error"]["details"][0]["path"], "pm25");
    for bad in [
        json!({"level": 101}),
        json!({"level": "high"}),
        json!({"mode": "party"}),
        json!({"nope": 1}),
        json!([1, 2]),
    ] {
        patch_desired(&server, None, bad.clone())
            .await
            .expect_error(422, "invalid_input");
    }
    patch_desired(&server, Some("seven"), json!({"level": 20}))
        .await
        .expect_error(400, "bad_request");
    let twin = shadow(&api).await;
    assert_eq!(twin["desired"], json!({"level": 10}));
    assert_eq!(twin["version"], 1);

    api.get("/api/v1/devices/ghost/shadow")
        .await
        .expect_error(404, "not_found");
    let viewer = api.with_token(&create_token(&api, "viewer", None).await);
    let reply = viewer
        .patch("/api/v1/devices/d1/shadow/desired", json!({"level": 30}))
        .await;
    reply.expect_error(403, "forbidden");
    viewer.get("/api/v1/devices/d1/shadow").await.expect(200);
}

#[tokio::test]
async fn telemetry_is_reported_state_and_clears_the_delta() {
    let server = Server::start();
    let api = server.admin();
    let token = lamp(&api).await;
    patch_desired(&server, None, json!({"mode": "manual", "level": 40}))
        .await
        .expect(200);

    let device = server.anonymous().with_token(&token);
    device
        .post(
            "/api/v1/devices/d1/telemetry",
            json!({"ts": 1_700_000_000_000_i64, "values": {"mode": "manual", "pm25": 12.5}}),
        )
        .await
        .expect(200);
    let twin = wait_for(&api, |t| t["reported"].get("mode").is_some()).await;
    assert_eq!(twin["reported"], json!({"mode": "manual", "pm25": 12.5}));
    assert_eq!(
        twin["metadata"]["reported"]["pm25"]["ts"],
        1_700_000_000_000_i64
    );
    assert_eq!(twin["delta"], json!({"level": 40}), "mode matches now");
    assert_eq!(twin["version"], 2);

    // An older reading does not replace a newer one.
    device
        .post(
            "/api/v1/devices/d1/telemetry",
            json!({"ts": 1_600_000_000_000_i64, "values": {"pm25": 99.0}}),
        )
        .await
        .expect(200);
    device
        .post("/api/v1/devices/d1/telemetry", json!({"level": 40}))
        .await
        .expect(200);
    let twin = wait_for(&api, |t| t["reported"].get("level").is_some()).await;
    assert_eq!(twin["reported"]["pm25"], 12.5);
    assert_eq!(twin["delta"], json!({}));
}

#[tokio::test]
async fn the_twin_survives_a_restart() {
    let server = Server::start();
    let api = server.admin();
    let token = lamp(&api).await;
    patch_desired(&server, None, json!({"level": 70}))
        .await
        .expect(200);
    server
        .anonymous()
        .with_token(&token)
        .post("/api/v1/devices/d1/telemetry", json!({"pm25": 3.0}))
        .await
        .expect(200);
    let before = wait_for(&api, |t| t["reported"].get("pm25").is_some()).await;

    let server = server.restart();
    let after = shadow(&server.admin()).await;
    assert_eq!(after, before);
    // Versions keep growing from where they were.
    let twin = patch_desired(&server, Some("2"), json!({"level": 71})).await;
    assert_eq!(twin.expect(200)["version"], 3);
}

/// Polls the twin of `d1` until `ready` holds (telemetry reaches the twin asynchronously).
async fn wait_for(api: &Api, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let twin = shadow(api).await;
        if ready(&twin) {
            return twin;
        }
        assert!(Instant::now() < deadline, "twin never got there: {twin}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// `mosquitto_sub -v` of device `d1` on `devices/d1/#`, killed on drop; lines arrive on a
/// channel as (topic, payload).
struct DeviceSubscriber {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<(String, String)>,
}

impl DeviceSubscriber {
    fn start(server: &Server, token: &str, persistent: bool) -> Self {
        use std::io::BufRead;
        let mqtt = server.mqtt.expect("MQTT listener");
        let mut command = std::process::Command::new("mosquitto_sub");
        command
            .args(["-h", "127.0.0.1", "-p", &mqtt.port().to_string()])
            .args(["-u", "d1", "-P", token, "-i", "d1-sub", "-q", "1", "-v"])
            .args(["-t", "devices/d1/#"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        if persistent {
            command.arg("-c");
        }
        let mut child = command.spawn().expect("mosquitto_sub");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Some((topic, payload)) = line.split_once(' ') {
                    let _ = tx.send((topic.to_owned(), payload.to_owned()));
                }
            }
        });
        DeviceSubscriber { child, lines }
    }

    /// The next payload on `topic` within `within`.
    fn next_on(&self, topic: &str, within: Duration) -> Option<Value> {
        let deadline = Instant::now() + within;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok((t, payload)) if t == topic => {
                    return Some(serde_json::from_str(&payload).expect("JSON payload"));
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    }

    /// Asks for the twin until the answer comes (the subscription is then in place).
    fn await_twin(&self, server: &Server, token: &str) -> Value {
        for _ in 0..40 {
            device_publish(server, token, "devices/d1/shadow/get", None);
            if let Some(twin) = self.next_on("devices/d1/shadow", Duration::from_millis(250)) {
                return twin;
            }
        }
        panic!("no answer to shadow/get");
    }
}

impl Drop for DeviceSubscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Publishes as device `d1` (its own client id) with QoS 1.
fn device_publish(server: &Server, token: &str, topic: &str, payload: Option<&str>) {
    let mqtt = server.mqtt.expect("MQTT listener");
    let mut command = std::process::Command::new("mosquitto_pub");
    command
        .args(["-h", "127.0.0.1", "-p", &mqtt.port().to_string()])
        .args([
            "-u", "d1", "-P", token, "-i", "d1-pub", "-q", "1", "-t", topic,
        ]);
    match payload {
        Some(payload) => command.args(["-m", payload]),
        None => command.arg("-n"),
    };
    let status = command.status().expect("mosquitto_pub");
    assert!(status.success(), "mosquitto_pub {topic}");
}

#[tokio::test]
async fn device_gets_its_twin_and_deltas_and_reports_over_mqtt() {
    let server = Server::start();
    let api = server.admin();
    let token = lamp(&api).await;
    let device = DeviceSubscriber::start(&server, &token, false);
    let twin = device.await_twin(&server, &token);
    assert_eq!(twin["version"], 0);
    assert_eq!(twin["delta"], json!({}));

    patch_desired(&server, None, json!({"level": 40, "mode": "manual"}))
        .await
        .expect(200);
    let delta = device
        .next_on("devices/d1/shadow/delta", Duration::from_secs(10))
        .expect("delta after the desired change");
    assert_eq!(
        delta,
        json!({"delta": {"level": 40, "mode": "manual"}, "version": 1})
    );

    device_publish(
        &server,
        &token,
        "devices/d1/shadow/reported",
        Some(r#"{"level": 40}"#),
    );
    let twin = shadow(&api).await;
    assert_eq!(twin["reported"], json!({"level": 40}));
    assert_eq!(twin["delta"], json!({"mode": "manual"}));
    assert_eq!(twin["version"], 2);

    // A bad report is refused whole and reported on the device's errors topic.
    device_publish(
        &server,
        &token,
        "devices/d1/shadow/reported",
        Some(r#"{"level": 400, "mode": "manual"}"#),
    );
    let error = device
        .next_on("devices/d1/errors", Duration::from_secs(10))
        .expect("error report");
    assert_eq!(error["error"]["code"], "invalid_payload");
    assert_eq!(error["error"]["details"]["cause"][0]["path"], "level");
    let twin = shadow(&api).await;
    assert_eq!(twin["reported"], json!({"level": 40}));
    assert_eq!(twin["version"], 2);
}

#[tokio::test]
async fn a_device_that_reconnects_gets_the_delta_it_missed() {
    let server = Server::start();
    let api = server.admin();
    let token = lamp(&api).await;
    let device = DeviceSubscriber::start(&server, &token, true);
    device.await_twin(&server, &token);
    drop(device);

    patch_desired(&server, None, json!({"level": 55}))
        .await
        .expect(200);
    let device = DeviceSubscriber::start(&server, &token, true);
    let delta = device
        .next_on("devices/d1/shadow/delta", Duration::from_secs(10))
        .expect("delta on reconnect");
    assert_eq!(delta["delta"], json!({"level": 55}));
}
