//! Live data over WebSocket (`GET /api/v1/ws`) against the real binary, with a real
//! WebSocket client: authentication by query and by first frame, subscriptions by device,
//! product and asset subtree, telemetry from MQTT and HTTP, twin changes, presence, tenant
//! isolation, frame errors that keep the socket open, and a slow consumer closed with 4008.

mod common;

use common::{Api, Server, create_device, create_token, device_publish, ingest, provision_station};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a frame may take to arrive.
const WITHIN: Duration = Duration::from_secs(10);
/// How long to watch for a frame that must not come.
const QUIET: Duration = Duration::from_millis(700);

/// A WebSocket client of `/api/v1/ws`.
struct Live {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How a socket ended: the close code and reason, or `None` without a close frame.
type Closed = Option<(u16, String)>;

impl Live {
    /// Connects with `query` (e.g. `?token=...`).
    async fn connect(server: &Server, query: &str) -> Live {
        let url = format!("ws://{}/api/v1/ws{query}", server.http);
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("WebSocket upgrade");
        Live { socket }
    }

    /// Connects with `?token=` and waits for `ready`.
    async fn ready(server: &Server, token: &str) -> Live {
        let mut live = Live::connect(server, &format!("?token={token}")).await;
        live.expect("ready").await;
        live
    }

    async fn send(&mut self, frame: Value) {
        self.socket
            .send(Message::text(frame.to_string()))
            .await
            .expect("send frame");
    }

    /// The next JSON frame within `within`; `Err` when the socket closed instead.
    async fn next_within(&mut self, within: Duration) -> Option<Result<Value, Closed>> {
        loop {
            let message = match tokio::time::timeout(within, self.socket.next()).await {
                Err(_) => return None,
                Ok(None | Some(Err(_))) => return Some(Err(None)),
                Ok(Some(Ok(message))) => message,
            };
            match message {
                Message::Text(text) => {
                    return Some(Ok(serde_json::from_str(&text).expect("JSON frame")));
                }
                Message::Close(frame) => {
                    return Some(Err(frame.map(|f| (u16::from(f.code), f.reason.to_string()))));
                }
                _ => {}
            }
        }
    }

    /// The next frame, whatever its type.
    async fn expect_any(&mut self) -> Value {
        self.next_within(WITHIN)
            .await
            .unwrap_or_else(|| panic!("no frame within {WITHIN:?}"))
            .unwrap_or_else(|closed| panic!("closed ({closed:?}) instead of a frame"))
    }

    /// The next frame, which must be of `kind` (its `type`).
    async fn expect(&mut self, kind: &str) -> Value {
        let frame = self.expect_any().await;
        assert_eq!(frame["type"], kind, "unexpected frame {frame}");
        frame
    }

    /// Subscribes and waits for `subscribed`.
    async fn subscribe(&mut self, subscription: Value) {
        let id = subscription["id"].clone();
        let mut frame = subscription;
        frame["type"] = "subscribe".into();
        self.send(frame).await;
        assert_eq!(self.expect("subscribed").await["id"], id);
    }

