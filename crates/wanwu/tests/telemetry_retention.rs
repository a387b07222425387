//! Retention per product through `wanwu serve`'s configuration: telemetry of a product with
//! its own retention is dropped when it is older, other products keep theirs.

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
    let admin = server.admin();
    for product in ["short", "aq"] {
        admin
            .post("/api/v1/products", air_station(product))
            .await
            .expect(201);
    }
    let now = now_ms();
    let stamps = [now - 10 * DAY, now - 5 * DAY, now - 3_600_000];
    device_with_readings(&server, &admin, "short", "s-1", &stamps).await;
    device_with_readings(&server, &admin, "aq", "a-1", &stamps).await;

    // A graceful stop writes the in-memory points to blocks; expired partitions are not kept.
    let server = server.restart();
    let admin = server.admin();
    assert_eq!(stored(&admin, "s-1").await, [stamps[2]], "2-day retention");
    assert_eq!(stored(&admin, "a-1").await, stamps, "no retention");
}
