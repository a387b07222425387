//! The OpenAPI document: valid OpenAPI 3, listing exactly the routes the server answers.

mod common;

use common::Server;
use std::collections::BTreeSet;

/// Every route of the HTTP API (method, path template).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/metrics"),
    ("get", "/api/v1/tenants"),
    ("post", "/api/v1/tenants"),
    ("get", "/api/v1/tenants/{id}"),
    ("patch", "/api/v1/tenants/{id}"),
    ("delete", "/api/v1/tenants/{id}"),
    ("get", "/api/v1/tokens"),
    ("post", "/api/v1/tokens"),
    ("get", "/api/v1/tokens/{id}"),
    ("patch", "/api/v1/tokens/{id}"),
    ("delete", "/api/v1/tokens/{id}"),
    ("get", "/api/v1/whoami"),
    ("get", "/api/v1/products"),
    ("post", "/api/v1/products"),
    ("get", "/api/v1/products/{id}"),
    ("patch", "/api/v1/products/{id}"),
    ("delete", "/api/v1/products/{id}"),
    ("get", "/api/v1/devices"),
    ("post", "/api/v1/devices"),
    ("post", "/api/v1/devices:batch"),
    ("get", "/api/v1/devices/{id}"),
    ("patch", "/api/v1/devices/{id}"),
    ("delete", "/api/v1/devices/{id}"),
    ("post", "/api/v1/devices/{id}/token"),
    ("get", "/api/v1/assets"),
    ("post", "/api/v1/assets"),
    ("get", "/api/v1/assets/{id}"),
    ("patch", "/api/v1/assets/{id}"),
    ("delete", "/api/v1/assets/{id}"),
    ("get", "/api/v1/assets/{id}/devices"),
    ("get", "/api/v1/alarms"),
    ("post", "/api/v1/alarms"),
    ("get", "/api/v1/alarms/{id}"),
    ("post", "/api/v1/alarms/{id}/ack"),
    ("post", "/api/v1/alarms/{id}/clear"),
    ("post", "/api/v1/rules:test"),
    ("get", "/api/v1/rules"),
    ("post", "/api/v1/rules"),
    ("get", "/api/v1/rules/{id}"),
    ("put", "/api/v1/rules/{id}"),
    ("delete", "/api/v1/rules/{id}"),
    ("post", "/api/v1/rules/{id}/enable"),
    ("post", "/api/v1/rules/{id}/disable"),
    ("get", "/api/v1/scenes"),
    ("post", "/api/v1/scenes"),
    ("get", "/api/v1/scenes/{id}"),
    ("put", "/api/v1/scenes/{id}"),
    ("delete", "/api/v1/scenes/{id}"),
    ("post", "/api/v1/scenes/{id}/run"),
    ("get", "/api/v1/devices/{id}/shadow"),
    ("patch", "/api/v1/devices/{id}/shadow/desired"),
    ("post", "/api/v1/devices/{id}/commands/{name}"),
    ("get", "/api/v1/devices/{id}/commands"),
    ("get", "/api/v1/commands/{id}"),
    ("get", "/api/v1/devices/{id}/events"),
    ("get", "/api/v1/ws"),
    ("post", "/api/v1/devices/{id}/telemetry"),
    ("get", "/api/v1/devices/{id}/telemetry"),
    ("delete", "/api/v1/devices/{id}/telemetry"),
    ("get", "/api/v1/devices/{id}/telemetry/latest"),
    ("get", "/api/v1/assets/{id}/telemetry"),
];

fn operations(doc: &serde_json::Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in [
            "get", "put", "post", "delete", "patch", "head", "options", "trace",
        ] {
            if item.get(method).is_some() {
                ops.insert((method.to_owned(), path.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn the_document_is_openapi_3_and_lists_every_route() {
    let server = Server::start();
    let reply = server.anonymous().get("/api/v1/openapi.json").await;
    let doc = reply.expect(200).clone();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let parsed: utoipa::openapi::OpenApi =
        serde_json::from_value(doc.clone()).expect("the document parses as OpenAPI");
    assert_eq!(
        parsed.paths.paths.len(),
        doc["paths"].as_object().unwrap().len()
    );

    let expected: BTreeSet<_> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(operations(&doc), expected);

    // Every operation has a response and an operation id; API paths take the tenant header
    // and name the bearer scheme; referenced schemas exist.
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    for (method, path) in &expected {
        let item = &doc["paths"][path];
        let op = &item[method];
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path}"
        );
        assert!(op["operationId"].is_string(), "{method} {path}");
        if path.starts_with("/api/v1") {
            let params = item["parameters"].as_array().expect("path parameters");
            assert!(
                params
                    .iter()
                    .any(|p| p["name"] == "X-Wanwu-Tenant" && p["in"] == "header")
            );
        }
    }
    let text = doc.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            schemas.contains_key(name),
            "dangling schema reference {name}"
        );
    }
}

#[tokio::test]
async fn the_server_answers_every_documented_route() {
    let server = Server::start();
    let doc = server.anonymous().get("/api/v1/openapi.json").await.body;
    let api = server.admin();
    for (method, path) in operations(&doc) {
        let concrete = path.replace("{id}", "missing-id");
        let body = matches!(method.as_str(), "post" | "patch").then(|| b"{}".to_vec());
        let reply = api.send(&method.to_uppercase(), &concrete, body).await;
        assert_ne!(reply.status, 405, "{method} {path}: {}", reply.text);
        assert_ne!(
            reply.code(),
            "route_not_found",
            "{method} {path}: {}",
            reply.text
        );
    }
}
