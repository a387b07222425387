//! Telemetry over real HTTP against the real binary: device ingest with the device token,
//! validation, clock skew, late data, latest values, raw and calendar queries, aggregation
//! across an asset's children, streamed CSV export, deletes, tenancy and roles, restarts.

mod common;

use common::{
    Api, Reply, Server, air_station, create_device, create_token, http_client, now_ms,
    post_telemetry,
};
use serde_json::{Value, json};

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

/// Product `aq` and device `st-1`; returns the admin client and the device's token.
async fn station(server: &Server) -> (Api, String) {
    let admin = server.admin();
    admin
        .post("/api/v1/products", air_station("aq"))
        .await
        .expect(201);
    let token = add_device(&admin, "st-1", None).await;
    (admin, token)
}

/// Creates device `id` of product `aq`, under `asset` if given; returns its token.
async fn add_device(admin: &Api, id: &str, asset: Option<&str>) -> String {
    create_device(admin, json!({"id": id, "product": "aq", "asset": asset})).await
}

/// The `(ts, value)` pairs of the first series of a query answer.
fn points(reply: &Reply) -> Vec<(i64, Value)> {
    reply.expect(200)["series"][0]["points"]
        .as_array()
        .unwrap_or_else(|| panic!("no points: {}", reply.text))
        .iter()
        .map(|p| (p["ts"].as_i64().unwrap(), p["value"].clone()))
        .collect()
}

