//! Rule dry runs over HTTP against the real binary: `POST /rules:test` evaluates a rule
//! against a message, and a rule that does not compile is a 400 with the CEL position.

mod common;

use common::{Server, air_station, create_token};
use serde_json::json;

fn threshold_rule(condition: &str) -> serde_json::Value {
    json!({
        "id": "high-pm25", "name": "PM2.5 too high",
        "trigger": {"type": "message", "kinds": ["telemetry"], "devices": {"product": "aq"}},
        "condition": condition,
        "actions": [{"type": "raise_alarm", "alarm": "high_pm25", "severity": "major",
                     "details": {"pm25": "${values.pm25}"}}]
    })
}

#[tokio::test]
async fn dry_run_reports_condition_and_planned_actions() {
    let server = Server::start();
    let admin = server.admin();
    admin
        .post("/api/v1/products", air_station("aq"))
        .await
        .expect(201);
    admin
        .post("/api/v1/devices", json!({"id": "st-1", "product": "aq"}))
        .await
        .expect(201);

    let high = admin
        .post(
            "/api/v1/rules:test",
            json!({"rule": threshold_rule("msg.values.pm25 > 75.0"),
                   "message": {"device": "st-1", "values": {"pm25": 180.0}}}),
        )
        .await;
    let outcome = high.expect(200);
    assert_eq!(outcome["trigger_matched"], true);
    assert_eq!(outcome["condition"], true);
    assert_eq!(outcome["fires"], true);
    let actions = outcome["actions"].as_array().expect("actions");
    assert_eq!(actions.len(), 1, "{outcome}");
    assert!(
        actions[0].to_string().contains("high_pm25"),
        "planned alarm: {outcome}"
    );

    let low = admin
        .post(
            "/api/v1/rules:test",
            json!({"rule": threshold_rule("msg.values.pm25 > 75.0"),
                   "message": {"device": "st-1", "values": {"pm25": 20.0}}}),
        )
        .await;
    let outcome = low.expect(200);
    assert_eq!(outcome["condition"], false);
    assert_eq!(outcome["fires"], false);
    assert!(outcome["actions"].as_array().expect("actions").is_empty());

    let viewer = server
        .anonymous()
        .with_token(&create_token(&admin, "viewer", None).await);
    viewer
        .post(
            "/api/v1/rules:test",
            json!({"rule": threshold_rule("msg.values.pm25 > 75.0"),
                   "message": {"device": "ghost", "values": {"pm25": 20.0}}}),
        )
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn cel_syntax_error_is_400_with_line_and_column() {
    let server = Server::start();
    let admin = server.admin();
    admin
        .post("/api/v1/products", air_station("aq"))
        .await
        .expect(201);
    admin
        .post("/api/v1/devices", json!({"id": "st-1", "product": "aq"}))
        .await
        .expect(201);
    let reply = admin
        .post(
            "/api/v1/rules:test",
            json!({"rule": threshold_rule("msg.values.pm25 >\n  (75.0 +"),
                   "message": {"device": "st-1", "values": {"pm25": 180.0}}}),
        )
        .await;
    reply.expect_error(400, "invalid_rule");
    let errors = reply.body["error"]["details"].as_array().expect("errors");
    let condition = errors
        .iter()
        .find(|e| e["path"] == "condition")
        .unwrap_or_else(|| panic!("no condition error: {}", reply.text));
    assert!(condition["line"].as_u64().is_some(), "{}", reply.text);
    assert!(condition["column"].as_u64().is_some(), "{}", reply.text);
}