    /// The error frame answering the last frame sent; returns its `error.code`.
    async fn expect_error(&mut self) -> String {
        let frame = self.expect("error").await;
        assert!(
            frame["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "error without message: {frame}"
        );
        frame["error"]["code"].as_str().expect("code").to_owned()
    }

    /// Fails if a frame arrives within [`QUIET`].
    async fn expect_quiet(&mut self) {
        if let Some(frame) = self.next_within(QUIET).await {
            panic!("unexpected frame: {frame:?}");
        }
    }

    /// Waits for the close frame and returns its code and reason; frames before it are
    /// skipped and counted.
    async fn expect_close(&mut self) -> (u16, String, usize) {
        let mut skipped = 0;
        loop {
            match self.next_within(WITHIN).await {
                None => panic!("socket not closed within {WITHIN:?}"),
                Some(Ok(_)) => skipped += 1,
                Some(Err(Some((code, reason)))) => return (code, reason, skipped),
                Some(Err(None)) => panic!("socket ended without a close frame"),
            }
        }
    }
}

/// Product `aq`, asset `sh`, device `st-1` of `aq` under `sh` (see
/// [`provision_station`]); returns the device's token (rotated, so it is known).
async fn station(api: &Api) -> String {
    provision_station(api).await;
    device_token(api, "st-1").await
}

/// A new token of `device`.
async fn device_token(api: &Api, device: &str) -> String {
    let reply = api
        .post(&format!("/api/v1/devices/{device}/token"), json!({}))
        .await;
    reply.expect(200)["token"]
        .as_str()
        .expect("device token")
        .to_owned()
}

/// A server with [`station`], its device token, and a socket of the admin subscribed with
/// `subscription` (without `type`).
async fn watched_station(subscription: Value) -> (Server, Api, String, Live) {
    let server = Server::start();
    let admin = server.admin();
    let token = station(&admin).await;
    let mut live = Live::ready(&server, &server.admin_token).await;
    live.subscribe(subscription).await;
    (server, admin, token, live)
}

#[tokio::test]
async fn authenticates_by_query_or_first_frame_and_viewers_may_subscribe() {
    let server = Server::start();
    let admin = server.admin();
    provision_station(&admin).await;

    let mut by_query = Live::connect(&server, &format!("?token={}", server.admin_token)).await;
    let ready = by_query.expect("ready").await;
    assert_eq!(ready["tenant"], "default");
    assert_eq!(ready["role"], "admin");
    assert!(ready["queue"].as_u64().is_some_and(|q| q > 0), "{ready}");
    by_query.send(json!({"type": "ping"})).await;
    assert!(by_query.expect("pong").await["ts"].as_i64().is_some());

    let viewer = create_token(&admin, "viewer", None).await;
    let mut by_frame = Live::connect(&server, "").await;
    by_frame
        .send(json!({"type": "auth", "token": viewer}))
        .await;
    assert_eq!(by_frame.expect("ready").await["role"], "viewer");
    by_frame
        .subscribe(json!({"id": "s1", "devices": ["st-1"]}))
        .await;

    // The platform admin may act for another tenant; the answer names it.
    server.second_tenant(&admin).await;
    let mut for_t2 =
        Live::connect(&server, &format!("?token={}&tenant=t2", server.admin_token)).await;
    assert_eq!(for_t2.expect("ready").await["tenant"], "t2");
}

#[tokio::test]
async fn bad_credentials_close_the_socket_with_a_clear_code() {
    let server = Server::start();
    let admin = server.admin();

    let mut wrong = Live::connect(&server, "?token=not-a-token").await;
    let (code, reason, _) = wrong.expect_close().await;
    assert_eq!(code, 4001, "{reason}");
    assert!(reason.contains("token"), "{reason}");

    let mut wrong_frame = Live::connect(&server, "").await;
    wrong_frame
        .send(json!({"type": "auth", "token": "not-a-token"}))
        .await;
    assert_eq!(wrong_frame.expect_close().await.0, 4001);

    let mut no_auth = Live::connect(&server, "").await;
    no_auth
        .send(json!({"type": "subscribe", "id": "s1", "all": true}))
        .await;
    let (code, reason, _) = no_auth.expect_close().await;
    assert_eq!(code, 4001);
    assert!(reason.contains("auth"), "{reason}");

    let mut garbage = Live::connect(&server, "").await;
    garbage
        .socket
        .send(Message::text("{not json"))
        .await
        .expect("send");
    assert_eq!(garbage.expect_close().await.0, 4001);

    // A tenant's token may not name another tenant.
    server.second_tenant(&admin).await;
    let operator = create_token(&admin, "operator", None).await;
    let mut elsewhere = Live::connect(&server, &format!("?token={operator}&tenant=t2")).await;
    assert_eq!(elsewhere.expect_close().await.0, 4003);

    // Not an upgrade request: the error JSON.
    let reply = server
        .anonymous()
        .get(&format!("/api/v1/ws?token={}", server.admin_token))
        .await;
    assert!(reply.status >= 400, "{}", reply.text);
    assert_eq!(reply.code(), "websocket_required", "{}", reply.text);

    let metrics = server.anonymous().get("/metrics").await.text;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("wanwu_ws_closed_total{reason=\"unauthorized\"}")),
        "closes are counted"
    );
}

