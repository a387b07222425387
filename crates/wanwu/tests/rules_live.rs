//! The live rule engine against the real binary: rules stored over HTTP, fed by telemetry
//! sent over HTTP and MQTT, by twin and alarm changes and by schedules, acting on the
//! platform (alarms with debounce and hysteresis, derived telemetry, MQTT publish received
//! by `mosquitto_sub`, webhooks with retries against a local HTTP server, desired twin keys,
//! commands), scenes run on demand, persistence across restart and a self-triggering rule
//! that stops at the hop limit.

mod common;

use common::{Api, Server, Subscriber, air_station, create_token, device_publish, eventually};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A meter product: voltage, current, derived power, and a counter for loop tests.
fn meter() -> Value {
    json!({
        "id": "meter", "name": "Meter",
        "properties": [
            {"id": "v", "type": "float"}, {"id": "i", "type": "float"},
            {"id": "power", "type": "float"}, {"id": "n", "type": "int"}
        ]
    })
}

/// Creates product `meter`, device `m-1` of it and `rule`; returns the device's token.
async fn meter_with_rule(api: &Api, rule: Value) -> String {
    api.post("/api/v1/products", meter()).await.expect(201);
    let token = device(api, "m-1", "meter").await;
    api.post("/api/v1/rules", rule).await.expect(201);
    token
}

/// Creates product `aq`, device `st-1` and `rule`; returns the device's token.
async fn station_with_rule(api: &Api, rule: Value) -> String {
    let token = station(api).await;
    api.post("/api/v1/rules", rule).await.expect(201);
    token
}

/// Creates product `aq` and device `st-1`; returns the device's token.
async fn station(api: &Api) -> String {
    api.post("/api/v1/products", air_station("aq"))
        .await
        .expect(201);
    device(api, "st-1", "aq").await
}

async fn device(api: &Api, id: &str, product: &str) -> String {
    let reply = api
        .post("/api/v1/devices", json!({"id": id, "product": product}))
        .await;
    reply.expect(201)["token"]
        .as_str()
        .expect("device token")
        .to_owned()
}

/// Sends telemetry of `device` over HTTP with its token.
async fn send(server: &Server, device: &str, token: &str, values: Value) {
    server
        .anonymous()
        .with_token(token)
        .post(&format!("/api/v1/devices/{device}/telemetry"), values)
        .await
        .expect(200);
}

/// The alarms of `device` (all statuses).
async fn alarms_of(api: &Api, device: &str) -> Vec<Value> {
    let reply = api.get(&format!("/api/v1/alarms?device={device}")).await;
    reply.expect(200)["items"]
        .as_array()
        .expect("items")
        .clone()
}

/// Waits until rule `id` has evaluated at least `n` inputs; returns the rule.
async fn evaluated(api: &Api, id: &str, n: u64) -> Value {
    eventually(&format!("{n} evaluations of {id}"), || async {
        let rule = api.get(&format!("/api/v1/rules/{id}")).await.body;
        (rule["metrics"]["evaluations"].as_u64() >= Some(n)).then_some(rule)
    })
    .await
}

