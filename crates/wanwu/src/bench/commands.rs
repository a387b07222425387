//! Command round trip: HTTP -> platform -> device -> reply -> HTTP answer, with every device
//! of the fleet connected, against the same request/response exchange through mosquitto
//! (client -> mosquitto -> device -> mosquitto -> client) with as many devices connected.
//!
//! wanwu is this executable as `wanwu serve` on a scratch data directory, with a product
//! whose command `ping` takes one int; each round trip is `POST /devices/{id}/commands/ping`
//! in mode `wait`, one after the other, round robin over the devices. The baseline's
//! requester publishes on `bench/{i}/req` and waits for the answer on `bench/{i}/rep`. On
//! both sides the devices are the same MQTT clients (rumqttc, Nagle's algorithm off) that
//! answer every request at once, and both brokers run with Nagle's algorithm off.
//! Everything runs on this machine's cores.

use super::children::{MosquittoChild, ServeChild};
use super::table::{Row, Table};
use anyhow::{Context, bail, ensure};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, PublishOptions, QoS};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long a start or the fleet's connection may take.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Fleet size and number of round trips.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    devices: usize,
    round_trips: usize,
}

/// Round-trip times of one side, in microseconds, sorted.
struct Latencies(Vec<f64>);

impl Latencies {
    fn quantile(&self, q: f64) -> f64 {
        let index = ((self.0.len() as f64 - 1.0) * q).round() as usize;
        self.0.get(index).copied().unwrap_or(f64::NAN)
    }

    fn per_second(&self) -> f64 {
        let total_us: f64 = self.0.iter().sum();
        self.0.len() as f64 / (total_us / 1e6)
    }
}