#[tokio::test]
async fn telemetry_a_device_publishes_over_mqtt_is_pushed() {
    let (server, _, token, mut live) =
        watched_station(json!({"id": "s1", "devices": ["st-1"], "kinds": ["telemetry"]})).await;
    device_publish(
        &server,
        "st-1",
        &token,
        "devices/st-1/telemetry",
        r#"{"ts": 1700000000000, "values": {"pm25": 12.5}}"#,
    );

    let frame = live.expect("telemetry").await;
    assert_eq!(
        frame,
        json!({"type": "telemetry", "subscriptions": ["s1"], "device": "st-1",
               "product": "aq", "ts": 1700000000000_i64, "values": {"pm25": 12.5}})
    );
    // Telemetry that changes the reported twin is no twin frame here: not subscribed.
    live.expect_quiet().await;
}

#[tokio::test]
async fn subscriptions_select_devices_products_and_asset_subtrees() {
    let server = Server::start();
    let admin = server.admin();
    provision_station(&admin).await;
    let mut lamp = common::air_station("lamp");
    lamp["name"] = "Street lamp".into();
    admin.create("/api/v1/products", lamp).await;
    for (id, parent) in [("pd", Some("sh")), ("street", Some("pd")), ("bj", None)] {
        let mut asset = json!({"id": id, "name": id, "kind": "area"});
        if let Some(parent) = parent {
            asset["parent"] = parent.into();
        }
        admin.create("/api/v1/assets", asset).await;
    }
    let lamp = |id: &str, asset: &str| json!({"id": id, "product": "lamp", "asset": asset});
    let in_street = create_device(&admin, lamp("lamp-1", "street")).await;
    let in_bj = create_device(&admin, lamp("lamp-2", "bj")).await;
    let station = device_token(&admin, "st-1").await;

    let mut live = Live::ready(&server, &server.admin_token).await;
    live.subscribe(json!({"id": "by-product", "products": ["aq"], "kinds": ["telemetry"]}))
        .await;
    live.subscribe(json!({"id": "by-asset", "assets": ["sh"], "kinds": ["telemetry"]}))
        .await;
    live.subscribe(json!({"id": "by-device", "devices": ["lamp-2"], "kinds": ["telemetry"]}))
        .await;

    let reading = |v: f64| json!({"pm25": v});
    ingest(&server, "st-1", &station, reading(1.0)).await;
    let frame = live.expect("telemetry").await;
    assert_eq!(frame["device"], "st-1");
    assert_eq!(frame["subscriptions"], json!(["by-product", "by-asset"]));

    ingest(&server, "lamp-1", &in_street, reading(2.0)).await;
    let frame = live.expect("telemetry").await;
    assert_eq!(frame["device"], "lamp-1", "two levels below sh");
    assert_eq!(frame["subscriptions"], json!(["by-asset"]));

    ingest(&server, "lamp-2", &in_bj, reading(3.0)).await;
    let frame = live.expect("telemetry").await;
    assert_eq!(frame["subscriptions"], json!(["by-device"]));

    // Moving a device or an asset changes what the subtree selects at once.
    admin
        .patch("/api/v1/devices/lamp-2", json!({"asset": "street"}))
        .await
        .expect(200);
    ingest(&server, "lamp-2", &in_bj, reading(4.0)).await;
    let frame = live.expect("telemetry").await;
    assert_eq!(frame["subscriptions"], json!(["by-asset", "by-device"]));
    admin
        .patch("/api/v1/assets/pd", json!({"parent": "bj"}))
        .await
        .expect(200);
    ingest(&server, "lamp-1", &in_street, reading(5.0)).await;
    ingest(&server, "st-1", &station, reading(6.0)).await;
    let frame = live.expect("telemetry").await;
    assert_eq!(frame["device"], "st-1", "lamp-1 left the subtree: {frame}");

    // Unsubscribing stops the frames of that subscription only.
    live.send(json!({"type": "unsubscribe", "id": "by-asset"}))
        .await;
    assert_eq!(live.expect("unsubscribed").await["id"], "by-asset");
    ingest(&server, "st-1", &station, reading(7.0)).await;
    let frame = live.expect("telemetry").await;
    assert_eq!(frame["subscriptions"], json!(["by-product"]));
}