#[tokio::test]
async fn threshold_alarm_waits_for_its_debounce_and_clears_with_hysteresis() {
    let server = Server::start();
    let admin = server.admin();
    let token = station_with_rule(
        &admin,
        json!({
            "id": "high-pm25", "name": "PM2.5 too high",
            "trigger": {"type": "message", "devices": {"product": "aq"}},
            "condition": "msg.values.pm25 > 75.0",
            "for": "1s",
            "clear": {"condition": "msg.values.pm25 < 50.0",
                      "actions": [{"type": "clear_alarm", "alarm": "high_pm25"}]},
            "actions": [{"type": "raise_alarm", "alarm": "high_pm25", "severity": "major",
                         "details": {"pm25": "${values.pm25}"}}]
        }),
    )
    .await;

    send(&server, "st-1", &token, json!({"pm25": 120.0})).await;
    evaluated(&admin, "high-pm25", 1).await;
    assert!(
        alarms_of(&admin, "st-1").await.is_empty(),
        "no alarm before the condition held for 1 s"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    send(&server, "st-1", &token, json!({"pm25": 130.0})).await;
    let alarm = eventually("the alarm raised", || async {
        alarms_of(&admin, "st-1").await.into_iter().next()
    })
    .await;
    assert_eq!(alarm["type"], "high_pm25");
    assert_eq!(alarm["status"], "active");
    assert_eq!(alarm["severity"], "major");

    // Between the two thresholds nothing changes; below the clear threshold it clears.
    send(&server, "st-1", &token, json!({"pm25": 60.0})).await;
    evaluated(&admin, "high-pm25", 3).await;
    assert_eq!(alarms_of(&admin, "st-1").await[0]["status"], "active");
    send(&server, "st-1", &token, json!({"pm25": 20.0})).await;
    eventually("the alarm cleared", || async {
        (alarms_of(&admin, "st-1").await[0]["status"] == "cleared").then_some(())
    })
    .await;
    let rule = admin.get("/api/v1/rules/high-pm25").await.body;
    assert_eq!(rule["metrics"]["firings"], 2, "raise and clear: {rule}");
    assert_eq!(rule["outcomes"]["actions_failed"], 0, "{rule}");
}

#[tokio::test]
async fn derived_power_is_written_back_as_telemetry() {
    let server = Server::start();
    let admin = server.admin();
    let token = meter_with_rule(
        &admin,
        json!({
            "id": "power", "trigger": {"type": "message", "devices": {"product": "meter"}},
            "condition": "has(msg.values.v) && has(msg.values.i)",
            "actions": [{"type": "derive", "key": "power", "expr": "msg.values.v * msg.values.i"}]
        }),
    )
    .await;
    send(&server, "m-1", &token, json!({"v": 230.0, "i": 2.5})).await;
    let power = eventually("the derived power", || async {
        let latest = admin.get("/api/v1/devices/m-1/telemetry/latest").await.body;
        latest.to_string().contains("power").then_some(latest)
    })
    .await;
    assert!(power.to_string().contains("575"), "power = V x I: {power}");
}

#[tokio::test]
async fn a_rule_that_triggers_itself_stops_at_the_hop_limit() {
    let server = Server::start();
    let admin = server.admin();
    let token = meter_with_rule(
        &admin,
        json!({
            "id": "count-up", "trigger": {"type": "message", "devices": {"ids": ["m-1"]}},
            "condition": "has(msg.values.n)",
            "actions": [{"type": "derive", "key": "n", "expr": "msg.values.n + 1"}]
        }),
    )
    .await;
    send(&server, "m-1", &token, json!({"n": 0})).await;
    // The chain runs a few rounds, then stops: the firing count settles.
    let mut last = 0;
    let mut steady = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rule = admin.get("/api/v1/rules/count-up").await.body;
        let firings = rule["metrics"]["firings"].as_u64().unwrap_or(0);
        steady = if firings == last && firings > 0 {
            steady + 1
        } else {
            0
        };
        last = firings;
        if steady == 10 {
            break;
        }
    }
    assert_eq!(steady, 10, "the firing count kept growing: {last}");
    assert!((2..=16).contains(&last), "a bounded chain: {last} firings");
    let latest = admin.get("/api/v1/devices/m-1/telemetry/latest").await.body;
    assert!(
        latest.to_string().contains(&format!("{last}")),
        "n counted up once per firing: {latest}"
    );
}