fn paths(reply: &Reply) -> Vec<String> {
    reply.body["error"]["details"]
        .as_array()
        .unwrap_or_else(|| panic!("no field errors: {}", reply.text))
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn devices_send_the_three_forms_and_apps_read_them_back() {
    let server = Server::start();
    let (admin, token) = station(&server).await;
    let reply = post_telemetry(
        &server,
        "st-1",
        &token,
        &json!({"pm25": 12.5, "mode": "auto"}),
    )
    .await;
    assert_eq!(reply.expect(200)["values"], 2);
    post_telemetry(
        &server,
        "st-1",
        &token,
        &json!({"ts": 2_000, "values": {"pm25": 20}}),
    )
    .await
    .expect(200);
    let reply = post_telemetry(
        &server,
        "st-1",
        &token,
        &json!([{"ts": 3_000, "values": {"pm25": 30}}, {"ts": 1_000, "values": {"pm25": 10}}]),
    )
    .await;
    assert_eq!(reply.expect(200)["points"], 2);

    let all = admin
        .get("/api/v1/devices/st-1/telemetry?keys=pm25&from=0")
        .await;
    assert_eq!(all.body["device"], "st-1");
    assert_eq!(all.body["series"][0]["key"], "pm25");
    let got = points(&all);
    assert_eq!(
        got[..3],
        [
            (1_000, json!(10.0)),
            (2_000, json!(20.0)),
            (3_000, json!(30.0))
        ]
    );
    assert_eq!(got[3].1, json!(12.5));
    assert!((got[3].0 - now_ms()).abs() < 60_000, "server time");

    let desc = admin
        .get("/api/v1/devices/st-1/telemetry?keys=pm25&from=0&to=2500&order=desc&limit=1")
        .await;
    assert_eq!(points(&desc), [(2_000, json!(20.0))]);
    let rfc3339 = admin
        .get("/api/v1/devices/st-1/telemetry?keys=pm25&from=1970-01-01T00:00:01Z&to=1970-01-01T00:00:02Z")
        .await;
    assert_eq!(points(&rfc3339).len(), 2);

    let latest = admin.get("/api/v1/devices/st-1/telemetry/latest").await;
    let values = &latest.expect(200)["values"];
    assert_eq!(values["pm25"]["value"], 12.5);
    assert_eq!(values["mode"]["value"], "auto");
    assert_eq!(latest.body["device"], "st-1");

    // Late data lands in place and leaves the latest value alone.
    post_telemetry(
        &server,
        "st-1",
        &token,
        &json!({"ts": 500, "values": {"pm25": 5}}),
    )
    .await
    .expect(200);
    let first = admin
        .get("/api/v1/devices/st-1/telemetry?keys=pm25&from=0&limit=1")
        .await;
    assert_eq!(points(&first), [(500, json!(5.0))]);
    let latest = admin.get("/api/v1/devices/st-1/telemetry/latest").await;
    assert_eq!(latest.body["values"]["pm25"]["value"], 12.5);
}

#[tokio::test]
async fn only_the_devices_own_token_ingests() {
    let server = Server::start();
    let (admin, token) = station(&server).await;
    let other = add_device(&admin, "st-2", None).await;
    let body = json!({"pm25": 1});
    post_telemetry(&server, "st-1", "wrong", &body)
        .await
        .expect_error(401, "unauthorized");
    post_telemetry(&server, "st-1", &other, &body)
        .await
        .expect_error(401, "unauthorized");
    let api_token = server.admin_token.clone();
    post_telemetry(&server, "st-1", &api_token, &body)
        .await
        .expect_error(401, "unauthorized");
    server
        .anonymous()
        .post("/api/v1/devices/st-1/telemetry", body.clone())
        .await
        .expect_error(401, "unauthorized");
    post_telemetry(&server, "st-1", &token, &body)
        .await
        .expect(200);
}

#[tokio::test]
async fn bad_payloads_are_rejected_whole_with_field_paths() {
    let server = Server::start();
    let (admin, token) = station(&server).await;
    let reply = post_telemetry(
        &server,
        "st-1",
        &token,
        &json!([{"ts": 1, "values": {"pm25": 1}}, {"ts": 2, "values": {"pm25": 5000, "mode": "off"}}]),
    )
    .await;
    reply.expect_error(422, "invalid_input");
    assert_eq!(paths(&reply), ["[1].values.mode", "[1].values.pm25"]);
    let reply = post_telemetry(
        &server,
        "st-1",
        &token,
        &json!({"pm25": "high", "bogus": 1}),
    )
    .await;
    reply.expect_error(422, "invalid_input");
    assert_eq!(paths(&reply), ["values.bogus", "values.pm25"]);
    let malformed = server
        .anonymous()
        .with_token(&token)
        .send(
            "POST",
            "/api/v1/devices/st-1/telemetry",
            Some(b"{\"pm25\": ".to_vec()),
        )
        .await;
    malformed.expect_error(400, "malformed_payload");
    post_telemetry(&server, "st-1", &token, &json!(42))
        .await
        .expect_error(400, "malformed_payload");
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"ts": i, "values": {"pm25": 1}}))
        .collect();
    post_telemetry(&server, "st-1", &token, &json!(too_many))
        .await
        .expect_error(400, "malformed_payload");

    // Beyond the allowed clock skew (default 5 minutes): rejected, naming the timestamp.
    let future = now_ms() + HOUR;
    let reply = post_telemetry(
        &server,
        "st-1",
        &token,
        &json!([{"ts": 10, "values": {"pm25": 1}}, {"ts": future, "values": {"pm25": 1}}]),
    )
    .await;
    reply.expect_error(422, "invalid_input");
    assert_eq!(paths(&reply), ["[1].ts"]);

    let stored = admin
        .get("/api/v1/devices/st-1/telemetry?from=0&to=9999999999999")
        .await;
    for series in stored.expect(200)["series"].as_array().unwrap() {
        assert_eq!(
            series["points"],
            json!([]),
            "nothing stored: {}",
            stored.text
        );
    }
    let metrics = server.anonymous().get("/metrics").await.text;
    assert!(
        metrics.contains("wanwu_ingest_rejected_total{reason=\"invalid\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("wanwu_ingest_rejected_total{reason=\"future_timestamp\"}"));
    assert!(metrics.contains("wanwu_ingest_rejected_total{reason=\"malformed\"}"));
}

