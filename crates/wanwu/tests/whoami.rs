//! `GET /api/v1/whoami`: the calling token's tenant, role, id, name and platform-admin flag,
//! for every role; the platform admin acting for another tenant sees that tenant.

mod common;

use common::{Server, create_token};
use serde_json::json;

#[tokio::test]
async fn the_platform_admin_is_described_in_its_own_and_in_an_acted_for_tenant() {
    let server = Server::start();
    let admin = server.admin();
    let me = admin.get("/api/v1/whoami").await.expect(200).clone();
    assert_eq!(me["tenant"], "default", "{me}");
    assert_eq!(me["role"], "admin", "{me}");
    assert_eq!(me["platform_admin"], true, "{me}");
    assert_eq!(me["token"]["tenant"], "default", "{me}");
    let token_id = me["token"]["id"].as_str().expect("token id");
    let listed = admin.get(&format!("/api/v1/tokens/{token_id}")).await;
    assert_eq!(me["token"]["name"], listed.expect(200)["name"], "{me}");
    assert!(me.get("secret").is_none() && me["token"].get("token").is_none());

    server.second_tenant(&admin).await;
    let acting = admin.for_tenant("t2").get("/api/v1/whoami").await;
    let acting = acting.expect(200);
    assert_eq!(acting["tenant"], "t2", "{acting}");
    assert_eq!(acting["token"]["tenant"], "default", "{acting}");
    assert_eq!(acting["platform_admin"], true, "{acting}");
}

#[tokio::test]
async fn every_role_reads_its_own_description() {
    let server = Server::start();
    let admin = server.admin();
    let t2_admin = server.second_tenant(&admin).await;
    for role in ["admin", "operator", "viewer"] {
        let secret = create_token(&t2_admin, role, None).await;
        let api = server.anonymous().with_token(&secret);
        let me = api.get("/api/v1/whoami").await;
        let me = me.expect(200);
        assert_eq!(me["tenant"], "t2", "{role}: {me}");
        assert_eq!(me["role"], role, "{me}");
        assert_eq!(me["platform_admin"], false, "{me}");
        assert_eq!(me["token"]["name"], format!("{role} token"), "{me}");
    }
    // A tenant's own admin cannot act for another tenant through the header.
    t2_admin
        .for_tenant("default")
        .get("/api/v1/whoami")
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn missing_and_revoked_tokens_are_refused() {
    let server = Server::start();
    let admin = server.admin();
    server
        .anonymous()
        .get("/api/v1/whoami")
        .await
        .expect_error(401, "unauthorized");
    let secret = create_token(&admin, "viewer", None).await;
    let viewer = server.anonymous().with_token(&secret);
    let me = viewer.get("/api/v1/whoami").await.expect(200).clone();
    let id = me["token"]["id"].as_str().expect("token id");
    assert_eq!(
        admin.delete(&format!("/api/v1/tokens/{id}")).await.status,
        204
    );
    viewer
        .get("/api/v1/whoami")
        .await
        .expect_error(401, "unauthorized");
    // Nothing changed: the admin's own description still answers.
    assert_eq!(
        admin.get("/api/v1/whoami").await.expect(200)["role"],
        json!("admin")
    );
}