#[tokio::test]
async fn a_desired_change_is_a_twin_frame() {
    let (server, admin, token, mut live) =
        watched_station(json!({"id": "twin", "devices": ["st-1"], "kinds": ["twin"]})).await;

    admin
        .patch(
            "/api/v1/devices/st-1/shadow/desired",
            json!({"mode": "manual"}),
        )
        .await
        .expect(200);
    let frame = live.expect("twin").await;
    assert_eq!(frame["device"], "st-1");
    assert_eq!(frame["subscriptions"], json!(["twin"]));
    assert_eq!(
        frame["data"],
        json!({"version": 1, "reported": {}, "desired": {"mode": "manual"},
               "delta": {"mode": "manual"}})
    );

    // The device reports the value: the delta empties.
    ingest(&server, "st-1", &token, json!({"mode": "manual"})).await;
    let frame = live.expect("twin").await;
    assert_eq!(
        frame["data"],
        json!({"version": 2, "reported": {"mode": "manual"}, "desired": {}, "delta": {}})
    );
}

#[tokio::test]
async fn presence_is_pushed_when_a_device_connects() {
    let (server, _, token, mut live) =
        watched_station(json!({"id": "p", "assets": ["sh"], "kinds": ["presence"]})).await;

    device_publish(
        &server,
        "st-1",
        &token,
        "devices/st-1/telemetry",
        r#"{"pm25": 3}"#,
    );
    let online = live.expect("presence").await;
    assert_eq!(online["device"], "st-1");
    assert_eq!(online["data"]["status"], "online", "{online}");
    let offline = live.expect("presence").await;
    assert_eq!(offline["data"]["status"], "offline", "{offline}");
}

#[tokio::test]
async fn a_socket_sees_only_its_tenant() {
    let server = Server::start();
    let admin = server.admin();
    let station_token = station(&admin).await;
    let t2 = server.second_tenant(&admin).await;
    provision_station(&t2).await;
    let t2_station = device_token(&t2, "st-1").await;
    let t2_viewer = create_token(&t2, "viewer", None).await;

    let mut theirs = Live::ready(&server, &t2_viewer).await;
    theirs
        .subscribe(json!({"id": "everything", "all": true}))
        .await;

    // The default tenant's st-1 is not t2's st-1.
    ingest(&server, "st-1", &station_token, json!({"pm25": 1})).await;
    admin
        .patch(
            "/api/v1/devices/st-1/shadow/desired",
            json!({"mode": "auto"}),
        )
        .await
        .expect(200);
    ingest(&server, "st-1", &t2_station, json!({"pm25": 2})).await;
    // Telemetry and twin changes travel separate paths: either may come first.
    let mut frames = [theirs.expect_any().await, theirs.expect_any().await];
    frames.sort_by_key(|f| f["type"].as_str().unwrap_or_default().to_owned());
    let [telemetry, twin] = frames;
    assert_eq!(telemetry["type"], "telemetry");
    assert_eq!(
        telemetry["values"],
        json!({"pm25": 2.0}),
        "only t2's reading"
    );
    assert_eq!(twin["type"], "twin");
    assert_eq!(twin["data"]["reported"], json!({"pm25": 2.0}), "t2's twin");
    theirs.expect_quiet().await;

    // Naming another tenant's asset is naming nothing.
    admin
        .create(
            "/api/v1/assets",
            json!({"id": "only-default", "name": "x", "kind": "area"}),
        )
        .await;
    theirs
        .send(json!({"type": "subscribe", "id": "s2", "assets": ["only-default"]}))
        .await;
    let frame = theirs.expect("error").await;
    assert_eq!(frame["error"]["code"], "not_found");
    assert_eq!(
        frame["error"]["details"],
        json!({"assets": ["only-default"]})
    );
}

