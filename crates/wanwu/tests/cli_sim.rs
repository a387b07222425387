//! `wanwu sim` through the real binary against a real `wanwu serve`: it provisions its
//! devices through the API, the platform acknowledges their telemetry over MQTT, and every
//! device gets its twin when it asks for it on connecting.

mod common;

use common::Server;
use std::process::Command;

#[test]
fn sim_provisions_devices_and_gets_telemetry_acknowledged() {
    let server = Server::builder().mqtt("127.0.0.1:0").start();
    let mqtt = server.mqtt.expect("mqtt listener");
    let output = Command::new(common::binary())
        .args([
            "sim",
            "--devices",
            "6",
            "--duration",
            "2",
            "--speed-up",
            "60",
        ])
        .args(["--url", &format!("http://{}", server.http)])
        .args(["--mqtt", &mqtt.to_string(), "--token", &server.admin_token])
        .output()
        .expect("running wanwu sim");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let acked: u64 = stdout
        .lines()
        .find(|l| l.starts_with("acknowledged"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no acknowledged count in:\n{stdout}"));
    assert!(acked > 0, "nothing acknowledged:\n{stdout}");
    // "received       0 commands, 6 desired states": each device asked for its twin once
    // its subscriptions were in place, and got the answer.
    let desired: u64 = stdout
        .lines()
        .find(|l| l.starts_with("received"))
        .and_then(|l| l.split(',').nth(1))
        .and_then(|part| part.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no desired-state count in:\n{stdout}"));
    assert!(desired >= 6, "a device did not get its twin:\n{stdout}");
}
