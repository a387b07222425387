//! Bad input gets the error JSON with the right status and changes nothing: malformed
//! JSON, unknown fields, wrong types, invalid values, oversized bodies, duplicates,
//! missing or bad tokens, a batch with one bad device.

mod common;

use common::{Server, air_station, ids};
use serde_json::json;

#[tokio::test]
async fn malformed_unknown_and_mistyped_bodies() {
    let server = Server::start();
    let api = server.admin();
    api.send(
        "POST",
        "/api/v1/products",
        Some(b"{\"id\": \"aq\",".to_vec()),
    )
    .await
    .expect_error(400, "malformed_json");
    let mut unknown = air_station("aq");
    unknown["colour"] = json!("red");
    let reply = api.post("/api/v1/products", unknown).await;
    reply.expect_error(422, "invalid_body");
    assert!(reply.text.contains("colour"), "{}", reply.text);
    let mut nested_unknown = air_station("aq");
    nested_unknown["properties"][0]["colour"] = json!("red");
    api.post("/api/v1/products", nested_unknown)
        .await
        .expect_error(422, "invalid_body");
    let mut wrong_type = air_station("aq");
    wrong_type["properties"][0]["min"] = json!("zero");
    api.post("/api/v1/products", wrong_type)
        .await
        .expect_error(422, "invalid_body");
    api.post("/api/v1/devices", json!({"id": 5, "product": "aq"}))
        .await
        .expect_error(422, "invalid_body");
    api.post("/api/v1/tokens", json!({"name": "x", "role": "root"}))
        .await
        .expect_error(422, "invalid_body");
    api.patch("/api/v1/devices/x", json!({"product": "other"}))
        .await
        .expect_error(422, "invalid_body");
    let reply = {
        let client = common::http_client();
        let response = client
            .post(server.url("/api/v1/products"))
            .bearer_auth(&server.admin_token)
            .body(air_station("aq").to_string())
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    assert_eq!(reply.0, 415, "{}", reply.1);
    assert!(reply.1.contains("unsupported_media_type"));
    assert_eq!(
        ids(&api.get("/api/v1/products").await),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn invalid_values_name_the_field_path() {
    let server = Server::start();
    let api = server.admin();
    let mut product = air_station("aq");
    product["properties"][0]["min"] = json!(10);
    product["properties"][0]["max"] = json!(1);
    product["properties"][1]["values"] = json!([]);
    let reply = api.post("/api/v1/products", product).await;
    reply.expect_error(422, "invalid_input");
    let paths: Vec<_> = reply.body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["properties[0].max", "properties[1].values"]);
    api.post("/api/v1/products", json!({"id": "a/b", "name": "x"}))
        .await
        .expect_error(422, "invalid_input");
    api.post("/api/v1/products", air_station("aq"))
        .await
        .expect(201);
    let reply = api
        .post(
            "/api/v1/devices",
            json!({"id": "d", "product": "aq", "location": {"lat": 95, "lon": 0}}),
        )
        .await;
    reply.expect_error(422, "invalid_input");
    assert_eq!(reply.body["error"]["details"][0]["path"], "location");
    api.get("/api/v1/devices?limit=0")
        .await
        .expect_error(400, "invalid_query");
    api.get("/api/v1/devices?limit=5000")
        .await
        .expect_error(400, "invalid_query");
    api.get("/api/v1/devices?limit=abc")
        .await
        .expect_error(400, "invalid_query");
    api.get("/api/v1/devices?tag=novalue")
        .await
        .expect_error(400, "invalid_query");
    assert_eq!(ids(&api.get("/api/v1/devices").await), Vec::<String>::new());
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let server = Server::start();
    let api = server.admin();
    let mut product = air_station("aq");
    product["description"] = json!("x".repeat(3 * 1024 * 1024));
    api.post("/api/v1/products", product)
        .await
        .expect_error(413, "payload_too_large");
    api.get("/api/v1/products/aq")
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn duplicates_get_409() {
    let server = Server::start();
    let api = server.admin();
    api.post("/api/v1/products", air_station("aq"))
        .await
        .expect(201);
    api.post("/api/v1/products", air_station("aq"))
        .await
        .expect_error(409, "already_exists");
    api.post("/api/v1/devices", json!({"id": "d1", "product": "aq"}))
        .await
        .expect(201);
    api.post("/api/v1/devices", json!({"id": "d1", "product": "aq"}))
        .await
        .expect_error(409, "already_exists");
    api.post(
        "/api/v1/assets",
        json!({"id": "a", "name": "A", "kind": "site"}),
    )
    .await
    .expect(201);
    api.post(
        "/api/v1/assets",
        json!({"id": "a", "name": "A", "kind": "site"}),
    )
    .await
    .expect_error(409, "already_exists");
    api.post("/api/v1/tenants", json!({"id": "default", "name": "again"}))
        .await
        .expect_error(409, "already_exists");
}

#[tokio::test]
async fn missing_and_bad_tokens_get_401() {
    let server = Server::start();
    let anonymous = server.anonymous();
    for path in [
        "/api/v1/products",
        "/api/v1/devices",
        "/api/v1/tenants",
        "/api/v1/assets",
        "/api/v1/tokens",
    ] {
        anonymous.get(path).await.expect_error(401, "unauthorized");
        anonymous
            .with_token("wwa_not-a-real-token")
            .get(path)
            .await
            .expect_error(401, "unauthorized");
    }
    let response = common::http_client()
        .get(server.url("/api/v1/devices"))
        .header("Authorization", format!("Basic {}", server.admin_token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    anonymous
        .with_token("wwa_x")
        .post("/api/v1/products", air_station("aq"))
        .await
        .expect_error(401, "unauthorized");
    assert_eq!(
        ids(&server.admin().get("/api/v1/products").await),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_batch_with_one_bad_device_writes_nothing() {
    let server = Server::start();
    let api = server.admin();
    api.post("/api/v1/products", air_station("aq"))
        .await
        .expect(201);
    api.post("/api/v1/devices", json!({"id": "taken", "product": "aq"}))
        .await
        .expect(201);
    let batch = |bad: serde_json::Value| {
        let mut devices: Vec<_> = (0..10)
            .map(|i| json!({"id": format!("d{i}"), "product": "aq"}))
            .collect();
        devices[7] = bad;
        json!({ "devices": devices })
    };
    let cases = [
        (
            json!({"id": "d7", "product": "missing"}),
            422,
            "invalid_input",
        ),
        (
            json!({"id": "bad id", "product": "aq"}),
            422,
            "invalid_input",
        ),
        (json!({"id": "d0", "product": "aq"}), 422, "invalid_input"),
        (
            json!({"id": "taken", "product": "aq"}),
            409,
            "already_exists",
        ),
        (
            json!({"id": "d7", "product": "aq", "extra": 1}),
            422,
            "invalid_body",
        ),
    ];
    for (bad, status, code) in cases {
        let reply = api.post("/api/v1/devices:batch", batch(bad)).await;
        reply.expect_error(status, code);
        if code == "invalid_input" {
            let path = reply.body["error"]["details"][0]["path"].as_str().unwrap();
            assert!(path.starts_with("devices[7]."), "{path}");
        }
        assert_eq!(ids(&api.get("/api/v1/devices").await), ["taken"]);
    }
    let too_many: Vec<_> = (0..1001)
        .map(|i| json!({"id": format!("d{i}"), "product": "aq"}))
        .collect();
    api.post("/api/v1/devices:batch", json!({"devices": too_many}))
        .await
        .expect_error(422, "invalid_input");
    api.post("/api/v1/devices:batch", json!({"devices": []}))
        .await
        .expect_error(422, "invalid_input");
    assert_eq!(ids(&api.get("/api/v1/devices").await), ["taken"]);
}

#[tokio::test]
async fn unknown_api_routes_answer_the_error_json() {
    let server = Server::start();
    let api = server.admin();
    api.get("/api/v1/nope")
        .await
        .expect_error(404, "route_not_found");
    api.get("/api/v2/devices")
        .await
        .expect_error(404, "route_not_found");
}
