//! Live telemetry fanned out to 100 WebSocket subscribers of `wanwu serve`, against the
//! same fan-out through mosquitto to 100 MQTT subscribers; and the twin's update rate
//! ([`super::ws_twin`]).
//!
//! One device publishes `{"seq": n, "sent": µs}` over MQTT QoS 1 at a fixed rate; wanwu's
//! subscribers hold `GET /api/v1/ws` subscribed to the device's telemetry, mosquitto's
//! subscribe to the topic at QoS 0. Latency is from the publish to the frame read by the
//! subscriber (one clock: everything runs in this process, except the brokers). Deliveries
//! per second are frames received by all subscribers over the time from the first publish
//! to the last frame. Everything shares this machine's cores.

use super::children::{MosquittoChild, ServeChild};
use super::table::{Row, Table};
use anyhow::{Context, ensure};
use futures_util::{SinkExt, StreamExt};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, PublishOptions, QoS};
use serde_json::{Value, json};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// The product of the benchmark's devices.
pub(super) const PRODUCT: &str = "bench";
/// How long a start, a connection or the last frame may take.
const PATIENCE: Duration = Duration::from_secs(60);
/// Subscribers of the fan-out.
const SUBSCRIBERS: usize = 100;
/// How long a subscriber waits for its next frame before it stops.
const IDLE: Duration = Duration::from_secs(10);

/// Runs the WebSocket fan-out and the twin benchmarks.
pub fn run(quick: bool) -> anyhow::Result<Vec<Table>> {
    MosquittoChild::ensure_installed()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the benchmark's runtime")?;
    runtime.block_on(async {
        let fanout = fanout_table(quick).await?;
        let twin = super::ws_twin::run(quick).await?;
        Ok(vec![fanout, twin])
    })
}

/// Publish rate and count of the fan-out.
#[derive(Clone, Copy, Debug)]
struct Load {
    rate: u64,
    messages: u64,
}

/// What the subscribers of one side saw.
struct Deliveries {
    latencies_us: Vec<f64>,
    per_second: f64,
}

impl Deliveries {
    fn quantile(&self, q: f64) -> f64 {
        let index = ((self.latencies_us.len() as f64 - 1.0) * q).round() as usize;
        self.latencies_us.get(index).copied().unwrap_or(f64::NAN)
    }
}

async fn fanout_table(quick: bool) -> anyhow::Result<Table> {
    let load = if quick {
        Load {
            rate: 100,
            messages: 200,
        }
    } else {
        Load {
            rate: 500,
            messages: 5_000,
        }
    };
    let wanwu = {
        let platform = start_platform().await?;
        let device = platform.create_device(PRODUCT, "fan-1").await?;
        let subscribers = ws_subscribers(&platform, load.messages).await?;
        let publisher = mqtt_client(platform.mqtt.port(), "fan-1", Some(&device)).await?;
        drive(load, &publisher, "devices/fan-1/telemetry", subscribers).await?
    };
    let baseline = {
        let broker = MosquittoChild::start(MOSQUITTO_QUEUES).await?;
        let topic = "bench/fan-1/telemetry";
        let mut subscribers = Vec::with_capacity(SUBSCRIBERS);
        for i in 0..SUBSCRIBERS {
            let id = format!("sub-{i}");
            subscribers.push(mqtt_subscriber(broker.port, &id, topic, load.messages).await?);
        }
        let publisher = mqtt_client(broker.port, "pub", None).await?;
        drive(load, &publisher, topic, subscribers).await?
    };
    let row = |measure: &str, figure: &dyn Fn(&Deliveries) -> f64, higher_is_better| Row {
        measure: measure.to_owned(),
        wanwu: figure(&wanwu),
        baseline: figure(&baseline),
        higher_is_better,
    };
    Ok(Table {
        name: "ws",
        baseline: "mosquitto MQTT",
        setup: format!(
            "1 device -> {SUBSCRIBERS} subscribers, {} messages at {}/s (MQTT QoS 1 in)",
            load.messages, load.rate
        ),
        load_shares_cores: true,
        rows: vec![
            row("deliveries/s", &|d| d.per_second, true),
            row("latency p50, ms", &|d| d.quantile(0.5) / 1e3, false),
            row("latency p99, ms", &|d| d.quantile(0.99) / 1e3, false),
        ],
    })
}

/// Microseconds since the benchmark's first call: one clock for senders and receivers.
fn now_us() -> i64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as i64
}

/// A subscriber counting what it reads: latencies of the frames received.
type Subscriber = tokio::task::JoinHandle<Vec<(i64, f64)>>;

/// Publishes `load` on `topic` and gathers what the subscribers received.
async fn drive(
    load: Load,
    publisher: &AsyncClient,
    topic: &str,
    subscribers: Vec<Subscriber>,
) -> anyhow::Result<Deliveries> {
    let first = now_us();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / load.rate));
    for seq in 0..load.messages {
        tick.tick().await;
        let payload = json!({"seq": seq, "sent": now_us()}).to_string();
        publisher
            .publish(
                topic,
                payload.into_bytes(),
                PublishOptions::new(QoS::AtLeastOnce),
            )
            .await
            .context("publishing")?;
    }
    let mut latencies_us = Vec::new();
    let mut last = first;
    for subscriber in subscribers {
        for (received, latency) in subscriber.await.context("subscriber task")? {
            last = last.max(received);
            latencies_us.push(latency);
        }
    }
    let expected = load.messages as usize * SUBSCRIBERS;
    ensure!(
        latencies_us.len() * 100 >= expected * 99,
        "only {} of {expected} deliveries arrived",
        latencies_us.len()
    );
    latencies_us.sort_by(f64::total_cmp);
    let seconds = (last - first) as f64 / 1e6;
    Ok(Deliveries {
        per_second: latencies_us.len() as f64 / seconds,
        latencies_us,
    })
}

