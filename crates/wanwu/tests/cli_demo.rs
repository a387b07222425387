//! `wanwu demo` through the real binary: it serves, provisions the demo city through its
//! own API, runs the devices over MQTT, and is seen from outside through the REST API:
//! the city's assets, devices online, telemetry flowing, a rule fired. Street lights obey
//! commands and the desired twin. SIGINT and SIGTERM stop it cleanly.

mod common;

use common::{Api, Server};
use serde_json::Value;
use std::time::{Duration, Instant};

/// How long the demo may take to show each expected state.
const DEADLINE: Duration = Duration::from_secs(90);
/// Devices simulated: a few of every scenario, light enough for a shared machine.
const DEVICES: usize = 18;

fn start_demo() -> Server {
    Server::builder()
        .subcommand("demo")
        .arg("--devices")
        .arg(DEVICES.to_string())
        .arg("--seed")
        .arg("3")
        .start()
}

/// Polls `check` until it gives a value or the deadline passes.
async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The items of a list reply at `path`, once it answers 200.
async fn items(api: &Api, path: &str) -> Vec<Value> {
    let reply = api.get(path).await;
    reply.expect(200)["items"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("not a list: {}", reply.text))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_city_comes_online_with_data_flowing_and_sigterm_stops_it() {
    let mut server = start_demo();
    let api = server.admin();

    let devices = eventually("every device provisioned", async || {
        let devices = items(&api, "/api/v1/devices?limit=1000").await;
        (devices.len() == DEVICES).then_some(devices)
    })
    .await;
    let products: std::collections::BTreeSet<&str> = devices
        .iter()
        .filter_map(|d| d["product"].as_str())
        .collect();
    assert_eq!(
        products.len(),
        6,
        "every scenario has devices: {products:?}"
    );
    assert!(
        devices.iter().all(|d| d["asset"].is_string()
            && d["location"]["lat"].is_number()
            && d["location"]["lon"].is_number()),
        "devices sit at sites with coordinates: {devices:?}"
    );

    let assets = items(&api, "/api/v1/assets?limit=1000").await;
    let city = assets
        .iter()
        .find(|a| a["id"] == "haixin")
        .unwrap_or_else(|| panic!("no city asset in {assets:?}"));
    assert!(city["parent"].is_null(), "the city is the root: {city}");
    let districts = assets.iter().filter(|a| a["parent"] == "haixin").count();
    assert_eq!(districts, 6, "{assets:?}");

    let station = online_device_of(&api, "air_station").await;
    let values = eventually("air-quality telemetry stored", async || {
        let latest = api
            .get(&format!("/api/v1/devices/{station}/telemetry/latest"))
            .await;
        let values = latest.body["values"].clone();
        values["pm25"].is_object().then_some(values)
    })
    .await;
    assert!(values["pm10"].is_object(), "{values}");

    // The example rules are stored, and the AQI rule fires on every station reading,
    // writing the index as derived telemetry.
    let rules = items(&api, "/api/v1/rules?limit=100").await;
    let rule_ids: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
    for id in [
        "aqi",
        "pm25-high",
        "water-leak",
        "transformer-overload",
        "street-lights-evening",
    ] {
        assert!(rule_ids.contains(&id), "no rule {id} in {rule_ids:?}");
    }
    let aqi = eventually("the AQI rule fired and derived aqi", async || {
        let rule = api.get("/api/v1/rules/aqi").await;
        let fired = rule.body["metrics"]["firings"].as_u64().unwrap_or(0) > 0;
        let latest = api
            .get(&format!("/api/v1/devices/{station}/telemetry/latest"))
            .await;
        let aqi = latest.body["values"]["aqi"]["value"].as_i64();
        aqi.filter(|_| fired)
    })
    .await;
    assert!((0..=500).contains(&aqi), "aqi {aqi}");

    let lines = server.stdout_lines().join("\n");
    assert!(
        lines.contains(&format!("console:     http://{}/", server.http)),
        "console URL printed:\n{lines}"
    );
    assert!(
        lines.contains(&format!("admin token: {}", server.admin_token)),
        "token printed:\n{lines}"
    );

    let status = server.terminate();
    assert!(status.success(), "{status}\n{}", server.stderr());
    // The summary reaches the pipe reader just after the exit.
    eventually("the simulator's summary printed", async || {
        let lines = server.stdout_lines();
        lines
            .iter()
            .any(|l| l.starts_with("acknowledged"))
            .then_some(())
    })
    .await;
}

/// The id of the first device of `product` in the demo, once every device is online.
async fn online_device_of(api: &Api, product: &str) -> String {
    let online = eventually("every device online", async || {
        let online = items(api, "/api/v1/devices?status=online&limit=1000").await;
        (online.len() == DEVICES).then_some(online)
    })
    .await;
    online
        .iter()
        .find(|d| d["product"] == product)
        .and_then(|d| d["id"].as_str())
        .unwrap_or_else(|| panic!("no {product} in {online:?}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn street_lights_obey_commands_and_the_desired_twin() {
    let server = start_demo();
    let api = server.admin();
    let light = online_device_of(&api, "street_light").await;

    // A command is answered on devices/{id}/replies/{command_id} with the new state.
    let reply = api
        .post(
            &format!("/api/v1/devices/{light}/commands/set_power"),
            serde_json::json!({"params": {"on": false, "level": 0}, "mode": "wait", "timeout_ms": 20000}),
        )
        .await;
    let command = reply.expect(200);
    assert_eq!(command["status"], "succeeded", "{command}");
    assert_eq!(command["result"]["on"], false, "{command}");
    assert_eq!(command["result"]["level"], 0, "{command}");

    // A command the thing model does not know is refused before it reaches the device.
    api.post(
        &format!("/api/v1/devices/{light}/commands/self_destruct"),
        serde_json::json!({"params": {}}),
    )
    .await
    .expect_error(404, "not_found");

    // Desired state reaches the light as a delta; it takes it and reports it back.
    api.patch(
        &format!("/api/v1/devices/{light}/shadow/desired"),
        serde_json::json!({"on": true, "level": 60}),
    )
    .await
    .expect(200);
    let shadow = eventually("the light reports the desired state", async || {
        let shadow = api.get(&format!("/api/v1/devices/{light}/shadow")).await;
        let body = shadow.body.clone();
        (body["reported"]["on"] == true && body["reported"]["level"] == 60).then_some(body)
    })
    .await;
    assert!(
        shadow["delta"].get("on").is_none() && shadow["delta"].get("level").is_none(),
        "nothing left to apply: {shadow}"
    );
    // Its telemetry follows: the lamp is on at the desired level.
    eventually("telemetry of the light turned on", async || {
        let latest = api
            .get(&format!("/api/v1/devices/{light}/telemetry/latest"))
            .await;
        let values = &latest.body["values"];
        (values["on"]["value"] == true && values["level"]["value"] == 60).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_the_demo_cleanly() {
    let mut server = start_demo();
    let api = server.admin();
    eventually("devices online", async || {
        let online = items(&api, "/api/v1/devices?status=online&limit=1000").await;
        (!online.is_empty()).then_some(())
    })
    .await;
    let status = server.stop_with("INT");
    assert!(status.success(), "{status}\n{}", server.stderr());
    assert!(
        server.stderr().contains("SIGINT received"),
        "{}",
        server.stderr()
    );
}

#[test]
fn a_speed_below_one_is_a_usage_error() {
    let output = std::process::Command::new(common::binary())
        .args(["demo", "--speed", "0.5"])
        .output()
        .expect("running wanwu demo");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--speed"), "{stderr}");
}
