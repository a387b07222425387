//! End-to-end ingest through a real `wanwu serve`: devices publish MQTT QoS 1 JSON telemetry,
//! `{"ts": .., "values": {"v0": .., ..., "v9": ..}}` (10 values per message), each over its
//! own connection with a window of messages on their way. A point counts once its PUBACK has
//! arrived: the server acknowledges only what is in its write-ahead log (it survives
//! `kill -9`). The load generator is this process, on the same cores as the server.
//!
//! The baseline runs first, against the same server, connections and messages: the devices
//! publish on `devices/{id}/bench`, a topic of their own that means nothing to the platform,
//! so the broker authorises and routes each message and acknowledges it without ingest. The
//! difference between the two is what ingest costs.
//!
//! Clients speak MQTT 3.1.1 through `rmqtt-codec`, pipelined: every free slot of the window
//! is filled in one write, PUBACKs are read on their own task.

use crate::bench::children::ServeChild;
use anyhow::{Context, Result, bail};
use bytes::{Bytes, BytesMut};
use rmqtt_codec::types::{Publish, QoS};
use rmqtt_codec::v3::{Codec, Connect, ConnectAckReason, Packet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Values per message.
pub const VALUES_PER_MESSAGE: usize = 10;
/// Time between two messages of one device, in the messages' timestamps.
const TS_STEP_MS: i64 = 100;

/// How hard to push.
#[derive(Clone, Copy, Debug)]
pub struct MqttLoad {
    /// Devices, one connection each.
    pub devices: usize,
    /// Messages on their way per connection (at most the broker's receive maximum).
    pub window: usize,
    /// Load before counting.
    pub warmup: Duration,
    /// Counting time.
    pub duration: Duration,
}

impl MqttLoad {
    /// The sizes of a full run (`quick = false`) or of a smoke run.
    pub fn standard(quick: bool) -> Self {
        if quick {
            MqttLoad {
                devices: 8,
                window: 16,
                warmup: Duration::from_millis(500),
                duration: Duration::from_secs(2),
            }
        } else {
            MqttLoad {
                devices: 200,
                window: 64,
                warmup: Duration::from_secs(3),
                duration: Duration::from_secs(15),
            }
        }
    }
}

/// Where the devices publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// `devices/{id}/telemetry`: validated, stored, acknowledged once in the log.
    Ingest,
    /// `devices/{id}/bench`: authorised and routed by the broker, nothing else.
    BrokerOnly,
}

impl Route {
    fn suffix(self) -> &'static str {
        match self {
            Route::Ingest => "telemetry",
            Route::BrokerOnly => "bench",
        }
    }
}

/// What one load phase achieved while counting.
#[derive(Clone, Debug)]
pub struct Phase {
    /// Acknowledged messages per second.
    pub messages_per_second: f64,
    /// CPU seconds the server used.
    pub server_cpu: f64,
    /// CPU seconds this process (the load generator) used.
    pub generator_cpu: f64,
    /// Length of the counting period, in seconds.
    pub seconds: f64,
    /// `/proc/loadavg` at the end of the counting period (1, 5 and 15 minutes).
    pub load_average: String,
}

impl Phase {
    /// Acknowledged values (points) per second.
    pub fn points_per_second(&self) -> f64 {
        self.messages_per_second * VALUES_PER_MESSAGE as f64
    }

    /// Server CPU time per acknowledged message, in microseconds.
    pub fn server_us_per_message(&self) -> f64 {
        per_message_us(self.server_cpu, self.messages_per_second * self.seconds)
    }

    /// Load-generator CPU time per acknowledged message, in microseconds.
    pub fn generator_us_per_message(&self) -> f64 {
        per_message_us(self.generator_cpu, self.messages_per_second * self.seconds)
    }

    /// Cores the server kept busy on average.
    pub fn server_cores(&self) -> f64 {
        self.server_cpu / self.seconds
    }

