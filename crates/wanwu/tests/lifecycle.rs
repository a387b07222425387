//! The `wanwu serve` process: first start, admin token, configuration, ports, signals,
//! crash safety, exit codes, and the unauthenticated endpoints.

mod common;

use common::{Server, air_station, binary};
use serde_json::json;
use std::process::Command;

#[tokio::test]
async fn first_start_writes_the_admin_token_once_with_mode_0600() {
    let server = Server::start();
    let path = server.data.join("admin-token");
    let printed: Vec<_> = server
        .stdout_lines()
        .into_iter()
        .filter(|l| l.contains("admin token"))
        .collect();
    assert_eq!(printed.len(), 1);
    assert!(printed[0].ends_with(&server.admin_token));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    server.admin().get("/api/v1/tenants").await.expect(200);
}

#[tokio::test]
async fn wanwu_admin_token_sets_the_admin_token() {
    let given = "an-operator-chosen-admin-token-0001";
    let server = Server::builder().env("WANWU_ADMIN_TOKEN", given).start();
    assert!(!server.data.join("admin-token").exists());
    assert!(server.stdout_lines().iter().all(|l| !l.contains(given)));
    let tenants = server.admin().get("/api/v1/tenants").await;
    assert_eq!(common::ids(&tenants), ["default"]);
    let short = Server::builder()
        .env("WANWU_ADMIN_TOKEN", "short")
        .run_to_exit();
    assert_eq!(short.0.code(), Some(1), "{}", short.2);
    assert!(short.2.contains("WANWU_ADMIN_TOKEN"), "{}", short.2);
}

#[tokio::test]
async fn sigterm_stops_gracefully_and_keeps_the_data() {
    let mut server = Server::start();
    let api = server.admin();
    api.post("/api/v1/products", air_station("aq"))
        .await
        .expect(201);
    let status = server.terminate();
    assert!(
        status.success(),
        "exit status {status}: {}",
        server.stderr()
    );
    assert!(
        server.stderr().contains("SIGTERM received"),
        "{}",
        server.stderr()
    );
    assert!(server.stderr().contains("stopped"), "{}", server.stderr());
    let again = Server::builder().data(&server.data).start();
    again.admin().get("/api/v1/products/aq").await.expect(200);
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let mut server = Server::start();
    let api = server.admin();
    api.post("/api/v1/products", air_station("aq"))
        .await
        .expect(201);
    let batch: Vec<_> = (0..500)
        .map(|i| json!({"id": format!("d{i:03}"), "product": "aq"}))
        .collect();
    api.post("/api/v1/devices:batch", json!({"devices": batch}))
        .await
        .expect(201);
    server.kill9();
    let again = Server::builder().data(&server.data).start();
    let page = again.admin().get("/api/v1/devices?limit=1000").await;
    assert_eq!(common::ids(&page).len(), 500);
}

#[test]
fn a_taken_port_fails_fast_naming_the_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (status, _, stderr) = Server::builder().http(addr.clone()).run_to_exit();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("--http {addr}")), "{stderr}");
}

#[test]
fn exit_codes_and_help() {
    let run = |args: &[&str]| Command::new(binary()).args(args).output().unwrap();
    let help = run(&["serve", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--data",
        "--http",
        "--mqtt",
        "--config",
        "--mqtt-allow-anonymous",
        "WANWU_HTTP",
    ] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
    assert_eq!(run(&["--help"]).status.code(), Some(0));
    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(run(&["serve", "--bogus"]).status.code(), Some(2));
    assert_eq!(
        run(&["serve", "--http", "not-an-address"]).status.code(),
        Some(2)
    );
}

#[tokio::test]
async fn the_config_file_is_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("wanwu.toml");
    std::fs::write(&config, "[http]\nmax_body_bytes = 1024\n").unwrap();
    let server = Server::builder()
        .arg("--config")
        .arg(config.to_str().unwrap())
        .start();
    let mut product = air_station("aq");
    product["description"] = json!("x".repeat(2000));
    server
        .admin()
        .post("/api/v1/products", product)
        .await
        .expect_error(413, "payload_too_large");

    std::fs::write(&config, "[http]\nmax_body_byte = 1024\n").unwrap();
    let (status, _, stderr) = Server::builder()
        .arg("--config")
        .arg(config.to_str().unwrap())
        .run_to_exit();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--config"), "{stderr}");
}

#[tokio::test]
async fn health_metrics_docs_and_console_are_served() {
    let server = Server::start();
    let anonymous = server.anonymous();
    let health = anonymous.get("/health").await;
    assert_eq!(health.expect(200)["status"], "ok");

    let api = server.admin();
    api.post("/api/v1/products", air_station("aq"))
        .await
        .expect(201);
    api.post("/api/v1/devices", json!({"id": "d1", "product": "aq"}))
        .await
        .expect(201);
    api.get("/api/v1/devices/d1").await.expect(200);
    api.get("/api/v1/devices/nope").await.expect(404);
    let metrics = anonymous.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    for needle in [
        r#"wanwu_http_requests_total{method="GET",route="/api/v1/devices/{id}",status="200"} 1"#,
        r#"wanwu_http_requests_total{method="GET",route="/api/v1/devices/{id}",status="404"} 1"#,
        r#"wanwu_http_request_duration_seconds_bucket{method="POST",route="/api/v1/products""#,
        r#"wanwu_entities{kind="devices"} 1"#,
        r#"wanwu_entities{kind="products"} 1"#,
        r#"wanwu_entities{kind="tenants"} 1"#,
    ] {
        assert!(
            metrics.text.contains(needle),
            "{needle} missing from:\n{}",
            metrics.text
        );
    }

    let docs = anonymous.get("/api/docs/").await;
    assert_eq!(docs.status, 200);
    assert!(docs.text.contains("swagger-ui"), "{}", docs.text);
    let console = anonymous.get("/").await;
    assert_eq!(console.status, 200);
    assert!(console.text.to_lowercase().contains("<!doctype html>"));
}