/// Runs the command benchmark.
pub fn run(quick: bool) -> anyhow::Result<Table> {
    MosquittoChild::ensure_installed()?;
    let sizes = if quick {
        Sizes {
            devices: 50,
            round_trips: 100,
        }
    } else {
        Sizes {
            devices: 1_000,
            round_trips: 2_000,
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the benchmark's runtime")?;
    let (wanwu, baseline) = runtime.block_on(async {
        let wanwu = platform_round_trips(sizes).await.context("wanwu side")?;
        let baseline = mosquitto_round_trips(sizes)
            .await
            .context("mosquitto side")?;
        anyhow::Ok((wanwu, baseline))
    })?;
    let row = |measure: &str, figure: &dyn Fn(&Latencies) -> f64, higher_is_better| Row {
        measure: measure.to_owned(),
        wanwu: figure(&wanwu),
        baseline: figure(&baseline),
        higher_is_better,
    };
    Ok(Table {
        name: "commands",
        baseline: "mosquitto req/rep",
        setup: format!(
            "{} devices connected, {} sequential round trips",
            sizes.devices, sizes.round_trips
        ),
        load_shares_cores: true,
        rows: vec![
            row("round trip p50, ms", &|l| l.quantile(0.5) / 1e3, false),
            row("round trip p99, ms", &|l| l.quantile(0.99) / 1e3, false),
            row("round trips/s, one at a time", &Latencies::per_second, true),
        ],
    })
}

/// Round trips through `wanwu serve` with the whole fleet connected and subscribed.
async fn platform_round_trips(sizes: Sizes) -> anyhow::Result<Latencies> {
    let server = ServeChild::start().await?;
    let (http, token) = (server.http_client(), server.admin_token());
    let mqtt_port = server.mqtt.port();
    let devices = provision(&server, sizes.devices).await?;
    for (id, device_token) in &devices {
        let (client, requests) = mqtt_client(
            id,
            mqtt_port,
            Some((id, device_token)),
            &format!("devices/{id}/commands/+"),
        )
        .await?;
        let prefix = format!("devices/{id}/replies/");
        tokio::spawn(answer(client, requests, move |_, payload| {
            let request: serde_json::Value = serde_json::from_slice(payload).ok()?;
            Some(format!("{prefix}{}", request["id"].as_str()?))
        }));
    }
    let mut times = Vec::with_capacity(sizes.round_trips);
    for i in 0..sizes.round_trips {
        let (device, _) = &devices[i % devices.len()];
        let url = server.url(&format!("/api/v1/devices/{device}/commands/ping"));
        let started = Instant::now();
        let reply = http
            .post(&url)
            .bearer_auth(token)
            .json(&serde_json::json!({"params": {"n": i}, "mode": "wait", "timeout_ms": 10000}))
            .send()
            .await
            .context("sending a command")?;
        let status = reply.status();
        let body: serde_json::Value = reply.json().await.context("command answer")?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
        if !status.is_success() || body["status"] != "succeeded" {
            bail!("command to {device} answered {status}: {body}");
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(Latencies(times))
}

/// Creates the benchmark's product and `count` devices of it; returns (id, token) of each.
async fn provision(server: &ServeChild, count: usize) -> anyhow::Result<Vec<(String, String)>> {
    let product = serde_json::json!({"id": "bench", "name": "Bench",
        "commands": [{"id": "ping", "params": [{"id": "n", "type": "int"}]}]});
    server.post("/api/v1/products", product).await?;
    let mut devices = Vec::with_capacity(count);
    let ids: Vec<String> = (0..count).map(|i| format!("bench-{i}")).collect();
    for chunk in ids.chunks(1000) {
        let batch: Vec<_> = chunk
            .iter()
            .map(|id| serde_json::json!({"id": id, "product": "bench"}))
            .collect();
        let created = server
            .post(
                "/api/v1/devices:batch",
                serde_json::json!({"devices": batch}),
            )
            .await?;
        for device in created["devices"].as_array().context("created devices")? {
            let id = device["id"].as_str().context("device id")?;
            let secret = device["token"].as_str().context("device token")?;
            devices.push((id.to_owned(), secret.to_owned()));
        }
    }
    Ok(devices)
}

/// A device: answers every request arriving on `requests` at once, on the topic that
/// `reply_topic(topic, payload)` names (none: no answer).
async fn answer(
    client: AsyncClient,
    mut requests: mpsc::Receiver<(String, Vec<u8>)>,
    reply_topic: impl Fn(&str, &[u8]) -> Option<String>,
) {
    let reply = serde_json::json!({"status": "ok", "result": {}}).to_string();
    while let Some((topic, payload)) = requests.recv().await {
        let Some(to) = reply_topic(&topic, &payload) else {
            continue;
        };
        let options = PublishOptions::new(QoS::AtLeastOnce);
        if client.publish(to, reply.clone(), options).await.is_err() {
            return;
        }
    }
}

/// An MQTT client and the task polling its event loop, which forwards publishes.
async fn mqtt_client(
    id: &str,
    port: u16,
    credentials: Option<(&str, &str)>,
    topic: &str,
) -> anyhow::Result<(AsyncClient, mpsc::Receiver<(String, Vec<u8>)>)> {
    let mut options = MqttOptions::new(id.to_owned(), ("127.0.0.1".to_owned(), port));
    options.set_keep_alive(60).set_clean_start(true);
    if let Some((user, password)) = credentials {
        options.set_credentials(user.to_owned(), password.to_owned());
    }
    let mut network = options.network_options();
    network.set_tcp_nodelay(true);
    options.set_network_options(network);
    let (client, mut eventloop) = AsyncClient::builder(options).capacity(64).build();
    let (tx, rx) = mpsc::channel(64);
    let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
    let mut subscribed_tx = Some(subscribed_tx);
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(tx) = subscribed_tx.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    let topic = String::from_utf8_lossy(&publish.topic).into_owned();
                    if tx.send((topic, publish.payload.to_vec())).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    client.subscribe(topic, QoS::AtLeastOnce).await?;
    tokio::time::timeout(READY_TIMEOUT, subscribed)
        .await
        .context("waiting for SUBACK")?
        .context("client ended before SUBACK")?;
    Ok((client, rx))
}

/// Round trips through mosquitto between a requester and devices that answer.
async fn mosquitto_round_trips(sizes: Sizes) -> anyhow::Result<Latencies> {
    // Like wanwu's broker: Nagle's algorithm off.
    let broker = MosquittoChild::start("set_tcp_nodelay true\nmax_connections -1\n").await?;
    let port = broker.port;
    for i in 0..sizes.devices {
        let (device, requests) =
            mqtt_client(&format!("dev-{i}"), port, None, &format!("bench/{i}/req")).await?;
        tokio::spawn(answer(device, requests, move |_, _| {
            Some(format!("bench/{i}/rep"))
        }));
    }
    let (requester, mut replies) = mqtt_client("requester", port, None, "bench/+/rep").await?;
    let mut times = Vec::with_capacity(sizes.round_trips);
    for n in 0..sizes.round_trips {
        let i = n % sizes.devices;
        let started = Instant::now();
        let request = serde_json::json!({"id": format!("c{n}"), "params": {}});
        requester
            .publish(
                format!("bench/{i}/req"),
                request.to_string(),
                PublishOptions::new(QoS::AtLeastOnce),
            )
            .await?;
        let (topic, _) = tokio::time::timeout(Duration::from_secs(10), replies.recv())
            .await
            .context("no reply within 10 s")?
            .context("requester ended")?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
        ensure!(topic == format!("bench/{i}/rep"), "reply on {topic}");
    }
    times.sort_by(f64::total_cmp);
    Ok(Latencies(times))
}