#[tokio::test]
async fn queries_with_impossible_parameters_are_refused() {
    let server = Server::start();
    let (admin, _) = station(&server).await;
    let base = "/api/v1/devices/st-1/telemetry";
    for (query, needle) in [
        ("?from=10&to=5", "after"),
        ("?keys=nope", "unknown key"),
        ("?from=0&to=4000000000000&interval=1s", "buckets"),
        ("?interval=2x", "interval"),
        ("?interval=1h&tz=Mars/Base", "time zone"),
        ("?interval=1h&agg=median", "aggregation"),
        ("?agg=avg", "interval"),
        ("?keys=mode&interval=1h&agg=avg", "numbers"),
        ("?from=yesterday", "RFC 3339"),
        ("?format=xml", "format"),
        ("?limit=1000000", "limit"),
    ] {
        let reply = admin.get(&format!("{base}{query}")).await;
        reply.expect_error(400, "invalid_query");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{query}: {message}");
    }
    admin
        .get("/api/v1/devices/nobody/telemetry")
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn daily_buckets_are_local_days_in_the_given_zone() {
    let server = Server::start();
    let (admin, token) = station(&server).await;
    // Shanghai is UTC+8: 2024-03-01T15:30Z is 23:30 on March 1st, 16:30Z is 00:30 on the 2nd.
    let march_1_shanghai = 1_709_222_400_000; // 2024-03-01T00:00+08:00
    let readings = json!([
        {"ts": march_1_shanghai + 23 * HOUR + 30 * 60_000, "values": {"pm25": 10}},
        {"ts": march_1_shanghai + 24 * HOUR + 30 * 60_000, "values": {"pm25": 30}},
        {"ts": march_1_shanghai + 30 * HOUR, "values": {"pm25": 50}},
    ]);
    post_telemetry(&server, "st-1", &token, &readings)
        .await
        .expect(200);
    let shanghai = admin
        .get("/api/v1/devices/st-1/telemetry?keys=pm25&from=2024-03-01T00:00:00%2B08:00&to=2024-03-03T00:00:00%2B08:00&interval=1d&agg=avg&tz=Asia/Shanghai")
        .await;
    assert_eq!(
        points(&shanghai),
        [
            (march_1_shanghai, json!(10.0)),
            (march_1_shanghai + DAY, json!(40.0))
        ]
    );
    let utc = admin
        .get("/api/v1/devices/st-1/telemetry?keys=pm25&from=2024-03-01T00:00:00Z&to=2024-03-03T00:00:00Z&interval=1d&agg=max")
        .await;
    // In UTC the same readings all fall on March 1st.
    let utc_march_1 = march_1_shanghai + 8 * HOUR;
    assert_eq!(points(&utc), [(utc_march_1, json!(50.0))]);
    let count = admin
        .get("/api/v1/devices/st-1/telemetry?keys=pm25&from=2024-03-01T00:00:00Z&to=2024-03-03T00:00:00Z&interval=1mo&agg=count&tz=Asia/Shanghai")
        .await;
    assert_eq!(points(&count), [(march_1_shanghai, json!(3))]);
}

#[tokio::test]
async fn asset_queries_pool_devices_per_child_asset() {
    let server = Server::start();
    let (admin, _) = station(&server).await;
    for (id, parent) in [
        ("city", None),
        ("pudong", Some("city")),
        ("jingan", Some("city")),
        ("jingan-park", Some("jingan")),
    ] {
        admin
            .post(
                "/api/v1/assets",
                json!({"id": id, "name": id, "kind": "district", "parent": parent}),
            )
            .await
            .expect(201);
    }
    let t = 1_700_000_000_000 - 1_700_000_000_000 % HOUR;
    for (device, asset, readings) in [
        (
            "p1",
            "pudong",
            json!([{"ts": t, "values": {"pm25": 10}}, {"ts": t + HOUR, "values": {"pm25": 50}}]),
        ),
        (
            "p2",
            "pudong",
            json!({"ts": t + 60_000, "values": {"pm25": 30}}),
        ),
        (
            "j1",
            "jingan-park",
            json!({"ts": t + 120_000, "values": {"pm25": 80}}),
        ),
    ] {
        let token = add_device(&admin, device, Some(asset)).await;
        post_telemetry(&server, device, &token, &readings)
            .await
            .expect(200);
    }
    let reply = admin
        .get(&format!(
            "/api/v1/assets/city/telemetry?key=pm25&agg=avg&interval=1h&from={t}&to={}&tz=Asia/Shanghai&group=child",
            t + 2 * HOUR
        ))
        .await;
    let body = reply.expect(200);
    assert_eq!(body["asset"], "city");
    assert_eq!(body["key"], "pm25");
    let groups: Vec<(String, i64, Value)> = body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["asset"].as_str().unwrap().to_owned(),
                g["devices"].as_i64().unwrap(),
                g["points"].clone(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("jingan".to_owned(), 1, json!([{"ts": t, "value": 80.0}])),
            (
                "pudong".to_owned(),
                2,
                json!([{"ts": t, "value": 20.0}, {"ts": t + HOUR, "value": 50.0}])
            ),
        ]
    );
    let whole = admin
        .get(&format!(
            "/api/v1/assets/city/telemetry?key=pm25&agg=max&interval=1d&from={t}&to={}",
            t + 2 * HOUR
        ))
        .await;
    assert_eq!(whole.expect(200)["groups"][0]["points"][0]["value"], 80.0);
    for (query, status, code) in [
        ("city/telemetry?key=pm25", 400, "invalid_query"),
        ("city/telemetry?key=nope&interval=1h", 400, "invalid_query"),
        (
            "city/telemetry?key=pm25&interval=1h&group=parent",
            400,
            "invalid_query",
        ),
        ("nowhere/telemetry?key=pm25&interval=1h", 404, "not_found"),
    ] {
        let reply = admin.get(&format!("/api/v1/assets/{query}")).await;
        reply.expect_error(status, code);
    }
}

