//! Tenancy and roles on every route family: a token of one tenant neither sees nor changes
//! another tenant's entities (404), a viewer cannot write (403), only admins manage tokens,
//! only the platform admin manages tenants and acts for other tenants.

mod common;

use common::{Api, Reply, Server, air_station, ids, provision_station};
use serde_json::json;

/// Tenant `default` with one entity of each family, and tenant `t2` with its admin.
async fn two_tenants(server: &Server) -> (Api, Api) {
    let admin = server.admin();
    let t2_admin = server.second_tenant(&admin).await;
    provision_station(&admin).await;
    admin
        .post(
            "/api/v1/tokens",
            json!({"id": "x", "name": "ops", "role": "operator"}),
        )
        .await
        .expect_error(422, "invalid_body");
    (admin, t2_admin)
}

/// The id of one API token of tenant `default` other than the platform admin's.
async fn default_token_id(admin: &Api) -> String {
    let reply = admin
        .post("/api/v1/tokens", json!({"name": "ops", "role": "operator"}))
        .await;
    reply.expect(201)["id"].as_str().unwrap().to_owned()
}

#[track_caller]
fn not_found(reply: Reply, what: &str) {
    assert_eq!(reply.status, 404, "{what}: {}", reply.text);
    assert_eq!(reply.code(), "not_found", "{what}: {}", reply.text);
}

#[tokio::test]
async fn foreign_ids_answer_404_in_every_family() {
    let server = Server::start();
    let (admin, t2) = two_tenants(&server).await;
    let token_id = default_token_id(&admin).await;
    let tok = format!("/api/v1/tokens/{token_id}");

    // Reads.
    for path in [
        "/api/v1/products/aq",
        "/api/v1/devices/st-1",
        "/api/v1/assets/sh",
        "/api/v1/assets/sh/devices",
        tok.as_str(),
    ] {
        not_found(t2.get(path).await, path);
    }
    // Lists show nothing of the other tenant.
    for path in ["/api/v1/products", "/api/v1/devices", "/api/v1/assets"] {
        assert_eq!(ids(&t2.get(path).await), Vec::<String>::new(), "{path}");
    }
    assert!(!ids(&t2.get("/api/v1/tokens").await).contains(&token_id));
    // Writes.
    not_found(
        t2.patch("/api/v1/products/aq", json!({"name": "x"})).await,
        "patch product",
    );
    not_found(
        t2.patch("/api/v1/devices/st-1", json!({"name": "x"})).await,
        "patch device",
    );
    not_found(
        t2.patch("/api/v1/assets/sh", json!({"name": "x"})).await,
        "patch asset",
    );
    not_found(t2.patch(&tok, json!({"name": "x"})).await, "patch token");
    not_found(
        t2.post("/api/v1/devices/st-1/token", json!({})).await,
        "rotate",
    );
    not_found(t2.delete("/api/v1/devices/st-1").await, "delete device");
    not_found(t2.delete("/api/v1/assets/sh").await, "delete asset");
    not_found(t2.delete("/api/v1/products/aq").await, "delete product");
    not_found(t2.delete(&tok).await, "delete token");
    // References across tenants do not resolve either.
    t2.post("/api/v1/devices", json!({"id": "x", "product": "aq"}))
        .await
        .expect_error(422, "invalid_input");
    t2.post("/api/v1/products", air_station("p2"))
        .await
        .expect(201);
    t2.post(
        "/api/v1/devices",
        json!({"id": "x", "product": "p2", "asset": "sh"}),
    )
    .await
    .expect_error(422, "invalid_input");
    t2.post(
        "/api/v1/assets",
        json!({"id": "a", "name": "A", "kind": "site", "parent": "sh"}),
    )
    .await
    .expect_error(422, "invalid_input");
    // The same ids may exist in both tenants.
    t2.post("/api/v1/devices", json!({"id": "st-1", "product": "p2"}))
        .await
        .expect(201);

    // Nothing of tenant default changed.
    admin.get("/api/v1/products/aq").await.expect(200);
    assert_eq!(
        admin.get("/api/v1/devices/st-1").await.expect(200)["product"],
        "aq"
    );
    admin.get("/api/v1/assets/sh").await.expect(200);
    admin.get(&tok).await.expect(200);
}

