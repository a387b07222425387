//! Retention per product, through `wanwu serve`'s configuration and through the product API
//! (`retention_days`): telemetry of a product with its own retention is dropped when it is
//! older, other products keep theirs.

mod common;

use common::{Api, Server, air_station};
use serde_json::{Value, json};

const DAY: i64 = 86_400_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// Creates `device` of `product` and sends it one reading at each of `stamps`.
async fn device_with_readings(
    server: &Server,
    admin: &Api,
    product: &str,
    device: &str,
    stamps: &[i64],
) {
    let reply = admin
        .post("/api/v1/devices", json!({"id": device, "product": product}))
        .await;
    let token = reply.expect(201)["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let readings: Vec<Value> = stamps
        .iter()
        .map(|ts| json!({"ts": ts, "values": {"pm25": 10.0}}))
        .collect();
    server
        .anonymous()
        .with_token(&token)
        .post(
            &format!("/api/v1/devices/{device}/telemetry"),
            json!(readings),
        )
        .await
        .expect(200);
}

/// Products `short` and `aq` with device `s-1` and `a-1`, each with readings 10 days, 5 days
/// and an hour old (returned).
async fn two_products_with_readings(server: &Server) -> [i64; 3] {
    let admin = server.admin();
    for product in ["short", "aq"] {
        admin
            .post("/api/v1/products", air_station(product))
            .await
            .expect(201);
    }
    let now = now_ms();
    let stamps = [now - 10 * DAY, now - 5 * DAY, now - 3_600_000];
    device_with_readings(server, &admin, "short", "s-1", &stamps).await;
    device_with_readings(server, &admin, "aq", "a-1", &stamps).await;
    stamps
}

async fn stored(admin: &Api, device: &str) -> Vec<i64> {
    let reply = admin
        .get(&format!(
            "/api/v1/devices/{device}/telemetry?keys=pm25&from=0&to={}",
            now_ms() + DAY
        ))
        .await;
    reply.expect(200)["series"][0]["points"]
        .as_array()
        .map(|points| {
            points
                .iter()
                .map(|p| p["ts"].as_i64().expect("ts"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_product_with_its_own_retention_loses_old_telemetry_and_others_keep_it() {
    let config_dir = tempfile::tempdir().expect("temp dir");
    let config = config_dir.path().join("wanwu.toml");
    std::fs::write(
        &config,
        "[tsdb]\nretention_days = 0\n\n[tsdb.product_retention_days]\nshort = 2\n",
    )
    .expect("write config");
    let server = Server::builder()
        .arg("--config")
        .arg(config.display().to_string())
        .start();
    let stamps = two_products_with_readings(&server).await;

    // A graceful stop writes the in-memory points to blocks; expired partitions are not kept.
    let server = server.restart();
    let admin = server.admin();
    assert_eq!(stored(&admin, "s-1").await, [stamps[2]], "2-day retention");
    assert_eq!(stored(&admin, "a-1").await, stamps, "no retention");
}

/// `retention_days` of product `id` as GET shows it.
async fn retention_of(admin: &Api, id: &str) -> Value {
    admin
        .get(&format!("/api/v1/products/{id}"))
        .await
        .expect(200)["retention_days"]
        .clone()
}

#[tokio::test]
async fn retention_days_of_the_product_api_is_validated_stored_and_shown() {
    let server = Server::start();
    let admin = server.admin();
    let mut created = air_station("kept");
    created["retention_days"] = json!(30);
    let reply = admin.post("/api/v1/products", created).await;
    assert_eq!(reply.expect(201)["retention_days"], 30);
    assert_eq!(retention_of(&admin, "kept").await, 30);

    for bad in [json!(0), json!(36_501), json!(-1), json!("7"), json!(1.5)] {
        let mut product = air_station("bad");
        product["retention_days"] = bad.clone();
        let reply = admin.post("/api/v1/products", product).await;
        assert_eq!(reply.status, 422, "retention_days {bad}: {}", reply.text);
        assert!(reply.text.contains("retention_days"), "{}", reply.text);
        admin.get("/api/v1/products/bad").await.expect(404);
        let reply = admin
            .patch("/api/v1/products/kept", json!({"retention_days": bad}))
            .await;
        assert_eq!(reply.status, 422, "retention_days {bad}: {}", reply.text);
        assert_eq!(retention_of(&admin, "kept").await, 30, "unchanged by {bad}");
    }
    let mut unknown = air_station("typo");
    unknown["retention_dayz"] = json!(3);
    admin
        .post("/api/v1/products", unknown)
        .await
        .expect_error(422, "invalid_body");

    admin
        .patch("/api/v1/products/kept", json!({"name": "Renamed"}))
        .await
        .expect(200);
    assert_eq!(
        retention_of(&admin, "kept").await,
        30,
        "other changes keep it"
    );
    let reply = admin
        .patch("/api/v1/products/kept", json!({"retention_days": null}))
        .await;
    assert_eq!(reply.expect(200).get("retention_days"), None);
    assert_eq!(retention_of(&admin, "kept").await, Value::Null);

    let doc = server.anonymous().get("/api/v1/openapi.json").await.body;
    let schemas = &doc["components"]["schemas"];
    for schema in ["NewProduct", "ProductRecord", "ProductPatch"] {
        assert!(
            schemas[schema]["properties"]["retention_days"].is_object()
                || schemas[schema].to_string().contains("retention_days"),
            "{schema} documents retention_days: {}",
            schemas[schema]
        );
    }
}

#[tokio::test]
async fn the_sweep_drops_old_partitions_of_a_product_once_its_retention_is_set() {
    let server = Server::start();
    let stamps = two_products_with_readings(&server).await;
    // A graceful stop writes the points to partitions on disk; all are kept without retention.
    let server = server.restart();
    let admin = server.admin();
    assert_eq!(stored(&admin, "s-1").await, stamps);

    admin
        .patch("/api/v1/products/short", json!({"retention_days": 2}))
        .await
        .expect(200);
    // The engine's sweep runs every 10 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    while stored(&admin, "s-1").await != [stamps[2]] {
        assert!(
            std::time::Instant::now() < deadline,
            "old partitions of product short still there: {:?}",
            stored(&admin, "s-1").await
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(
        stored(&admin, "a-1").await,
        stamps,
        "product aq keeps its data"
    );

    // The retention is stored: after a restart it still applies and is shown.
    let server = server.restart();
    let admin = server.admin();
    assert_eq!(retention_of(&admin, "short").await, 2);
    assert_eq!(stored(&admin, "s-1").await, [stamps[2]]);
    assert_eq!(stored(&admin, "a-1").await, stamps);
}