    /// Cores the load generator kept busy on average.
    pub fn generator_cores(&self) -> f64 {
        self.generator_cpu / self.seconds
    }
}

fn per_message_us(cpu_seconds: f64, messages: f64) -> f64 {
    if messages > 0.0 {
        cpu_seconds / messages * 1e6
    } else {
        f64::INFINITY
    }
}

/// The end-to-end run: ingest, and the broker alone on the same load.
#[derive(Clone, Debug)]
pub struct MqttIngest {
    /// Telemetry through the ingest pipeline.
    pub ingest: Phase,
    /// The same messages routed by the broker only.
    pub broker_only: Phase,
}

/// Runs the baseline and then the ingest load against one fresh `wanwu serve` with default
/// options.
pub async fn run(load: MqttLoad) -> Result<MqttIngest> {
    let server = ServeChild::start().await?;
    println!(
        "end to end: wanwu serve is process {} (mqtt {})",
        server.pid(),
        server.mqtt
    );
    let keys: Vec<String> = (0..VALUES_PER_MESSAGE).map(|i| format!("v{i}")).collect();
    let devices = server.provision("meter", &keys, load.devices).await?;
    let broker_only = phase(&server, &devices, load, Route::BrokerOnly).await?;
    let ingest = phase(&server, &devices, load, Route::Ingest).await?;
    Ok(MqttIngest {
        ingest,
        broker_only,
    })
}

/// One load phase: every device connects, publishes on `route` until the counting ends,
/// then disconnects.
async fn phase(
    server: &ServeChild,
    devices: &[(String, String)],
    load: MqttLoad,
    route: Route,
) -> Result<Phase> {
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start_ts = jiff::Timestamp::now().as_millisecond() - 3_600_000;
    let mut clients = tokio::task::JoinSet::new();
    for (id, token) in devices {
        let device = Device {
            addr: server.mqtt,
            id: id.clone(),
            token: token.clone(),
            window: load.window,
            start_ts,
            route,
        };
        clients.spawn(device.publish(acked.clone(), stop.clone()));
    }
    tokio::time::sleep(load.warmup).await;
    let own_stat = Path::new("/proc/self/stat");
    let sample = || {
        (
            acked.load(Ordering::Relaxed),
            server.cpu_seconds(),
            wanwu_tsdb::bench::cpu_seconds(own_stat).unwrap_or(0.0),
            Instant::now(),
        )
    };
    let before = sample();
    tokio::time::sleep(load.duration).await;
    let after = sample();
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into());
    stop.store(true, Ordering::Relaxed);
    while let Some(done) = clients.join_next().await {
        done.context("client task")??;
    }
    let seconds = (after.3 - before.3).as_secs_f64();
    Ok(Phase {
        messages_per_second: (after.0 - before.0) as f64 / seconds,
        server_cpu: after.1 - before.1,
        generator_cpu: after.2 - before.2,
        seconds,
        load_average,
    })
}

/// One simulated device and its connection.
struct Device {
    addr: SocketAddr,
    id: String,
    token: String,
    window: usize,
    start_ts: i64,
    route: Route,
}