#[tokio::test]
async fn a_large_range_exports_as_streamed_csv() {
    let server = Server::start();
    let (_, token) = station(&server).await;
    const POINTS: i64 = 200_000;
    let start = 1_600_000_000_000;
    for batch in 0..POINTS / 1000 {
        let readings: Vec<Value> = (0..1000)
            .map(|i| {
                let n = batch * 1000 + i;
                json!({"ts": start + n * 1000, "values": {"pm25": (n % 1000) as f64 / 4.0}})
            })
            .collect();
        post_telemetry(&server, "st-1", &token, &json!(readings))
            .await
            .expect(200);
    }
    let url = server.url(&format!(
        "/api/v1/devices/st-1/telemetry?keys=pm25&from={start}&to={}&format=csv",
        start + POINTS * 1000
    ));
    let mut response = http_client()
        .get(url)
        .bearer_auth(&server.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(
        response.headers().get("content-length").is_none(),
        "streamed, not buffered"
    );
    let mut chunks = 0;
    let mut text = String::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        chunks += 1;
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(chunks > 1, "arrived in {chunks} chunk(s)");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "ts,key,value");
    assert_eq!(lines.len() as i64, POINTS + 1);
    assert_eq!(lines[1], format!("{start},pm25,0"));
    assert_eq!(
        lines[POINTS as usize],
        format!("{},pm25,249.75", start + (POINTS - 1) * 1000)
    );
    let mut previous = 0;
    for line in &lines[1..] {
        let ts: i64 = line.split(',').next().unwrap().parse().unwrap();
        assert!(ts > previous, "in time order");
        previous = ts;
    }
}

