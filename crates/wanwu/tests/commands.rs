//! Commands over real HTTP and MQTT against the real binary: a device (paho, MQTT 5) that
//! answers on the reply topic or on the MQTT 5 response topic, wait mode and its timeout,
//! queued commands delivered on connect and across a restart, expiry, refused replies and
//! parameter validation.

mod common;

use common::{
    Api, PythonClient, Server, Subscriber, create_token, eventually, new_device_token, now_ms,
    provision_station,
};
use serde_json::{Value, json};
use std::time::Duration;

const DEVICE: &str = "st-1";

/// Product `aq` with command `blink {times: 1..10}` and device `st-1`; returns its token.
async fn station(api: &Api) -> String {
    provision_station(api).await;
    new_device_token(api, DEVICE).await
}

/// `command_device.py` as `st-1`, answering in `mode`; waits for its subscription.
fn device(server: &Server, token: &str, mode: &str, persistent: bool) -> PythonClient {
    let port = server.mqtt.expect("MQTT listener").port().to_string();
    let mut args = vec![
        "--port", &port, "--device", DEVICE, "--token", token, "--reply", mode,
    ];
    if persistent {
        args.push("--persistent");
    }
    let device = PythonClient::start("command_device.py", &args);
    device
        .next_with("subscribed", Duration::from_secs(20))
        .expect("device subscribed");
    device
}

async fn send(api: &Api, body: Value) -> common::Reply {
    api.post(&format!("/api/v1/devices/{DEVICE}/commands/blink"), body)
        .await
}

async fn status_of(api: &Api, id: &str) -> Value {
    api.get(&format!("/api/v1/commands/{id}"))
        .await
        .expect(200)
        .clone()
}

/// Polls the command until its status is `status`.
async fn eventually_status(api: &Api, id: &str, status: &str) -> Value {
    eventually(&format!("command {id} {status}"), || async {
        let command = status_of(api, id).await;
        (command["status"] == status).then_some(command)
    })
    .await
}

