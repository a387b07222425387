//! Device events over real MQTT against the real binary: validated against the product's
//! event, stored in time order, filtered by time, name and severity; a bad event is refused
//! whole (reported on `devices/{id}/errors`, PUBACK 0x99) and stores nothing. Presence:
//! `GET /devices?status=online`.

mod common;

use common::{Api, PythonClient, Server, eventually, new_device_token, now_ms, provision_station};
use serde_json::{Value, json};
use std::time::Duration;

const DEVICE: &str = "st-1";

/// Product `aq` (event `fail` {code: int}, critical) plus event `door` (info, no params),
/// device `st-1`; returns its token.
async fn station(api: &Api) -> String {
    let mut product = common::air_station("aq");
    product["events"]
        .as_array_mut()
        .expect("events")
        .push(json!({"id": "door", "severity": "info"}));
    api.create("/api/v1/products", product).await;
    let device = api
        .post("/api/v1/devices", json!({"id": DEVICE, "product": "aq"}))
        .await;
    device.expect(201)["token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// Publishes `payloads` on the event topics with the MQTT 5 probe; returns the PUBACK codes.
fn publish(server: &Server, token: &str, events: &[(&str, Value)]) -> Vec<u64> {
    let steps: Vec<String> = events
        .iter()
        .map(|(name, payload)| format!("pub:devices/{DEVICE}/events/{name}:1:{payload}"))
        .collect();
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    let probe = PythonClient::device_probe(server, DEVICE, token, &steps);
    events
        .iter()
        .map(|_| {
            probe
                .next_with("puback", Duration::from_secs(20))
                .and_then(|code| code.as_u64())
                .expect("puback")
        })
        .collect()
}

async fn events(api: &Api, query: &str) -> Vec<Value> {
    let reply = api
        .get(&format!("/api/v1/devices/{DEVICE}/events{query}"))
        .await;
    let body = reply.expect(200);
    assert_eq!(body["device"], DEVICE);
    body["events"].as_array().expect("events").clone()
}

#[tokio::test]
async fn events_are_stored_in_time_order_and_filtered() {
    let server = Server::start();
    let api = server.admin();
    let token = station(&api).await;
    let t0 = now_ms() - 60_000;
    let codes = publish(
        &server,
        &token,
        &[
            ("fail", json!({"params": {"code": 7}, "ts": t0})),
            ("door", json!({"ts": t0 + 1000})),
            ("fail", json!({"params": {"code": 9}, "ts": t0 + 2000})),
        ],
    );
    assert_eq!(codes, [0, 0, 0]);

    let all = events(&api, "").await;
    let seen: Vec<(&str, i64)> = all
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["ts"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [("fail", t0 + 2000), ("door", t0 + 1000), ("fail", t0)]
    );
    assert_eq!(
        all[0],
        json!({"device": DEVICE, "name": "fail", "severity": "critical", "ts": t0 + 2000,
               "params": {"code": 9}})
    );

    let oldest_first = events(&api, "?order=asc&limit=2").await;
    assert_eq!(oldest_first[0]["ts"], t0);
    assert_eq!(oldest_first.len(), 2);
    let critical = events(&api, "?severity=critical").await;
    assert_eq!(critical.len(), 2);
    assert!(critical.iter().all(|e| e["name"] == "fail"));
    let doors = events(&api, "?name=door").await;
    assert_eq!(doors.len(), 1);
    let window = events(&api, &format!("?from={}&to={}", t0 + 500, t0 + 1500)).await;
    assert_eq!(window.len(), 1);
    assert_eq!(window[0]["name"], "door");
    api.get(&format!("/api/v1/devices/{DEVICE}/events?name=nope"))
        .await
        .expect(400);
    api.get("/api/v1/devices/nope/events")
        .await
        .expect_error(404, "not_found");

    // Kept across a restart.
    let server = server.restart();
    assert_eq!(events(&server.admin(), "").await.len(), 3);
}

#[tokio::test]
async fn bad_events_are_refused_whole() {
    let server = Server::start();
    let api = server.admin();
    let token = station(&api).await;
    let errors =
        common::Subscriber::start(&server, DEVICE, &token, &format!("devices/{DEVICE}/errors"));
    // mosquitto_sub prints nothing until a message arrives: give it time to subscribe.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let codes = publish(
        &server,
        &token,
        &[
            ("fail", json!({"params": {"code": "high"}})),
            ("fail", json!({"params": {"other": 1}})),
            ("explode", json!({"params": {}})),
            ("fail", json!([1])),
        ],
    );
    assert_eq!(codes, [0x99, 0x99, 0x99, 0x99]);
    let (topic, report) = errors.next(Duration::from_secs(10)).expect("error report");
    assert_eq!(topic, format!("devices/{DEVICE}/errors"));
    let report: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["error"]["code"], "invalid_payload");
    assert_eq!(
        report["error"]["details"]["cause"][0]["path"],
        "params.code"
    );
    assert!(events(&api, "").await.is_empty());
}

#[tokio::test]
async fn online_devices_are_listed_by_status() {
    let server = Server::start();
    let api = server.admin();
    provision_station(&api).await;
    let token = new_device_token(&api, DEVICE).await;
    let offline = api.get("/api/v1/devices?status=online").await;
    assert!(common::ids(&offline).is_empty());
    let _connected = PythonClient::device_probe(&server, DEVICE, &token, &["wait:30"]);
    eventually("st-1 online", || async {
        let online = api.get("/api/v1/devices?status=online").await;
        (common::ids(&online) == [DEVICE]).then_some(())
    })
    .await;
    let offline = api.get("/api/v1/devices?status=offline").await;
    assert!(common::ids(&offline).is_empty());
}
