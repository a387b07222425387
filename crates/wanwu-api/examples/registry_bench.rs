//! Creating 100,000 devices through `POST /api/v1/devices:batch` (100 requests of 1,000)
//! over real HTTP against the real router, and the baseline of the same devices created
//! one at a time through the store (one SQLite transaction each). Prints both and the ratio.
//!
//! Run: `cargo run --release -p wanwu-api --example registry_bench [-- DEVICES]`
//! The HTTP client runs in the same process and shares the machine's cores.

use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wanwu_api::{ApiConfig, AppState};
use wanwu_core::{BootstrapOutcome, Platform};
use wanwu_model::entity::Device;
use wanwu_store::{NewDeviceRecord, SqliteStore, Store};

const BATCH: usize = 1000;

#[tokio::main]
async fn main() {
    let devices: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("DEVICES must be a number"))
        .unwrap_or(100_000);
    let http = through_http_batches(devices).await;
    let baseline = store_single_inserts(devices).await;
    let rate = |d: Duration| devices as f64 / d.as_secs_f64();
    println!(
        "registry_bench: {devices} devices via POST /devices:batch ({BATCH} per request): {:.2} s ({:.0} devices/s)",
        http.as_secs_f64(),
        rate(http)
    );
    println!(
        "registry_bench: baseline, {devices} single-device SQLite transactions: {:.2} s ({:.0} devices/s)",
        baseline.as_secs_f64(),
        rate(baseline)
    );
    println!(
        "registry_bench: batch API is {:.2}x the baseline's speed (target: 100,000 in < 60 s)",
        baseline.as_secs_f64() / http.as_secs_f64()
    );
}

async fn through_http_batches(devices: usize) -> Duration {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let platform = Platform::open(dir.path()).await.expect("platform");
    let BootstrapOutcome::Generated(token) = platform.bootstrap(None).await.expect("bootstrap")
    else {
        panic!("fresh data dir")
    };
    let state = AppState {
        platform: platform.clone(),
        metrics: None,
        config: ApiConfig::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, wanwu_api::app(state)).await });
    let client = reqwest::Client::new();
    let base = format!("http://{addr}/api/v1");
    let status = client
        .post(format!("{base}/products"))
        .bearer_auth(&token)
        .json(&json!({"id": "aq", "name": "Air", "properties": [{"id": "pm25", "type": "float"}]}))
        .send()
        .await
        .expect("create product")
        .status();
    assert_eq!(status, 201);
    let bodies: Vec<String> = (0..devices.div_ceil(BATCH))
        .map(|b| {
            let batch: Vec<_> = (b * BATCH..((b + 1) * BATCH).min(devices))
                .map(|i| json!({"id": format!("dev-{i:07}"), "product": "aq", "tags": {"district": format!("d{}", i % 16)}}))
                .collect();
            json!({ "devices": batch }).to_string()
        })
        .collect();
    let start = Instant::now();
    for body in bodies {
        let response = client
            .post(format!("{base}/devices:batch"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("batch request");
        assert_eq!(
            response.status(),
            201,
            "{}",
            response.text().await.unwrap_or_default()
        );
        response.bytes().await.expect("batch reply");
    }
    let elapsed = start.elapsed();
    let counts = platform.store.counts().await.expect("counts");
    assert_eq!(counts.devices as usize, devices);
    platform.shutdown().await;
    elapsed
}

async fn store_single_inserts(devices: usize) -> Duration {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("baseline.db"))
            .await
            .expect("baseline store"),
    );
    store
        .create_tenant(&wanwu_model::Tenant {
            id: "default".into(),
            name: "Default".into(),
            created_at: 0,
            updated_at: 0,
        })
        .await
        .expect("tenant");
    store
        .create_product(
            "default",
            &wanwu_model::ProductRecord {
                tenant: "default".into(),
                definition: serde_json::from_value(json!({"id": "aq", "name": "Air"}))
                    .expect("product"),
                retention_days: None,
                created_at: 0,
                updated_at: 0,
            },
        )
        .await
        .expect("product");
    let prefix = |_: usize| String::new();
    let start = Instant::now();
    for i in 0..devices {
        let token = wanwu_core::token::generate(wanwu_core::token::TokenKind::Device);
        let record = NewDeviceRecord {
            device: Device {
                id: format!("dev-{i:07}"),
                tenant: "default".into(),
                product: "aq".into(),
                name: format!("dev-{i:07}"),
                tags: [("district".to_string(), format!("d{}", i % 16))].into(),
                asset: None,
                location: None,
                created_at: 0,
                updated_at: 0,
            },
            token_hash: wanwu_core::token::hash(wanwu_core::token::TokenKind::Device, &token),
        };
        store
            .create_devices("default", std::slice::from_ref(&record), &prefix)
            .await
            .expect("insert");
    }
    let elapsed = start.elapsed();
    store.close().await;
    elapsed
}