#[tokio::test]
async fn wait_mode_returns_the_reply_given_on_the_mqtt5_response_topic() {
    let server = Server::start();
    let api = server.admin();
    let token = station(&api).await;
    let device = device(&server, &token, "response-topic", false);

    let reply = send(&api, json!({"params": {"times": 3}, "timeout_ms": 10000})).await;
    let command = reply.expect(200).clone();
    assert_eq!(command["status"], "succeeded", "{command}");
    assert_eq!(command["result"], json!({"done": {"times": 3}}));
    assert_eq!(command["params"], json!({"times": 3}));
    assert_eq!(command["mode"], "wait");
    let id = command["id"].as_str().expect("id");
    for key in ["created_at", "sent_at", "finished_at"] {
        assert!(command[key].is_i64(), "{key} in {command}");
    }

    // The device got {"id", "params"} on its command topic, with the reply topic of the
    // command as MQTT 5 response topic and the command id as correlation data.
    let seen = device
        .next_with("command", Duration::from_secs(5))
        .expect("command");
    assert_eq!(seen["topic"], format!("devices/{DEVICE}/commands/blink"));
    let payload: Value = serde_json::from_str(seen["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload, json!({"id": id, "params": {"times": 3}}));
    assert_eq!(
        seen["response_topic"],
        format!("devices/{DEVICE}/replies/{id}")
    );
    assert_eq!(seen["correlation_data"], id);
    let answered = device
        .next_with("reply", Duration::from_secs(5))
        .expect("puback");
    assert_eq!(answered["puback"], 0);

    // Stored and listed.
    assert_eq!(status_of(&api, id).await, command);
    let list = api
        .get(&format!(
            "/api/v1/devices/{DEVICE}/commands?status=succeeded"
        ))
        .await;
    assert_eq!(common::ids(&list), [id]);
    let none = api
        .get(&format!("/api/v1/devices/{DEVICE}/commands?status=queued"))
        .await;
    assert!(common::ids(&none).is_empty());
}

#[tokio::test]
async fn an_error_reply_fails_the_command_and_no_reply_times_out() {
    let server = Server::start();
    let api = server.admin();
    let token = station(&api).await;
    {
        let _device = device(&server, &token, "error", false);
        let reply = send(&api, json!({"params": {"times": 1}})).await;
        let failed = reply.expect(200);
        assert_eq!(failed["status"], "failed");
        assert_eq!(failed["error"], "jammed");
    }

    let _device = device(&server, &token, "silent", false);
    let errors = Subscriber::start(&server, DEVICE, &token, &format!("devices/{DEVICE}/errors"));
    let reply = send(&api, json!({"params": {"times": 2}, "timeout_ms": 300})).await;
    reply.expect_error(504, "timeout");
    let id = reply.body["error"]["details"]["id"]
        .as_str()
        .expect("the failed command in details")
        .to_owned();
    let stored = status_of(&api, &id).await;
    assert_eq!(stored["status"], "failed");
    assert_eq!(stored["error"], "no reply within 300 ms");

    // A late reply is refused on devices/{id}/errors and changes nothing.
    let late = json!({"status": "ok", "result": {}}).to_string();
    let port = server.mqtt.expect("MQTT").port();
    let topic = format!("devices/{DEVICE}/replies/{id}");
    let out = common::mosquitto(
        "mosquitto_pub",
        port,
        &[
            "-u", DEVICE, "-P", &token, "-q", "1", "-t", &topic, "-m", &late,
        ],
    );
    assert!(out.status.success(), "{}", common::text(&out));
    let (_, report) = errors.next(Duration::from_secs(10)).expect("error report");
    let report: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["error"]["code"], "command_finished", "{report}");
    assert_eq!(status_of(&api, &id).await, stored);
}

#[tokio::test]
async fn replies_to_unknown_commands_are_refused_with_a_reason_code() {
    let server = Server::start();
    let api = server.admin();
    let token = station(&api).await;
    let probe = PythonClient::device_probe(
        &server,
        DEVICE,
        &token,
        &[
            &format!("sub:devices/{DEVICE}/errors"),
            &format!("pub:devices/{DEVICE}/replies/c-nope:1:{{\"status\": \"ok\"}}"),
            "recv:1",
        ],
    );
    let puback = probe
        .next_with("puback", Duration::from_secs(20))
        .expect("puback");
    assert_eq!(puback, 0x83, "implementation specific error");
    let message = probe
        .next_with("message", Duration::from_secs(20))
        .expect("report");
    let report: Value = serde_json::from_str(message["payload"].as_str().unwrap()).unwrap();
    assert_eq!(report["error"]["code"], "unknown_command");
    assert_eq!(
        report["error"]["details"]["topic"],
        format!("devices/{DEVICE}/replies/c-nope")
    );
}

#[tokio::test]
async fn queued_commands_reach_a_device_when_it_connects() {
    let server = Server::start();
    let api = server.admin();
    let token = station(&api).await;

    let reply = send(&api, json!({"params": {"times": 4}, "mode": "queue"})).await;
    let queued = reply.expect(202).clone();
    assert_eq!(queued["status"], "queued");
    let id = queued["id"].as_str().expect("id");
    assert!(queued["expires_at"].as_i64().unwrap() > queued["created_at"].as_i64().unwrap());

    let device = device(&server, &token, "topic", false);
    let seen = device
        .next_with("command", Duration::from_secs(20))
        .expect("queued command delivered");
    assert!(seen["payload"].as_str().unwrap().contains(id));
    let done = eventually_status(&api, id, "succeeded").await;
    assert_eq!(done["result"], json!({"done": {"times": 4}}));
    assert!(done["sent_at"].is_i64());
}

#[tokio::test]
async fn a_queued_command_survives_a_restart() {
    let server = Server::start();
    let api = server.admin();
    let token = station(&api).await;
    let reply = send(&api, json!({"params": {"times": 5}, "mode": "queue"})).await;
    let id = reply.expect(202)["id"].as_str().expect("id").to_owned();

    let server = server.restart();
    let api = server.admin();
    assert_eq!(status_of(&api, &id).await["status"], "queued");
    let _device = device(&server, &token, "topic", false);
    eventually_status(&api, &id, "succeeded").await;
}

#[tokio::test]
async fn queued_commands_expire() {
    let server = Server::start();
    let api = server.admin();
    station(&api).await;
    let expires_at = now_ms() + 1_000;
    let reply = send(
        &api,
        json!({"params": {"times": 1}, "mode": "queue", "expires_at": expires_at}),
    )
    .await;
    let id = reply.expect(202)["id"].as_str().expect("id").to_owned();
    let expired = eventually_status(&api, &id, "expired").await;
    assert_eq!(expired["error"], "not delivered before expires_at");
    let list = api
        .get(&format!("/api/v1/devices/{DEVICE}/commands?status=expired"))
        .await;
    assert_eq!(common::ids(&list), [id]);
}

#[tokio::test]
async fn bad_commands_are_refused_and_store_nothing() {
    let server = Server::start();
    let api = server.admin();
    station(&api).await;

    let too_many = send(&api, json!({"params": {"times": 11}, "mode": "queue"})).await;
    too_many.expect_error(422, "invalid_input");
    assert_eq!(too_many.body["error"]["details"][0]["path"], "params.times");
    let missing = send(&api, json!({"params": {}, "mode": "queue"})).await;
    assert_eq!(missing.body["error"]["details"][0]["path"], "params.times");
    let unknown = send(
        &api,
        json!({"params": {"times": 1, "speed": 2}, "mode": "queue"}),
    )
    .await;
    assert_eq!(unknown.body["error"]["details"][0]["path"], "params.speed");
    send(
        &api,
        json!({"params": {"times": 1}, "mode": "queue", "expires_at": 1}),
    )
    .await
    .expect_error(422, "invalid_input");
    send(&api, json!({"params": {"times": 1}, "timeout_ms": 0}))
        .await
        .expect_error(422, "invalid_input");
    send(&api, json!({"params": {"times": 1}, "mode": "later"}))
        .await
        .expect_error(422, "invalid_body");
    api.post(
        "/api/v1/devices/nope/commands/blink",
        json!({"params": {"times": 1}}),
    )
    .await
    .expect_error(404, "not_found");
    api.post(
        &format!("/api/v1/devices/{DEVICE}/commands/dance"),
        json!({}),
    )
    .await
    .expect_error(404, "not_found");
    // Waiting needs a connected device.
    send(&api, json!({"params": {"times": 1}}))
        .await
        .expect_error(409, "device_offline");
    // Viewers read but cannot send.
    let viewer = api.with_token(&create_token(&api, "viewer", None).await);
    viewer
        .post(
            &format!("/api/v1/devices/{DEVICE}/commands/blink"),
            json!({"params": {"times": 1}, "mode": "queue"}),
        )
        .await
        .expect_error(403, "forbidden");
    let list = viewer
        .get(&format!("/api/v1/devices/{DEVICE}/commands"))
        .await;
    assert!(
        common::ids(&list).is_empty(),
        "nothing stored: {}",
        list.text
    );
    viewer
        .get("/api/v1/commands/c-nope")
        .await
        .expect_error(404, "not_found");
    api.get(&format!("/api/v1/devices/{DEVICE}/commands?status=done"))
        .await
        .expect_error(422, "invalid_input");
}
