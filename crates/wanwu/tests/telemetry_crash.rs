//! Crash safety of telemetry: `kill -9` of a real `wanwu serve` while devices publish QoS 1
//! telemetry over MQTT (paho-mqtt clients, `telemetry_crash.py`); after a restart on the
//! same data directory every point whose PUBACK reported success is queryable over HTTP.

mod common;

use common::{Api, Server, air_station};
use serde_json::json;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Devices publishing at once, each with its own connection.
const DEVICES: usize = 2;
/// Acknowledged messages per device before the kill: ingestion is in full swing.
const ACKED_BEFORE_KILL: usize = 300;
/// Longest wait for anything in this test.
const PATIENCE: Duration = Duration::from_secs(60);

/// A publishing device: the client process and the acknowledged timestamps it reported.
struct Publisher {
    device: String,
    child: Child,
    acked: Arc<Mutex<Vec<i64>>>,
    reader: Option<JoinHandle<()>>,
}

impl Publisher {
    fn start(server: &Server, device: &str, token: &str) -> Publisher {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/telemetry_crash.py");
        let port = server.mqtt.expect("MQTT listener").port().to_string();
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", &port, "--device", device, "--token", token])
            .args(["--seconds", &PATIENCE.as_secs().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run python3 telemetry_crash.py");
        let stdout = child.stdout.take().expect("stdout piped");
        let acked = Arc::new(Mutex::new(Vec::new()));
        let sink = acked.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(ts) = line.trim().parse::<i64>() {
                    sink.lock().expect("acked lock").push(ts);
                }
            }
        });
        Publisher {
            device: device.to_owned(),
            child,
            acked,
            reader: Some(reader),
        }
    }

    fn acked_count(&self) -> usize {
        self.acked.lock().expect("acked lock").len()
    }

    /// Waits for the client to notice the dropped connection and exit; returns every
    /// acknowledged timestamp it printed.
    fn finish(mut self) -> Vec<i64> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.child.try_wait().expect("try_wait") {
                Some(status) => {
                    assert!(status.success(), "{} client failed: {status}", self.device);
                    break;
                }
                None if Instant::now() > deadline => {
                    panic!("{} client still running 20 s after the kill", self.device)
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        if let Some(reader) = self.reader.take() {
            reader.join().expect("reader thread");
        }
        self.acked.lock().expect("acked lock").clone()
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `pm25` timestamps stored for `device`, read as a streamed CSV export.
async fn stored(api: &Api, device: &str) -> BTreeSet<i64> {
    let reply = api
        .get(&format!(
            "/api/v1/devices/{device}/telemetry?keys=pm25&from=0&to=4000000000000&format=csv"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let mut lines = reply.text.lines();
    assert_eq!(lines.next(), Some("ts,key,value"));
    lines
        .map(|row| {
            let ts = row.split(',').next().expect("ts column");
            ts.parse().unwrap_or_else(|_| panic!("bad row {row:?}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_acknowledged_point_survives_kill_9_during_mqtt_ingest() {
    let mut server = Server::start();
    let admin = server.admin();
    admin
        .post("/api/v1/products", air_station("aq"))
        .await
        .expect(201);
    let mut publishers = Vec::new();
    for n in 0..DEVICES {
        let device = format!("st-{n}");
        let reply = admin
            .post("/api/v1/devices", json!({"id": device, "product": "aq"}))
            .await;
        let token = reply.expect(201)["token"]
            .as_str()
            .expect("token")
            .to_owned();
        publishers.push(Publisher::start(&server, &device, &token));
    }

    let deadline = Instant::now() + PATIENCE;
    while publishers
        .iter()
        .any(|p| p.acked_count() < ACKED_BEFORE_KILL)
    {
        assert!(
            Instant::now() < deadline,
            "publishers too slow: {:?} acknowledged; server stderr:\n{}",
            publishers
                .iter()
                .map(Publisher::acked_count)
                .collect::<Vec<_>>(),
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill9();

    let acked: Vec<(String, Vec<i64>)> = publishers
        .into_iter()
        .map(|p| (p.device.clone(), p.finish()))
        .collect();
    let server = server.start_again();
    let admin = server.admin();
    for (device, acked) in acked {
        assert!(
            acked.len() >= ACKED_BEFORE_KILL,
            "{device}: {}",
            acked.len()
        );
        let stored = stored(&admin, &device).await;
        let lost: Vec<i64> = acked
            .iter()
            .copied()
            .filter(|ts| !stored.contains(ts))
            .collect();
        assert!(
            lost.is_empty(),
            "{device}: {} of {} acknowledged points lost after kill -9, first {:?}",
            lost.len(),
            acked.len(),
            &lost[..lost.len().min(5)]
        );
    }
}
