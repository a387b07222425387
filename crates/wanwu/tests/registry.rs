//! Every route family over real HTTP against the real binary: create, list (filters,
//! limit, cursor), get, update, delete; and a restart that keeps every entity.

mod common;

use common::{Server, air_station, create_token, ids};
use serde_json::json;

#[tokio::test]
async fn tenants_crud() {
    let server = Server::start();
    let api = server.admin();
    api.post("/api/v1/tenants", json!({"id": "t2", "name": "Second"}))
        .await
        .expect(201);
    assert_eq!(ids(&api.get("/api/v1/tenants").await), ["default", "t2"]);
    let t = api
        .patch("/api/v1/tenants/t2", json!({"name": "Zweite"}))
        .await;
    assert_eq!(t.expect(200)["name"], "Zweite");
    assert_eq!(
        api.get("/api/v1/tenants/t2").await.expect(200)["name"],
        "Zweite"
    );
    api.delete("/api/v1/tenants/t2").await.expect(204);
    api.get("/api/v1/tenants/t2")
        .await
        .expect_error(404, "not_found");
    api.delete("/api/v1/tenants/default")
        .await
        .expect_error(409, "conflict");
}

#[tokio::test]
async fn tokens_crud_and_revocation() {
    let server = Server::start();
    let api = server.admin();
    let created = api
        .post("/api/v1/tokens", json!({"name": "ops", "role": "operator"}))
        .await;
    let body = created.expect(201).clone();
    let (id, secret) = (
        body["id"].as_str().unwrap(),
        body["token"].as_str().unwrap(),
    );
    assert!(secret.starts_with("wwa_"));
    assert_eq!(body["tenant"], "default");
    let listed = api.get("/api/v1/tokens").await;
    assert!(ids(&listed).contains(&id.to_owned()));
    assert!(
        !listed.text.contains(secret),
        "the secret is shown once only"
    );
    let got = api.get(&format!("/api/v1/tokens/{id}")).await;
    assert_eq!(got.expect(200)["role"], "operator");
    assert!(got.body.get("token").is_none());
    let ops = server.anonymous().with_token(secret);
    ops.get("/api/v1/products").await.expect(200);
    api.patch(&format!("/api/v1/tokens/{id}"), json!({"role": "viewer"}))
        .await
        .expect(200);
    ops.post("/api/v1/products", air_station("aq"))
        .await
        .expect_error(403, "forbidden");
    api.delete(&format!("/api/v1/tokens/{id}"))
        .await
        .expect(204);
    ops.get("/api/v1/products")
        .await
        .expect_error(401, "unauthorized");
    api.delete("/api/v1/tokens/admin")
        .await
        .expect_error(409, "conflict");
}

