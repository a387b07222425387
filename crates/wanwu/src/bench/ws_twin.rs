//! Twin updates per second through `wanwu serve`: desired state by `PATCH
//! /devices/{id}/shadow/desired` from concurrent HTTP clients, and reported state by devices
//! publishing `devices/{id}/shadow/reported` at QoS 1. Every update changes a value, so each
//! is validated, stored in the metadata store before it is answered, and published on the
//! bus. The baseline is what teams use a broker for as a poor man's twin: the same number of
//! clients publishing each state as a retained QoS 1 message to mosquitto (persistence
//! off), until a subscriber has seen every update.

use super::children::{MosquittoChild, ServeChild};
use super::table::{Row, Table};
use super::ws::{MOSQUITTO_QUEUES, PRODUCT, mqtt_connection, start_platform};
use anyhow::{Context, ensure};
use rumqttc::{PublishOptions, QoS};
use serde_json::json;
use std::time::{Duration, Instant};

/// Concurrent writers (HTTP clients, devices, MQTT clients).
const WRITERS: usize = 8;
/// How long the last update may take to show.
const PATIENCE: Duration = Duration::from_secs(120);

/// Runs the twin benchmark.
pub async fn run(quick: bool) -> anyhow::Result<Table> {
    let per_writer: u64 = if quick { 50 } else { 500 };
    let platform = start_platform().await?;
    let desired = desired_rate(&platform, per_writer).await?;
    let reported = reported_rate(&platform, per_writer).await?;
    drop(platform);
    let baseline = retained_rate(per_writer).await?;
    let row = |measure: String, wanwu: f64| Row {
        measure,
        wanwu,
        baseline,
        higher_is_better: true,
    };
    Ok(Table {
        name: "twin",
        baseline: "mosquitto retained",
        setup: format!(
            "{WRITERS} writers x {per_writer} updates, each changing a value; baseline: \
             retained QoS 1 publishes seen by a subscriber"
        ),
        load_shares_cores: true,
        rows: vec![
            row(
                format!("desired updates/s, HTTP PATCH, {WRITERS} clients"),
                desired,
            ),
            row(
                format!("reported updates/s, MQTT QoS 1, {WRITERS} devices"),
                reported,
            ),
        ],
    })
}

/// `WRITERS` HTTP clients each patching the desired state of its own device.
async fn desired_rate(platform: &ServeChild, per_writer: u64) -> anyhow::Result<f64> {
    let mut urls = Vec::with_capacity(WRITERS);
    for i in 0..WRITERS {
        platform
            .create_device(PRODUCT, &format!("want-{i}"))
            .await?;
        urls.push(platform.url(&format!("/api/v1/devices/want-{i}/shadow/desired")));
    }
    let started = Instant::now();
    let mut writers = Vec::with_capacity(WRITERS);
    for url in urls {
        let (http, token) = (platform.http_client().clone(), platform.admin_token());
        writers.push(tokio::spawn(async move {
            for level in 0..per_writer {
                let reply = http
                    .patch(&url)
                    .bearer_auth(token)
                    .json(&json!({"level": level + 1}))
                    .send()
                    .await
                    .context("PATCH desired")?;
                ensure!(
                    reply.status().is_success(),
                    "PATCH desired: {}",
                    reply.status()
                );
            }
            anyhow::Ok(())
        }));
    }
    for writer in writers {
        writer.await.context("writer task")??;
    }
    Ok((WRITERS as u64 * per_writer) as f64 / started.elapsed().as_secs_f64())
}

/// `WRITERS` devices each reporting a new value `per_writer` times; done when every twin
/// is at the version of its last report.
async fn reported_rate(platform: &ServeChild, per_writer: u64) -> anyhow::Result<f64> {
    let mut devices = Vec::with_capacity(WRITERS);
    for i in 0..WRITERS {
        let id = format!("report-{i}");
        let token = platform.create_device(PRODUCT, &id).await?;
        let (client, _) = mqtt_connection(platform.mqtt.port(), &id, Some(&token), None).await?;
        devices.push((id, client));
    }
    let started = Instant::now();
    for level in 0..per_writer {
        for (id, client) in &devices {
            let payload = json!({"level": level + 1}).to_string();
            client
                .publish(
                    format!("devices/{id}/shadow/reported"),
                    payload.into_bytes(),
                    PublishOptions::new(QoS::AtLeastOnce),
                )
                .await
                .context("publishing a report")?;
        }
    }
    for (id, _) in &devices {
        let url = platform.url(&format!("/api/v1/devices/{id}/shadow"));
        loop {
            let twin: serde_json::Value = platform
                .http_client()
                .get(&url)
                .bearer_auth(platform.admin_token())
                .send()
                .await
                .context("GET shadow")?
                .json()
                .await
                .context("shadow JSON")?;
            if twin["version"].as_u64() == Some(per_writer) {
                break;
            }
            ensure!(
                started.elapsed() < PATIENCE,
                "twin of {id} stopped at {}",
                twin["version"]
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Ok((WRITERS as u64 * per_writer) as f64 / started.elapsed().as_secs_f64())
}

/// `WRITERS` clients publishing retained QoS 1 states to mosquitto; done when a subscriber
/// saw them all.
async fn retained_rate(per_writer: u64) -> anyhow::Result<f64> {
    let broker = MosquittoChild::start(MOSQUITTO_QUEUES).await?;
    let (_watcher, mut seen) =
        mqtt_connection(broker.port, "watcher", None, Some("bench/+/shadow")).await?;
    let mut writers = Vec::with_capacity(WRITERS);
    for i in 0..WRITERS {
        let (client, _) = mqtt_connection(broker.port, &format!("w-{i}"), None, None).await?;
        writers.push((format!("bench/{i}/shadow"), client));
    }
    let started = Instant::now();
    for level in 0..per_writer {
        for (topic, client) in &writers {
            let payload = json!({"level": level + 1}).to_string();
            client
                .publish(
                    topic.as_str(),
                    payload.into_bytes(),
                    PublishOptions::new(QoS::AtLeastOnce).retained(),
                )
                .await
                .context("publishing retained")?;
        }
    }
    let total = WRITERS as u64 * per_writer;
    for _ in 0..total {
        tokio::time::timeout(PATIENCE, seen.recv())
            .await
            .context("waiting for the retained updates")?
            .context("watcher ended")?;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