/// The latency of a payload `{"seq", "sent"}` read now, with the time read.
fn latency_of(values: &Value) -> Option<(i64, f64)> {
    let sent = values["sent"].as_i64()?;
    let now = now_us();
    Some((now, (now - sent) as f64))
}

/// The mosquitto configuration of the fan-out and twin baselines: deep queues, so that the
/// baseline drops nothing either.
pub(super) const MOSQUITTO_QUEUES: &str = "max_queued_messages 100000\nmax_inflight_messages 64\n";

/// `wanwu serve` with product [`PRODUCT`] (int properties `seq`, `sent`, and the read_write
/// `level`).
pub(super) async fn start_platform() -> anyhow::Result<ServeChild> {
    let platform = ServeChild::start().await?;
    let property = |id: &str, access: &str| json!({"id": id, "type": "int", "access": access});
    platform
        .post(
            "/api/v1/products",
            json!({"id": PRODUCT, "name": "Bench", "properties": [
                property("seq", "read"), property("sent", "read"),
                property("level", "read_write")]}),
        )
        .await?;
    Ok(platform)
}

/// [`SUBSCRIBERS`] WebSocket clients subscribed to device `fan-1`'s telemetry, each
/// reading until it has `expected` frames or none comes for [`IDLE`].
async fn ws_subscribers(platform: &ServeChild, expected: u64) -> anyhow::Result<Vec<Subscriber>> {
    let url = format!(
        "ws://{}/api/v1/ws?token={}",
        platform.http,
        platform.admin_token()
    );
    let mut subscribers = Vec::with_capacity(SUBSCRIBERS);
    for _ in 0..SUBSCRIBERS {
        let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .context("WebSocket upgrade")?;
        let subscribe =
            json!({"type": "subscribe", "id": "s", "devices": ["fan-1"], "kinds": ["telemetry"]});
        socket
            .send(Message::text(subscribe.to_string()))
            .await
            .context("subscribing")?;
        loop {
            let frame = tokio::time::timeout(PATIENCE, socket.next())
                .await
                .context("waiting for subscribed")?
                .context("socket closed")??;
            if frame.to_text().is_ok_and(|t| t.contains("\"subscribed\"")) {
                break;
            }
        }
        subscribers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while (seen.len() as u64) < expected
                && let Ok(Some(Ok(frame))) = tokio::time::timeout(IDLE, socket.next()).await
            {
                let Ok(text) = frame.to_text() else { continue };
                if let Ok(frame) = serde_json::from_str::<Value>(text)
                    && let Some(delivery) = latency_of(&frame["values"])
                {
                    seen.push(delivery);
                }
            }
            seen
        }));
    }
    Ok(subscribers)
}

/// An MQTT client (as `device` with `token`, or anonymous) whose event loop runs in a task.
pub(super) async fn mqtt_client(
    port: u16,
    id: &str,
    token: Option<&str>,
) -> anyhow::Result<AsyncClient> {
    let (client, _) = mqtt_connection(port, id, token, None).await?;
    Ok(client)
}

/// An MQTT subscriber of `topic` (QoS 0) on `port`, reading until it has `expected`
/// messages or none comes for [`IDLE`].
async fn mqtt_subscriber(
    port: u16,
    id: &str,
    topic: &str,
    expected: u64,
) -> anyhow::Result<Subscriber> {
    let (client, mut publishes) = mqtt_connection(port, id, None, Some(topic)).await?;
    Ok(tokio::spawn(async move {
        let _connected = client;
        let mut seen = Vec::new();
        while (seen.len() as u64) < expected
            && let Ok(Some(payload)) = tokio::time::timeout(IDLE, publishes.recv()).await
        {
            if let Ok(values) = serde_json::from_slice::<Value>(&payload)
                && let Some(delivery) = latency_of(&values)
            {
                seen.push(delivery);
            }
        }
        seen
    }))
}

/// Connects, optionally subscribes to `topic`, and forwards the payloads received; the
/// client's acknowledgements are counted in the returned client's event loop task.
pub(super) async fn mqtt_connection(
    port: u16,
    id: &str,
    token: Option<&str>,
    topic: Option<&str>,
) -> anyhow::Result<(AsyncClient, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>)> {
    let mut options = MqttOptions::new(id.to_owned(), ("127.0.0.1".to_owned(), port));
    options.set_keep_alive(60).set_clean_start(true);
    options.set_outgoing_inflight_upper_limit(64);
    if let Some(token) = token {
        options.set_credentials(id.to_owned(), token.to_owned());
    }
    let (client, mut eventloop) = AsyncClient::builder(options).capacity(1024).build();
    let (publishes, received) = tokio::sync::mpsc::unbounded_channel();
    let (ready_tx, ready) = tokio::sync::oneshot::channel();
    let mut ready_tx = Some(ready_tx);
    let wants_suback = topic.is_some();
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) if !wants_suback => {
                    if let Some(tx) = ready_tx.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(tx) = ready_tx.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    if publishes.send(publish.payload.to_vec()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    if let Some(topic) = topic {
        client.subscribe(topic, QoS::AtMostOnce).await?;
    }
    tokio::time::timeout(PATIENCE, ready)
        .await
        .context("waiting for the broker's answer")?
        .context("MQTT client ended before the broker answered")?;
    Ok((client, received))
}