#[tokio::test]
async fn bad_frames_get_error_frames_and_change_nothing() {
    let server = Server::start();
    let admin = server.admin();
    let token = station(&admin).await;
    let mut live = Live::ready(&server, &server.admin_token).await;

    live.socket
        .send(Message::text("{not json"))
        .await
        .expect("send");
    assert_eq!(live.expect_error().await, "invalid_frame");
    live.send(json!({"type": "dance"})).await;
    assert_eq!(live.expect_error().await, "invalid_frame");
    live.send(json!({"type": "subscribe", "id": "s1"})).await;
    assert_eq!(
        live.expect_error().await,
        "invalid_frame",
        "selects nothing"
    );
    live.send(json!({"type": "subscribe", "id": "s1", "all": true, "kinds": ["weather"]}))
        .await;
    assert_eq!(live.expect_error().await, "invalid_frame");
    live.send(
        json!({"type": "subscribe", "id": "s1", "devices": ["st-1", "ghost"],
                     "products": ["nope"]}),
    )
    .await;
    let frame = live.expect("error").await;
    assert_eq!(frame["id"], "s1");
    assert_eq!(frame["error"]["code"], "not_found");
    assert_eq!(
        frame["error"]["details"],
        json!({"devices": ["ghost"], "products": ["nope"]})
    );
    live.send(json!({"type": "unsubscribe", "id": "s1"})).await;
    assert_eq!(
        live.expect_error().await,
        "not_found",
        "nothing was subscribed"
    );
    live.send(json!({"type": "auth", "token": server.admin_token}))
        .await;
    assert_eq!(live.expect_error().await, "invalid_frame");

    live.subscribe(json!({"id": "s1", "devices": ["st-1"], "kinds": ["telemetry"]}))
        .await;
    live.send(json!({"type": "subscribe", "id": "s1", "all": true}))
        .await;
    assert_eq!(live.expect_error().await, "already_exists");

    // The socket still works, with the one subscription.
    ingest(&server, "st-1", &token, json!({"pm25": 4})).await;
    assert_eq!(
        live.expect("telemetry").await["subscriptions"],
        json!(["s1"])
    );
}

#[tokio::test]
async fn a_client_that_cannot_keep_up_is_closed_with_4008_and_counted() {
    let config = tempfile::tempdir().expect("temp dir");
    let config_file = config.path().join("wanwu.toml");
    std::fs::write(&config_file, "[ws]\nqueue = 8\n").expect("write config");
    let server = Server::builder()
        .arg("--config")
        .arg(config_file.display().to_string())
        .start();
    let admin = server.admin();
    let token = station(&admin).await;
    let mut slow = Live::connect(&server, &format!("?token={}", server.admin_token)).await;
    assert_eq!(slow.expect("ready").await["queue"], 8);
    slow.subscribe(json!({"id": "s1", "devices": ["st-1"], "kinds": ["telemetry"]}))
        .await;

    // One payload of 200 readings is 200 frames at once, far more than the queue holds,
    // while the client reads nothing.
    let start = now_ms() - 60_000;
    let burst: Vec<Value> = (0..200)
        .map(|i| json!({"ts": start + i, "values": {"pm25": i}}))
        .collect();
    ingest(&server, "st-1", &token, json!(burst)).await;

    let (code, reason, frames_before) = slow.expect_close().await;
    assert_eq!(code, 4008, "{reason}");
    assert!(reason.contains("slow"), "{reason}");
    assert!(
        frames_before < 200,
        "the queue was not drained in full: {frames_before} frames"
    );
    let metrics = server.anonymous().get("/metrics").await.text;
    assert!(
        metrics
            .lines()
            .any(|l| l == "wanwu_ws_closed_total{reason=\"slow_consumer\"} 1"),
        "slow consumers are counted:\n{}",
        metrics
            .lines()
            .filter(|l| l.starts_with("wanwu_ws"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // The platform goes on: a new socket gets new telemetry.
    let mut fresh = Live::ready(&server, &server.admin_token).await;
    fresh
        .subscribe(json!({"id": "s1", "devices": ["st-1"], "kinds": ["telemetry"]}))
        .await;
    ingest(&server, "st-1", &token, json!({"pm25": 1})).await;
    fresh.expect("telemetry").await;
}

fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since_epoch.as_millis()).expect("ms fit i64")
}

#[tokio::test]
async fn an_open_socket_does_not_hold_up_a_restart() {
    let server = Server::start();
    let mut live = Live::ready(&server, &server.admin_token).await;
    live.send(json!({"type": "subscribe", "id": "s1", "all": true}))
        .await;
    live.expect("subscribed").await;
    let server = server.restart();
    assert!(
        matches!(live.next_within(WITHIN).await, Some(Err(_))),
        "the socket ends with the server"
    );
    Live::ready(&server, &server.admin_token).await;
}