#[tokio::test]
async fn publish_action_reaches_an_mqtt_subscriber_of_the_tenant() {
    let server = Server::start();
    let admin = server.admin();
    let token = station_with_rule(
        &admin,
        json!({
            "id": "relay", "trigger": {"type": "message"},
            "actions": [{"type": "publish", "topic": "alerts/${device}", "qos": 1,
                         "payload": {"pm25": "${values.pm25}"}}]
        }),
    )
    .await;
    let subscriber = Subscriber::start(&server, "app", &server.admin_token, "alerts/#");
    // The subscription is in place once a message comes through; send until one does.
    let mut got = None;
    for _ in 0..40 {
        device_publish(
            &server,
            "st-1",
            &token,
            "devices/st-1/telemetry",
            r#"{"pm25": 42.5}"#,
        );
        if let Some(line) = subscriber.next(Duration::from_millis(500)) {
            got = Some(line);
            break;
        }
    }
    let (topic, payload) = got.expect("a published alert");
    assert_eq!(topic, "alerts/st-1");
    let payload: Value = serde_json::from_str(&payload).expect("JSON payload");
    assert_eq!(payload["pm25"], 42.5);
}

/// A local HTTP server answering 500 to the first `failures` requests and 200 after;
/// returns its URL and the count of requests.
async fn flaky_webhook(failures: usize) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 16 * 1024];
                let mut read = 0;
                // Headers, then as much body as Content-Length says.
                loop {
                    let Ok(got) = socket.read(&mut buffer[read..]).await else {
                        return;
                    };
                    if got == 0 {
                        return;
                    }
                    read += got;
                    let text = String::from_utf8_lossy(&buffer[..read]).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if read >= end + 4 + length {
                            break;
                        }
                    }
                }
                let status = if n < failures {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let answer =
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, count)
}