#[tokio::test]
async fn products_crud() {
    let server = Server::start();
    let api = server.admin();
    let created = api.post("/api/v1/products", air_station("aq")).await;
    assert_eq!(
        created.expect(201)["properties"][1]["values"],
        json!(["auto", "manual"])
    );
    let got = api.get("/api/v1/products/aq").await;
    assert_eq!(got.expect(200)["commands"][0]["params"][0]["max"], 10.0);
    assert_eq!(got.body["properties"][0]["access"], "read");
    let patched = api
        .patch(
            "/api/v1/products/aq",
            json!({"name": "Air quality station"}),
        )
        .await;
    assert_eq!(patched.expect(200)["name"], "Air quality station");
    assert_eq!(patched.body["properties"].as_array().unwrap().len(), 2);
    api.patch(
        "/api/v1/products/aq",
        json!({"properties": [{"id": "x", "type": "int", "min": 5, "max": 1}]}),
    )
    .await
    .expect_error(422, "invalid_input");
    assert_eq!(
        api.get("/api/v1/products/aq").await.body["properties"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "a rejected update changes nothing"
    );
    api.post("/api/v1/products", air_station("bq"))
        .await
        .expect(201);
    assert_eq!(ids(&api.get("/api/v1/products").await), ["aq", "bq"]);
    api.post("/api/v1/devices", json!({"id": "d1", "product": "aq"}))
        .await
        .expect(201);
    api.delete("/api/v1/products/aq")
        .await
        .expect_error(409, "conflict");
    api.delete("/api/v1/products/bq").await.expect(204);
    api.get("/api/v1/products/bq")
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn devices_crud_batch_rotation_and_filters() {
    let server = Server::start();
    let api = server.admin();
    api.post("/api/v1/products", air_station("aq"))
        .await
        .expect(201);
    api.post("/api/v1/products", air_station("bq"))
        .await
        .expect(201);
    let created = api
        .post(
            "/api/v1/devices",
            json!({"id": "st-1", "product": "aq", "name": "Station 1", "tags": {"zone": "north"},
                   "location": {"lat": 31.23, "lon": 121.47}}),
        )
        .await;
    let d = created.expect(201).clone();
    let token = d["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("wwd_"));
    assert_eq!(d["status"], "offline");
    let generated = api.post("/api/v1/devices", json!({"product": "bq"})).await;
    let generated_id = generated.expect(201)["id"].as_str().unwrap().to_owned();
    assert!(generated_id.starts_with("dev-"));

    let got = api.get("/api/v1/devices/st-1").await;
    let got = got.expect(200);
    assert_eq!(got["name"], "Station 1");
    assert_eq!(got["status"], "offline");
    assert!(got.get("last_seen").is_some());
    assert!(got.get("token").is_none(), "the token is shown once only");

    let batch: Vec<_> = (0..30)
        .map(|i| json!({"id": format!("b{i:02}"), "product": "aq", "tags": {"zone": if i % 3 == 0 {"north"} else {"south"}}}))
        .collect();
    let reply = api
        .post("/api/v1/devices:batch", json!({"devices": batch}))
        .await;
    let created = reply.expect(201)["devices"].as_array().unwrap().clone();
    assert_eq!(created.len(), 30);
    assert!(
        created
            .iter()
            .all(|d| d["token"].as_str().unwrap().starts_with("wwd_"))
    );

    // Pages follow the cursor, in id order, without repeats.
    let mut seen = vec![];
    let mut path = "/api/v1/devices?limit=7".to_owned();
    loop {
        let page = api.get(&path).await;
        page.expect(200);
        seen.extend(ids(&page));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/devices?limit=7&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 32);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));

    let north = api.get("/api/v1/devices?tag=zone:north&limit=1000").await;
    assert_eq!(ids(&north).len(), 11);
    let of_bq = api.get("/api/v1/devices?product=bq").await;
    assert_eq!(ids(&of_bq), std::slice::from_ref(&generated_id));

    let patched = api
        .patch(
            "/api/v1/devices/st-1",
            json!({"name": "Station One", "location": null}),
        )
        .await;
    assert_eq!(patched.expect(200)["name"], "Station One");
    assert!(patched.body["location"].is_null());
    assert_eq!(patched.body["tags"]["zone"], "north", "absent fields stay");

    let rotated = api.post("/api/v1/devices/st-1/token", json!({})).await;
    let new_token = rotated.expect(200)["token"].as_str().unwrap();
    assert!(new_token.starts_with("wwd_") && new_token != token);

    api.delete("/api/v1/devices/st-1").await.expect(204);
    api.get("/api/v1/devices/st-1")
        .await
        .expect_error(404, "not_found");
    api.post("/api/v1/devices/st-1/token", json!({}))
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn assets_tree_and_subtree_devices() {
    let server = Server::start();
    let api = server.admin();
    api.post("/api/v1/products", air_station("aq"))
        .await
        .expect(201);
    for (id, parent, kind) in [
        ("sh", None, "city"),
        ("pudong", Some("sh"), "district"),
        ("century-ave", Some("pudong"), "street"),
        ("xuhui", Some("sh"), "district"),
    ] {
        let mut body = json!({"id": id, "name": id.to_uppercase(), "kind": kind,
                              "location": {"lat": 31.2, "lon": 121.5}});
        if let Some(parent) = parent {
            body["parent"] = parent.into();
        }
        api.post("/api/v1/assets", body).await.expect(201);
    }
    for (device, asset) in [("d1", "century-ave"), ("d2", "pudong"), ("d3", "xuhui")] {
        api.post(
            "/api/v1/devices",
            json!({"id": device, "product": "aq", "asset": asset}),
        )
        .await
        .expect(201);
    }
    assert_eq!(
        ids(&api.get("/api/v1/assets/sh/devices").await),
        ["d1", "d2", "d3"]
    );
    assert_eq!(
        ids(&api.get("/api/v1/assets/pudong/devices").await),
        ["d1", "d2"]
    );
    assert_eq!(ids(&api.get("/api/v1/devices?asset=pudong").await), ["d2"]);
    assert_eq!(ids(&api.get("/api/v1/assets?root=true").await), ["sh"]);
    assert_eq!(
        ids(&api.get("/api/v1/assets?parent=sh").await),
        ["pudong", "xuhui"]
    );
    assert_eq!(
        ids(&api.get("/api/v1/assets?kind=district").await),
        ["pudong", "xuhui"]
    );

    // Moving an asset below itself is refused; moving elsewhere moves its subtree.
    api.patch("/api/v1/assets/sh", json!({"parent": "century-ave"}))
        .await
        .expect_error(409, "conflict");
    let moved = api
        .patch("/api/v1/assets/pudong", json!({"parent": "xuhui"}))
        .await;
    assert_eq!(moved.expect(200)["parent"], "xuhui");
    assert_eq!(
        ids(&api.get("/api/v1/assets/xuhui/devices").await),
        ["d1", "d2", "d3"]
    );
    api.patch(
        "/api/v1/assets/pudong",
        json!({"parent": null, "name": "Pudong"}),
    )
    .await
    .expect(200);
    assert_eq!(
        ids(&api.get("/api/v1/assets?root=true").await),
        ["pudong", "sh"]
    );
    assert_eq!(
        api.get("/api/v1/assets/pudong").await.expect(200)["name"],
        "Pudong"
    );

    api.delete("/api/v1/assets/xuhui")
        .await
        .expect_error(409, "conflict");
    api.delete("/api/v1/devices/d3").await.expect(204);
    api.delete("/api/v1/assets/xuhui").await.expect(204);
    api.post(
        "/api/v1/devices",
        json!({"id": "d9", "product": "aq", "asset": "xuhui"}),
    )
    .await
    .expect_error(422, "invalid_input");
}

#[tokio::test]
async fn restart_keeps_every_entity() {
    let server = Server::start();
    let api = server.admin();
    api.post("/api/v1/tenants", json!({"id": "t2", "name": "Second"}))
        .await
        .expect(201);
    let viewer = create_token(&api, "viewer", Some("t2")).await;
    api.post("/api/v1/products", air_station("aq"))
        .await
        .expect(201);
    api.post(
        "/api/v1/assets",
        json!({"id": "sh", "name": "Shanghai", "kind": "city"}),
    )
    .await
    .expect(201);
    let device = api
        .post(
            "/api/v1/devices",
            json!({"id": "st-1", "product": "aq", "asset": "sh", "tags": {"k": "v"}, "location": {"lat": 1.5, "lon": 2.5}}),
        )
        .await;
    device.expect(201);
    let before: Vec<_> = [
        "/api/v1/tenants/t2",
        "/api/v1/products/aq",
        "/api/v1/assets/sh",
        "/api/v1/devices/st-1",
        "/api/v1/tokens",
    ]
    .iter()
    .map(|p| (p.to_string(), api.clone()))
    .collect();
    let mut snapshots = vec![];
    for (path, api) in &before {
        snapshots.push(api.get(path).await.expect(200).clone());
    }

    let server = server.restart();
    let api = server.admin();
    for ((path, _), snapshot) in before.iter().zip(&snapshots) {
        assert_eq!(&api.get(path).await.expect(200).clone(), snapshot, "{path}");
    }
    let viewer = server.anonymous().with_token(&viewer);
    assert_eq!(
        viewer.get("/api/v1/products").await.expect(200)["items"],
        json!([])
    );
    assert!(
        server
            .stdout_lines()
            .iter()
            .all(|l| !l.contains("admin token")),
        "the admin token is printed on the first start only"
    );
}
