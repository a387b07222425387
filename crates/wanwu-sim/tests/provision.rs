//! Provisioning through the platform's real REST API (wanwu-api on a temporary data dir).

use reqwest::StatusCode;
use serde_json::{Value as Json, json};
use std::collections::HashSet;
use tempfile::TempDir;
use wanwu_api::{ApiConfig, AppState};
use wanwu_core::{BootstrapOutcome, Platform};
use wanwu_sim::{ApiClient, Scenario, SimError, demo_city, fleet_plan};

/// A platform serving its API on a free port; kept alive by the returned directory.
async fn platform() -> (String, String, TempDir) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let platform = Platform::open(dir.path()).await.expect("platform opens");
    let BootstrapOutcome::Generated(token) = platform.bootstrap(None).await.unwrap() else {
        panic!("a fresh data dir generates the admin token")
    };
    let state = AppState {
        platform,
        metrics: None,
        config: ApiConfig::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, wanwu_api::app(state)).await });
    (format!("http://{addr}"), token, dir)
}

async fn get(base: &str, token: &str, path: &str) -> (StatusCode, Json) {
    let response = reqwest::Client::new()
        .get(format!("{base}/api/v1{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Json::Null))
}

#[tokio::test]
async fn the_demo_city_is_provisioned_and_can_be_provisioned_again() {
    let (base, token, _dir) = platform().await;
    let api = ApiClient::new(&base, &token).unwrap();
    let plan = demo_city(3);
    let credentials = api.provision(&plan).await.expect("provisioned");
    assert_eq!(credentials.len(), plan.devices.len());
    assert!(
        credentials
            .iter()
            .zip(&plan.devices)
            .all(|(c, d)| c.id == d.id && !c.token.is_empty())
    );

    let light = plan
        .devices
        .iter()
        .find(|d| d.scenario == Scenario::StreetLights)
        .unwrap();
    let (status, stored) = get(&base, &token, &format!("/devices/{}", light.id)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored["product"], "street_light");
    assert_eq!(stored["asset"], json!(light.asset));
    assert_eq!(stored["location"], json!(light.location));
    let (status, district) = get(&base, &token, "/assets/old-town").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(district["parent"], "haixin");

    // Again: products and assets are kept, devices get new tokens.
    let again = api.provision(&plan).await.expect("provisioned again");
    assert_eq!(again.len(), credentials.len());
    let old: HashSet<_> = credentials.iter().map(|c| c.token.as_str()).collect();
    assert!(
        again.iter().all(|c| !old.contains(c.token.as_str())),
        "tokens rotated"
    );
}

#[tokio::test]
async fn a_different_product_of_the_same_id_stops_provisioning_before_any_change() {
    let (base, token, _dir) = platform().await;
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/products"))
        .bearer_auth(&token)
        .json(&json!({"id": "vehicle", "name": "Bicycle", "properties": [{"id": "speed", "type": "float"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    let api = ApiClient::new(&base, &token).unwrap();
    let plan = fleet_plan(1, &[Scenario::AirQuality, Scenario::Fleet], 4, "p-");
    let error = api.provision(&plan).await.unwrap_err();
    assert!(
        matches!(&error, SimError::ProductConflict(id) if id == "vehicle"),
        "{error}"
    );
    assert_eq!(
        get(&base, &token, "/products/air_station").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&base, &token, "/devices/p-aq-00000").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&base, &token, "/products/vehicle").await.1["name"],
        "Bicycle"
    );
}

#[tokio::test]
async fn a_wrong_token_is_a_clear_error() {
    let (base, _token, _dir) = platform().await;
    let api = ApiClient::new(&base, "wrong").unwrap();
    let error = api
        .provision(&fleet_plan(1, &[Scenario::Fleet], 1, "x-"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, SimError::Api { status: 401, .. }),
        "{error}"
    );
}
