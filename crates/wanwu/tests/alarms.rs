//! Alarms over HTTP against the real binary: raise, repeat, acknowledge, clear, filters,
//! tenancy and roles, and persistence across a restart.

mod common;

use common::{Api, Reply, Server, ids, provision_station};
use serde_json::json;

/// Tenant `default` with product `aq`, asset `sh` holding device `st-1`, and device `st-2`
/// outside it.
async fn provision(admin: &Api) {
    provision_station(admin).await;
    admin
        .create("/api/v1/devices", json!({"id": "st-2", "product": "aq"}))
        .await;
}

/// `POST /alarms/{id}/{action}` (ack or clear).
async fn act(api: &Api, id: &str, action: &str) -> Reply {
    api.post(&format!("/api/v1/alarms/{id}/{action}"), json!({}))
        .await
}

fn raise(device: &str, alarm_type: &str, severity: &str) -> serde_json::Value {
    json!({"device": device, "type": alarm_type, "severity": severity, "details": {"pm25": 180.0}})
}

#[tokio::test]
async fn lifecycle_raise_repeat_acknowledge_clear() {
    let server = Server::start();
    let admin = server.admin();
    provision(&admin).await;

    let first = admin
        .post("/api/v1/alarms", raise("st-1", "high_pm25", "major"))
        .await;
    let alarm = first.expect(201).clone();
    let id = alarm["id"].as_str().expect("id").to_owned();
    assert_eq!(alarm["status"], "active");
    assert_eq!(alarm["count"], 1);
    assert_eq!(alarm["device"], "st-1");

    let again = admin
        .post("/api/v1/alarms", raise("st-1", "high_pm25", "critical"))
        .await;
    let repeated = again.expect(200);
    assert_eq!(
        repeated["id"],
        id.as_str(),
        "one open alarm per device and type"
    );
    assert_eq!(repeated["count"], 2);
    assert_eq!(repeated["severity"], "critical");

    let acked = act(&admin, &id, "ack").await;
    assert_eq!(acked.expect(200)["status"], "acknowledged");
    act(&admin, &id, "ack").await.expect_error(409, "conflict");

    let cleared = act(&admin, &id, "clear").await;
    let cleared = cleared.expect(200);
    assert_eq!(cleared["status"], "cleared");
    assert!(cleared["cleared_ts"].as_i64().is_some());
    act(&admin, &id, "clear")
        .await
        .expect_error(409, "conflict");
    act(&admin, &id, "ack").await.expect_error(409, "conflict");

    let next = admin
        .post("/api/v1/alarms", raise("st-1", "high_pm25", "minor"))
        .await;
    let next_id = next.expect(201)["id"].as_str().expect("id").to_owned();
    assert_ne!(
        next_id, id,
        "after a clear the next raise opens a new alarm"
    );

    let got = admin.get(&format!("/api/v1/alarms/{id}")).await;
    assert_eq!(got.expect(200)["status"], "cleared");
    admin
        .get("/api/v1/alarms/no-such-alarm")
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn list_filters_by_status_severity_device_and_asset() {
    let server = Server::start();
    let admin = server.admin();
    provision(&admin).await;
    let a = admin
        .create_id("/api/v1/alarms", raise("st-1", "high_pm25", "major"))
        .await;
    let b = admin
        .create_id("/api/v1/alarms", raise("st-2", "offline", "critical"))
        .await;
    act(&admin, &b, "ack").await.expect(200);

    let all = admin.get("/api/v1/alarms").await;
    all.expect(200);
    let mut both = ids(&all);
    both.sort();
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(both, expected);
    assert_eq!(
        ids(&admin.get("/api/v1/alarms?status=active").await),
        vec![a.clone()]
    );
    assert_eq!(
        ids(&admin.get("/api/v1/alarms?status=acknowledged").await),
        vec![b.clone()]
    );
    assert_eq!(
        ids(&admin.get("/api/v1/alarms?severity=critical").await),
        vec![b.clone()]
    );
    assert_eq!(
        ids(&admin.get("/api/v1/alarms?device=st-2").await),
        vec![b.clone()]
    );
    assert_eq!(
        ids(&admin.get("/api/v1/alarms?asset=sh").await),
        vec![a.clone()]
    );
    assert!(ids(&admin.get("/api/v1/alarms?asset=sh&device=st-2").await).is_empty());

    let first_page = admin.get("/api/v1/alarms?limit=1").await;
    assert_eq!(ids(&first_page).len(), 1);
    let cursor = first_page.body["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let second_page = admin
        .get(&format!("/api/v1/alarms?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(ids(&second_page).len(), 1);
    assert_ne!(ids(&first_page), ids(&second_page));

    admin
        .get("/api/v1/alarms?severity=terrible")
        .await
        .expect_error(422, "invalid_input");
    admin
        .get("/api/v1/alarms?asset=nowhere")
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn bad_raises_change_nothing() {
    let server = Server::start();
    let admin = server.admin();
    provision(&admin).await;
    admin
        .post("/api/v1/alarms", raise("ghost", "high_pm25", "major"))
        .await
        .expect_error(404, "not_found");
    let reply = admin
        .post("/api/v1/alarms", raise("st-1", "high_pm25", "apocalyptic"))
        .await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    let reply = admin
        .post("/api/v1/alarms", raise("st-1", " ", "major"))
        .await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert!(ids(&admin.get("/api/v1/alarms").await).is_empty());
}

#[tokio::test]
async fn tenancy_and_viewer() {
    let server = Server::start();
    let admin = server.admin();
    provision(&admin).await;
    let id = admin
        .create_id("/api/v1/alarms", raise("st-1", "high_pm25", "major"))
        .await;

    let other = server.second_tenant(&admin).await;
    assert!(ids(&other.get("/api/v1/alarms").await).is_empty());
    other
        .get(&format!("/api/v1/alarms/{id}"))
        .await
        .expect_error(404, "not_found");
    act(&other, &id, "ack").await.expect_error(404, "not_found");
    act(&other, &id, "clear")
        .await
        .expect_error(404, "not_found");
    other
        .post("/api/v1/alarms", raise("st-1", "high_pm25", "major"))
        .await
        .expect_error(404, "not_found");

    let viewer = server.client_with_role(&admin, "viewer", None).await;
    assert_eq!(ids(&viewer.get("/api/v1/alarms").await), vec![id.clone()]);
    viewer
        .get(&format!("/api/v1/alarms/{id}"))
        .await
        .expect(200);
    act(&viewer, &id, "ack")
        .await
        .expect_error(403, "forbidden");
    act(&viewer, &id, "clear")
        .await
        .expect_error(403, "forbidden");
    viewer
        .post("/api/v1/alarms", raise("st-2", "offline", "major"))
        .await
        .expect_error(403, "forbidden");
    let alarm = admin.get(&format!("/api/v1/alarms/{id}")).await;
    assert_eq!(alarm.expect(200)["status"], "active");
}

#[tokio::test]
async fn alarms_survive_restart_and_stay_one_per_device_and_type() {
    let server = Server::start();
    let admin = server.admin();
    provision(&admin).await;
    let open = admin
        .create_id("/api/v1/alarms", raise("st-1", "high_pm25", "major"))
        .await;
    let acked = admin
        .create_id("/api/v1/alarms", raise("st-2", "offline", "minor"))
        .await;
    act(&admin, &acked, "ack").await.expect(200);

    let server = server.restart();
    let admin = server.admin();
    let got = admin.get(&format!("/api/v1/alarms/{open}")).await;
    let got = got.expect(200);
    assert_eq!(got["status"], "active");
    assert_eq!(got["details"]["pm25"], 180.0);
    let got = admin.get(&format!("/api/v1/alarms/{acked}")).await;
    assert_eq!(got.expect(200)["status"], "acknowledged");

    let repeated = admin
        .post("/api/v1/alarms", raise("st-1", "high_pm25", "major"))
        .await;
    let repeated = repeated.expect(200);
    assert_eq!(repeated["id"], open.as_str(), "the open alarm was reloaded");
    assert_eq!(repeated["count"], 2);
    act(&admin, &acked, "clear").await.expect(200);
}