#[tokio::test]
async fn tenants_and_roles_apply_to_telemetry() {
    let server = Server::start();
    let (admin, token) = station(&server).await;
    post_telemetry(
        &server,
        "st-1",
        &token,
        &json!({"ts": 1_000, "values": {"pm25": 1}}),
    )
    .await
    .expect(200);
    post_telemetry(
        &server,
        "st-1",
        &token,
        &json!({"ts": 2_000, "values": {"pm25": 2}}),
    )
    .await
    .expect(200);
    admin
        .post("/api/v1/tenants", json!({"id": "t2", "name": "Second"}))
        .await
        .expect(201);
    let foreign = server
        .anonymous()
        .with_token(&create_token(&admin, "admin", Some("t2")).await);
    for path in [
        "/api/v1/devices/st-1/telemetry",
        "/api/v1/devices/st-1/telemetry/latest",
    ] {
        foreign.get(path).await.expect_error(404, "not_found");
    }
    foreign
        .delete("/api/v1/devices/st-1/telemetry?from=0&to=5000")
        .await
        .expect_error(404, "not_found");

    let viewer = server
        .anonymous()
        .with_token(&create_token(&admin, "viewer", None).await);
    let read = viewer
        .get("/api/v1/devices/st-1/telemetry?keys=pm25&from=0&to=5000")
        .await;
    assert_eq!(points(&read).len(), 2);
    viewer
        .get("/api/v1/devices/st-1/telemetry/latest")
        .await
        .expect(200);
    viewer
        .delete("/api/v1/devices/st-1/telemetry?from=0&to=5000")
        .await
        .expect_error(403, "forbidden");

    let operator = server
        .anonymous()
        .with_token(&create_token(&admin, "operator", None).await);
    operator
        .delete("/api/v1/devices/st-1/telemetry")
        .await
        .expect_error(400, "invalid_query");
    let deleted = operator
        .delete("/api/v1/devices/st-1/telemetry?keys=pm25&from=1500&to=5000")
        .await;
    assert_eq!(deleted.expect(200)["keys"], json!(["pm25"]));
    let left = viewer
        .get("/api/v1/devices/st-1/telemetry?keys=pm25&from=0&to=5000")
        .await;
    assert_eq!(points(&left), [(1_000, json!(1.0))]);
    let latest = viewer.get("/api/v1/devices/st-1/telemetry/latest").await;
    assert_eq!(latest.expect(200)["values"]["pm25"]["ts"], 1_000);
}

#[tokio::test]
async fn telemetry_survives_a_restart() {
    let server = Server::start();
    let (_, token) = station(&server).await;
    let readings: Vec<Value> = (0..500)
        .map(|i| json!({"ts": 1_000 * (i + 1), "values": {"pm25": i as f64}}))
        .collect();
    post_telemetry(&server, "st-1", &token, &json!(readings))
        .await
        .expect(200);
    let server = server.restart();
    let admin = server.admin();
    let all = admin
        .get("/api/v1/devices/st-1/telemetry?keys=pm25&from=0&to=1000000")
        .await;
    let got = points(&all);
    assert_eq!(got.len(), 500);
    assert_eq!(got[499], (500_000, json!(499.0)));
    let latest = admin.get("/api/v1/devices/st-1/telemetry/latest").await;
    assert_eq!(latest.expect(200)["values"]["pm25"]["ts"], 500_000);
    assert!(server.data.join("tsdb").is_dir());
}

#[tokio::test]
async fn mqtt_qos1_telemetry_is_stored_and_invalid_telemetry_is_not() {
    let server = Server::start();
    let (admin, token) = station(&server).await;
    let port = server.mqtt.expect("MQTT listener").port().to_string();
    let publish = |payload: &str| {
        std::process::Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port, "-V", "mqttv5", "-q", "1"])
            .args(["-i", "st-1", "-u", "st-1", "-P", &token])
            .args(["-t", "devices/st-1/telemetry", "-m", payload])
            .output()
            .expect("run mosquitto_pub")
    };
    let out =
        publish(r#"[{"ts": 1000, "values": {"pm25": 11}}, {"ts": 2000, "values": {"pm25": 22}}]"#);
    assert!(out.status.success(), "{out:?}");
    let _ = publish(r#"{"ts": 3000, "values": {"pm25": 5000}}"#);
    let stored = admin
        .get("/api/v1/devices/st-1/telemetry?keys=pm25&from=0&to=10000")
        .await;
    assert_eq!(
        points(&stored),
        [(1_000, json!(11.0)), (2_000, json!(22.0))],
        "the acknowledged points, not the refused one"
    );
}