impl Device {
    /// Connects, then publishes until `stop`; counts PUBACKs in `acked`.
    async fn publish(self, acked: Arc<AtomicU64>, stop: Arc<AtomicBool>) -> Result<()> {
        let stream = TcpStream::connect(self.addr)
            .await
            .context("connecting to the broker")?;
        stream.set_nodelay(true).context("TCP_NODELAY")?;
        let (mut reader, mut writer) = stream.into_split();
        let mut codec = Codec::new(0);
        let mut out = BytesMut::new();
        let connect = Connect {
            client_id: self.id.clone().into(),
            username: Some(self.id.clone().into()),
            password: Some(Bytes::from(self.token.clone())),
            keep_alive: 60,
            clean_session: true,
            ..Connect::default()
        };
        encode(&mut codec, Packet::Connect(Box::new(connect)), &mut out)?;
        writer.write_all(&out).await.context("sending CONNECT")?;
        let mut input = BytesMut::with_capacity(4096);
        match next_packet(&mut codec, &mut reader, &mut input).await? {
            Some(Packet::ConnectAck(ack))
                if ack.return_code == ConnectAckReason::ConnectionAccepted => {}
            other => bail!("{}: connection refused: {other:?}", self.id),
        }
        let credits = Arc::new(Semaphore::new(self.window));
        let acks = tokio::spawn({
            let credits = credits.clone();
            async move {
                let mut codec = Codec::new(0);
                while let Some(packet) = next_packet(&mut codec, &mut reader, &mut input).await? {
                    if let Packet::PublishAck { .. } = packet {
                        acked.fetch_add(1, Ordering::Relaxed);
                        credits.add_permits(1);
                    }
                }
                anyhow::Ok(())
            }
        });
        let topic =
            bytestring::ByteString::from(format!("devices/{}/{}", self.id, self.route.suffix()));
        let mut seq: u64 = 0;
        let mut payload = String::new();
        while !stop.load(Ordering::Relaxed) {
            let Ok(permit) =
                tokio::time::timeout(Duration::from_millis(200), credits.acquire()).await
            else {
                continue;
            };
            permit.context("credits closed")?.forget();
            let mut slots = 1;
            while slots < self.window
                && let Ok(permit) = credits.try_acquire()
            {
                permit.forget();
                slots += 1;
            }
            out.clear();
            for _ in 0..slots {
                seq += 1;
                self.message(seq, &mut payload);
                let publish = Publish {
                    dup: false,
                    retain: false,
                    qos: QoS::AtLeastOnce,
                    topic: topic.clone(),
                    packet_id: NonZeroU16::new((seq % 65_535 + 1) as u16),
                    payload: Bytes::copy_from_slice(payload.as_bytes()),
                    properties: None,
                };
                encode(&mut codec, Packet::Publish(Box::new(publish)), &mut out)?;
            }
            writer.write_all(&out).await.context("publishing")?;
        }
        // Let the last PUBACKs arrive, then leave.
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            credits.acquire_many(self.window as u32),
        )
        .await;
        out.clear();
        encode(&mut codec, Packet::Disconnect, &mut out)?;
        let _ = writer.write_all(&out).await;
        let _ = writer.shutdown().await;
        acks.abort();
        Ok(())
    }

    /// The JSON of message `seq`: a timestamp and 10 sensor-like values with one decimal.
    fn message(&self, seq: u64, out: &mut String) {
        out.clear();
        let ts = self.start_ts + seq as i64 * TS_STEP_MS;
        // Writing to a String cannot fail.
        let _ = write!(out, "{{\"ts\":{ts},\"values\":{{");
        for i in 0..VALUES_PER_MESSAGE {
            let tenths = 200 + (seq as usize * 7 + i * 13) % 100;
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(out, "{sep}\"v{i}\":{}.{}", tenths / 10, tenths % 10);
        }
        out.push_str("}}");
    }
}

fn encode(codec: &mut Codec, packet: Packet, out: &mut BytesMut) -> Result<()> {
    tokio_util::codec::Encoder::encode(codec, packet, out)
        .map_err(|e| anyhow::anyhow!("encoding an MQTT packet: {e:?}"))
}

/// The next packet from the broker, or `None` once it closed the connection.
async fn next_packet(
    codec: &mut Codec,
    reader: &mut tokio::net::tcp::OwnedReadHalf,
    input: &mut BytesMut,
) -> Result<Option<Packet>> {
    loop {
        if let Some((packet, _)) = tokio_util::codec::Decoder::decode(codec, input)
            .map_err(|e| anyhow::anyhow!("decoding an MQTT packet: {e:?}"))?
        {
            return Ok(Some(packet));
        }
        if reader.read_buf(input).await.context("reading")? == 0 {
            return Ok(None);
        }
    }
}