#[tokio::test]
async fn webhook_is_retried_and_its_outcome_shown_with_the_rule() {
    let (url, calls) = flaky_webhook(1).await;
    let server = Server::start();
    let admin = server.admin();
    let token = station_with_rule(
        &admin,
        json!({
            "id": "notify", "trigger": {"type": "message"},
            "actions": [{"type": "webhook", "url": url, "retries": 2, "backoff": "100ms",
                         "body": {"device": "${device}"}}]
        }),
    )
    .await;
    send(&server, "st-1", &token, json!({"pm25": 1.0})).await;
    let rule = eventually("the webhook outcome", || async {
        let rule = admin.get("/api/v1/rules/notify").await.body;
        (rule["outcomes"]["recent"]
            .as_array()
            .is_some_and(|r| !r.is_empty()))
        .then_some(rule)
    })
    .await;
    let outcome = &rule["outcomes"]["recent"][0]["actions"][0];
    assert_eq!(outcome["ok"], true, "{rule}");
    assert_eq!(outcome["webhook"]["attempts"], 2, "{rule}");
    assert_eq!(outcome["webhook"]["status"], 200, "{rule}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // The outcome is stored: the rule shows it after a restart.
    let server = server.restart();
    let rule = server.admin().get("/api/v1/rules/notify").await;
    let recent = &rule.expect(200)["outcomes"]["recent"];
    assert_eq!(recent.as_array().map(Vec::len), Some(1), "{}", rule.body);
    let outcome = &recent[0]["actions"][0];
    assert_eq!(outcome["ok"], true, "{}", rule.body);
    assert_eq!(outcome["webhook"]["attempts"], 2, "{}", rule.body);
    assert_eq!(recent[0]["device"], "st-1", "{}", rule.body);
}

#[tokio::test]
async fn set_desired_and_command_actions_reach_the_device() {
    let server = Server::start();
    let admin = server.admin();
    let token = station_with_rule(
        &admin,
        json!({
            "id": "react", "trigger": {"type": "message"},
            "condition": "msg.values.pm25 > 100.0",
            "actions": [
                {"type": "set_desired", "values": {"mode": "manual"}},
                {"type": "command", "name": "blink", "params": {"times": 3}}
            ]
        }),
    )
    .await;
    let device = Subscriber::start(&server, "st-1", &token, "devices/st-1/#");
    tokio::time::sleep(Duration::from_millis(500)).await;
    send(&server, "st-1", &token, json!({"pm25": 300.0})).await;
    let mut delta = None;
    let mut command = None;
    while delta.is_none() || command.is_none() {
        let (topic, payload) = device
            .next(Duration::from_secs(15))
            .unwrap_or_else(|| panic!("delta {delta:?}, command {command:?}"));
        let payload: Value = serde_json::from_str(&payload).unwrap_or(Value::Null);
        if topic == "devices/st-1/shadow/delta" {
            delta = Some(payload);
        } else if topic == "devices/st-1/commands/blink" {
            command = Some(payload);
        }
    }
    assert!(delta.unwrap().to_string().contains("manual"));
    assert_eq!(command.unwrap()["params"]["times"], 3);
    let twin = admin.get("/api/v1/devices/st-1/shadow").await.body;
    assert_eq!(twin["desired"]["mode"], "manual", "{twin}");
}

#[tokio::test]
async fn twin_and_alarm_changes_and_schedules_trigger_rules() {
    let server = Server::start();
    let admin = server.admin();
    station(&admin).await;
    for rule in [
        json!({"id": "on-desired", "trigger": {"type": "message", "kinds": ["twin"]},
               "actions": [{"type": "raise_alarm", "alarm": "twin_changed", "severity": "info"}]}),
        json!({"id": "on-alarm", "trigger": {"type": "alarm", "types": ["manual"]},
               "actions": [{"type": "raise_alarm", "alarm": "escalated", "severity": "critical"}]}),
        json!({"id": "tick", "trigger": {"type": "schedule", "cron": "* * * * * *", "tz": "Asia/Shanghai"},
               "actions": [{"type": "raise_alarm", "alarm": "heartbeat", "severity": "info",
                            "device": "st-1"}]}),
    ] {
        admin.post("/api/v1/rules", rule).await.expect(201);
    }
    admin
        .patch(
            "/api/v1/devices/st-1/shadow/desired",
            json!({"mode": "auto"}),
        )
        .await
        .expect(200);
    admin
        .post(
            "/api/v1/alarms",
            json!({"device": "st-1", "type": "manual", "severity": "minor"}),
        )
        .await
        .expect(201);
    let types = eventually("alarms of all three triggers", || async {
        let alarms = alarms_of(&admin, "st-1").await;
        let types: Vec<String> = alarms
            .iter()
            .map(|a| a["type"].as_str().unwrap_or_default().to_owned())
            .collect();
        ["twin_changed", "escalated", "heartbeat"]
            .iter()
            .all(|t| types.iter().any(|have| have == t))
            .then_some(types)
    })
    .await;
    assert!(types.contains(&"manual".to_owned()));
}

#[tokio::test]
async fn rules_and_scenes_are_managed_per_tenant_and_survive_restart() {
    let server = Server::start();
    let admin = server.admin();
    station(&admin).await;
    let rule = json!({"id": "r1", "trigger": {"type": "message"},
                      "condition": "msg.values.pm25 > 1.0",
                      "actions": [{"type": "raise_alarm", "alarm": "a", "severity": "minor"}]});
    let created = admin.post("/api/v1/rules", rule.clone()).await;
    let body = created.expect(201);
    assert_eq!(body["enabled"], true);
    assert_eq!(body["metrics"]["evaluations"], 0);
    admin
        .post("/api/v1/rules", rule.clone())
        .await
        .expect_error(409, "already_exists");

    // A condition that does not compile: 400 with its position, nothing stored.
    let mut bad = rule.clone();
    bad["id"] = "bad".into();
    bad["condition"] = "msg.values.pm25 >\n  (1.0 +".into();
    let reply = admin.post("/api/v1/rules", bad).await;
    reply.expect_error(400, "invalid_rule");
    let details = reply.body["error"]["details"].to_string();
    assert!(
        details.contains("line") && details.contains("column"),
        "{details}"
    );
    admin
        .get("/api/v1/rules/bad")
        .await
        .expect_error(404, "not_found");

    let mut changed = rule.clone();
    changed["name"] = "renamed".into();
    let put = admin
        .send(
            "PUT",
            "/api/v1/rules/r1",
            Some(changed.to_string().into_bytes()),
        )
        .await;
    assert_eq!(put.expect(200)["name"], "renamed");
    let disabled = admin.post("/api/v1/rules/r1/disable", json!({})).await;
    assert_eq!(disabled.expect(200)["enabled"], false);

    // Viewers read and cannot write; another tenant sees nothing.
    let viewer = server
        .anonymous()
        .with_token(&create_token(&admin, "viewer", None).await);
    viewer.get("/api/v1/rules/r1").await.expect(200);
    viewer
        .post("/api/v1/rules/r1/enable", json!({}))
        .await
        .expect_error(403, "forbidden");
    viewer
        .delete("/api/v1/rules/r1")
        .await
        .expect_error(403, "forbidden");
    let other = server.second_tenant(&admin).await;
    other
        .get("/api/v1/rules/r1")
        .await
        .expect_error(404, "not_found");
    assert_eq!(
        other.get("/api/v1/rules").await.expect(200)["items"],
        json!([])
    );

    // A scene raising an alarm, run on demand.
    admin
        .post(
            "/api/v1/scenes",
            json!({"id": "all-off", "name": "All off",
                   "actions": [{"type": "raise_alarm", "alarm": "scene_ran", "severity": "info",
                                "device": "st-1"},
                               {"type": "set_desired", "devices": ["st-1"], "values": {"mode": "manual"}}]}),
        )
        .await
        .expect(201);
    viewer
        .post("/api/v1/scenes/all-off/run", json!({}))
        .await
        .expect_error(403, "forbidden");
    let run = admin.post("/api/v1/scenes/all-off/run", json!({})).await;
    let run = run.expect(200);
    let actions = run["actions"].as_array().expect("outcomes");
    assert_eq!(actions.len(), 2, "{run}");
    assert!(actions.iter().all(|a| a["ok"] == true), "{run}");
    let alarm_id = alarms_of(&admin, "st-1").await[0]["id"].clone();
    admin
        .post("/api/v1/scenes/nope/run", json!({}))
        .await
        .expect_error(404, "not_found");

    let server = server.restart();
    let admin = server.admin();
    let rule = admin.get("/api/v1/rules/r1").await;
    assert_eq!(rule.expect(200)["name"], "renamed");
    assert_eq!(rule.body["enabled"], false);
    assert_eq!(
        admin.get("/api/v1/scenes").await.expect(200)["items"][0]["id"],
        "all-off"
    );
    let alarm = admin
        .get(&format!("/api/v1/alarms/{}", alarm_id.as_str().unwrap()))
        .await;
    assert_eq!(alarm.expect(200)["status"], "active");
    admin.delete("/api/v1/rules/r1").await.expect(204);
    admin.delete("/api/v1/scenes/all-off").await.expect(204);
    admin
        .get("/api/v1/rules/r1")
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn device_events_and_presence_trigger_rules() {
    let server = Server::start();
    let admin = server.admin();
    let token = station(&admin).await;
    for rule in [
        json!({"id": "on-fail", "trigger": {"type": "message", "kinds": ["event"]},
               "condition": "msg.event == 'fail'",
               "actions": [{"type": "raise_alarm", "alarm": "failed", "severity": "critical",
                            "details": {"code": "${values.code}"}}]}),
        json!({"id": "on-online", "trigger": {"type": "message", "kinds": ["presence"]},
               "condition": "msg.values.online",
               "actions": [{"type": "raise_alarm", "alarm": "came_online", "severity": "info"}]}),
    ] {
        admin.post("/api/v1/rules", rule).await.expect(201);
    }
    device_publish(
        &server,
        "st-1",
        &token,
        "devices/st-1/events/fail",
        r#"{"params": {"code": 7}}"#,
    );
    let alarms = eventually("alarms of the event and the presence", || async {
        let alarms = alarms_of(&admin, "st-1").await;
        let has = |t: &str| alarms.iter().any(|a| a["type"] == t);
        (has("failed") && has("came_online")).then_some(alarms)
    })
    .await;
    let failed = alarms
        .iter()
        .find(|a| a["type"] == "failed")
        .expect("failed");
    assert_eq!(failed["details"]["code"], 7, "{failed}");
}