#[tokio::test]
async fn tenants_and_other_tenants_are_for_the_platform_admin_only() {
    let server = Server::start();
    let (admin, t2) = two_tenants(&server).await;
    t2.get("/api/v1/tenants")
        .await
        .expect_error(403, "forbidden");
    t2.get("/api/v1/tenants/t2")
        .await
        .expect_error(403, "forbidden");
    t2.post("/api/v1/tenants", json!({"id": "t3", "name": "Third"}))
        .await
        .expect_error(403, "forbidden");
    t2.patch("/api/v1/tenants/t2", json!({"name": "x"}))
        .await
        .expect_error(403, "forbidden");
    t2.delete("/api/v1/tenants/t2")
        .await
        .expect_error(403, "forbidden");
    t2.for_tenant("default")
        .get("/api/v1/products")
        .await
        .expect_error(403, "forbidden");
    t2.post(
        "/api/v1/tokens",
        json!({"name": "x", "role": "admin", "tenant": "default"}),
    )
    .await
    .expect_error(403, "forbidden");

    // The platform admin acts for t2 with the header.
    let as_t2 = admin.for_tenant("t2");
    as_t2
        .post("/api/v1/products", air_station("p2"))
        .await
        .expect(201);
    as_t2
        .post("/api/v1/devices", json!({"id": "d2", "product": "p2"}))
        .await
        .expect(201);
    assert_eq!(ids(&t2.get("/api/v1/devices").await), ["d2"]);
    assert_eq!(ids(&admin.get("/api/v1/devices").await), ["st-1"]);
    admin
        .for_tenant("nope")
        .get("/api/v1/devices")
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn viewer_reads_but_cannot_write_and_only_admins_manage_tokens() {
    let server = Server::start();
    let (admin, _) = two_tenants(&server).await;
    let viewer = server.client_with_role(&admin, "viewer", None).await;
    let operator = server.client_with_role(&admin, "operator", None).await;
    let token_id = default_token_id(&admin).await;
    let tok = format!("/api/v1/tokens/{token_id}");

    for path in [
        "/api/v1/products",
        "/api/v1/products/aq",
        "/api/v1/devices",
        "/api/v1/devices/st-1",
        "/api/v1/assets",
        "/api/v1/assets/sh",
        "/api/v1/assets/sh/devices",
    ] {
        viewer.get(path).await.expect(200);
    }
    let forbidden = [
        viewer.post("/api/v1/products", air_station("p9")).await,
        viewer
            .patch("/api/v1/products/aq", json!({"name": "x"}))
            .await,
        viewer.delete("/api/v1/products/aq").await,
        viewer
            .post("/api/v1/devices", json!({"id": "v", "product": "aq"}))
            .await,
        viewer
            .post(
                "/api/v1/devices:batch",
                json!({"devices": [{"id": "v", "product": "aq"}]}),
            )
            .await,
        viewer
            .patch("/api/v1/devices/st-1", json!({"name": "x"}))
            .await,
        viewer.post("/api/v1/devices/st-1/token", json!({})).await,
        viewer.delete("/api/v1/devices/st-1").await,
        viewer
            .post(
                "/api/v1/assets",
                json!({"id": "v", "name": "V", "kind": "site"}),
            )
            .await,
        viewer
            .patch("/api/v1/assets/sh", json!({"name": "x"}))
            .await,
        viewer.delete("/api/v1/assets/sh").await,
        viewer.get("/api/v1/tokens").await,
        viewer
            .post("/api/v1/tokens", json!({"name": "x", "role": "viewer"}))
            .await,
        viewer.delete(&tok).await,
        operator.get("/api/v1/tokens").await,
        operator.get(&tok).await,
        operator
            .post("/api/v1/tokens", json!({"name": "x", "role": "admin"}))
            .await,
        operator.patch(&tok, json!({"role": "admin"})).await,
        operator.delete(&tok).await,
        operator.get("/api/v1/tenants").await,
    ];
    for reply in forbidden {
        reply.expect_error(403, "forbidden");
    }
    // Nothing changed; the operator writes what it may.
    assert_eq!(ids(&admin.get("/api/v1/products").await), ["aq"]);
    admin.get("/api/v1/devices/st-1").await.expect(200);
    operator
        .post("/api/v1/products", air_station("p3"))
        .await
        .expect(201);
    operator
        .post("/api/v1/devices", json!({"id": "o1", "product": "p3"}))
        .await
        .expect(201);
    operator
        .post(
            "/api/v1/assets",
            json!({"id": "o", "name": "O", "kind": "site"}),
        )
        .await
        .expect(201);
}
