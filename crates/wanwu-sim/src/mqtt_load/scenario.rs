//! The scenarios: fan-in, fan-out and idle connections, driven by pipelined async clients.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::codec::{self, Frame};
use super::{LoadError, Throughput};

/// Concurrent connection attempts while setting up.
const CONNECT_CONCURRENCY: usize = 256;
/// Most messages one publisher writes in one system call.
const MAX_BATCH: usize = 64;
/// Bytes at the start of each payload: publisher index (u32) and send time (u64 ns).
const STAMP: usize = 12;

/// Opens a connection from `source` (if given) and completes CONNECT/CONNACK.
async fn open(
    broker: SocketAddr,
    source: Option<Ipv4Addr>,
    client_id: &str,
    keepalive: u16,
) -> Result<TcpStream, LoadError> {
    let socket = TcpSocket::new_v4().map_err(LoadError::io("socket"))?;
    if let Some(source) = source {
        socket
            .bind((source, 0).into())
            .map_err(LoadError::io("bind source address"))?;
    }
    let mut stream = socket
        .connect(broker)
        .await
        .map_err(LoadError::io("connect"))?;
    stream.set_nodelay(true).map_err(LoadError::io("nodelay"))?;
    let mut out = Vec::with_capacity(64);
    codec::connect(&mut out, client_id, keepalive);
    stream
        .write_all(&out)
        .await
        .map_err(LoadError::io("send CONNECT"))?;
    let mut ack = [0u8; 4];
    stream
        .read_exact(&mut ack)
        .await
        .map_err(LoadError::io("read CONNACK"))?;
    if ack[0] != 0x20 || ack[3] != 0 {
        return Err(LoadError::Refused(format!("CONNACK {ack:?}")));
    }
    Ok(stream)
}

/// Subscribes and waits for the SUBACK.
async fn subscribe(stream: &mut TcpStream, filter: &str, qos: u8) -> Result<(), LoadError> {
    let mut out = Vec::new();
    codec::subscribe(&mut out, 1, filter, qos);
    stream
        .write_all(&out)
        .await
        .map_err(LoadError::io("send SUBSCRIBE"))?;
    let mut ack = [0u8; 5];
    stream
        .read_exact(&mut ack)
        .await
        .map_err(LoadError::io("read SUBACK"))?;
    if ack[0] != 0x90 || ack[4] > 2 {
        return Err(LoadError::Refused(format!("SUBACK {ack:?}")));
    }
    Ok(())
}

/// Opens `count` connections with at most [`CONNECT_CONCURRENCY`] in progress.
async fn open_many(
    broker: SocketAddr,
    count: usize,
    sources: &[Ipv4Addr],
    prefix: &str,
    keepalive: u16,
) -> Result<Vec<TcpStream>, LoadError> {
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for index in 0..count {
        let gate = gate.clone();
        let source = (!sources.is_empty()).then(|| sources[index % sources.len()]);
        let client_id = format!("{prefix}-{index}");
        tasks.spawn(async move {
            let _permit = gate.acquire().await;
            open(broker, source, &client_id, keepalive)
                .await
                .map(|s| (index, s))
        });
    }
    let mut streams: Vec<Option<TcpStream>> = (0..count).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (index, stream) = joined.map_err(|e| LoadError::Task(e.to_string()))??;
        streams[index] = Some(stream);
    }
    Ok(streams.into_iter().flatten().collect())
}

/// Shared state of a measurement run.
struct Run {
    base: Instant,
    recording: AtomicBool,
    stop: AtomicBool,
    received: AtomicU64,
}

impl Run {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            base: Instant::now(),
            recording: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            received: AtomicU64::new(0),
        })
    }

    fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    /// Warms up, records for `duration`, then stops the clients.
    async fn measure(&self, warmup: Duration, duration: Duration) -> (u64, Duration) {
        tokio::time::sleep(warmup).await;
        let before = self.received.load(Ordering::Relaxed);
        self.recording.store(true, Ordering::Relaxed);
        let started = Instant::now();
        tokio::time::sleep(duration).await;
        self.recording.store(false, Ordering::Relaxed);
        let elapsed = started.elapsed();
        let count = self.received.load(Ordering::Relaxed) - before;
        self.stop.store(true, Ordering::Relaxed);
        (count, elapsed)
    }
}

/// What a publisher sends.
struct Stream {
    topic: Vec<u8>,
    qos: u8,
    payload: usize,
    /// Tag written into each payload: the publisher's index, or a running sequence number.
    tag: Tag,
}

/// How messages are tagged, for the receiving side's bookkeeping.
enum Tag {
    /// Every message carries the publisher's index.
    Publisher(u32),
    /// Messages are numbered.
    Sequence(AtomicU32),
}

impl Tag {
    fn next(&self) -> u32 {
        match self {
            Self::Publisher(index) => *index,
            Self::Sequence(next) => next.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// Writes stamped messages whenever `permits` allow, batching what is available.
async fn publish_loop(
    mut writer: OwnedWriteHalf,
    run: Arc<Run>,
    permits: Arc<Semaphore>,
    stream: Stream,
) -> Result<(), LoadError> {
    let Stream {
        topic,
        qos,
        payload,
        tag,
    } = stream;
    let mut out = Vec::with_capacity(MAX_BATCH * (payload + topic.len() + 8));
    let mut packet_id: u16 = 0;
    while !run.stop.load(Ordering::Relaxed) {
        let Ok(permit) = permits.acquire().await else {
            break;
        };
        permit.forget();
        let mut batch = 1;
        while batch < MAX_BATCH && permits.try_acquire().map(|p| p.forget()).is_ok() {
            batch += 1;
        }
        out.clear();
        for _ in 0..batch {
            packet_id = packet_id.wrapping_add(1).max(1);
            let stamp = run.now_ns();
            let tag = tag.next();
            codec::publish(&mut out, &topic, qos, packet_id, payload.max(STAMP), |p| {
                p[..4].copy_from_slice(&tag.to_le_bytes());
                p[4..12].copy_from_slice(&stamp.to_le_bytes());
            });
        }
        if writer.write_all(&out).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// Discards what the broker sends to a publisher (PUBACKs).
async fn drain(mut reader: OwnedReadHalf) {
    let mut buf = vec![0u8; 16 * 1024];
    while matches!(reader.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// Reads messages, acknowledges QoS 1, and hands each payload to `on_message` with its
/// latency; stops at end of stream or when the run stops.
async fn receive_loop(
    mut reader: OwnedReadHalf,
    mut writer: OwnedWriteHalf,
    run: Arc<Run>,
    mut on_message: impl FnMut(&[u8]),
) -> Vec<u32> {
    let mut latencies = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut filled = 0;
    let mut acks = Vec::new();
    while !run.stop.load(Ordering::Relaxed) {
        let read =
            tokio::time::timeout(Duration::from_millis(200), reader.read(&mut buf[filled..])).await;
        let n = match read {
            Ok(Ok(n)) if n > 0 => n,
            Ok(_) => break,
            Err(_) => continue,
        };
        filled += n;
        let now = run.now_ns();
        let recording = run.recording.load(Ordering::Relaxed);
        let mut count = 0u64;
        let used = codec::parse(&buf[..filled], |frame: Frame<'_>| {
            if frame.kind() != 3 {
                return;
            }
            let Some((qos, packet_id, payload)) = frame.publish() else {
                return;
            };
            if qos == 1 {
                codec::puback(&mut acks, packet_id);
            }
            if payload.len() >= STAMP {
                let sent = u64::from_le_bytes(payload[4..12].try_into().expect("8 bytes"));
                if recording {
                    latencies
                        .push((now.saturating_sub(sent) / 1000).min(u64::from(u32::MAX)) as u32);
                }
                count += 1;
                on_message(payload);
            }
        });
        buf.copy_within(used..filled, 0);
        filled -= used;
        run.received.fetch_add(count, Ordering::Relaxed);
        if !acks.is_empty() {
            if writer.write_all(&acks).await.is_err() {
                break;
            }
            acks.clear();
        }
    }
    latencies
}

/// Many publishers, one subscriber: each publisher keeps `window` messages on their way.
pub(crate) async fn fan_in(
    broker: SocketAddr,
    publishers: usize,
    qos: u8,
    payload: usize,
    window: usize,
    timing: (Duration, Duration),
) -> Result<Throughput, LoadError> {
    let run = Run::new();
    let mut subscriber = open(broker, None, "bench-fan-in-sub", 0).await?;
    subscribe(&mut subscriber, "bench/in/#", qos).await?;
    let streams = open_many(broker, publishers, &[], "bench-fan-in-pub", 0).await?;
    let permits: Vec<Arc<Semaphore>> = (0..publishers)
        .map(|_| Arc::new(Semaphore::new(window)))
        .collect();
    let (reader, writer) = subscriber.into_split();
    let receiving = tokio::spawn({
        let run = run.clone();
        let permits = permits.clone();
        receive_loop(reader, writer, run, move |payload| {
            let index = u32::from_le_bytes(payload[..4].try_into().expect("4 bytes")) as usize;
            if let Some(p) = permits.get(index) {
                p.add_permits(1);
            }
        })
    });
    let mut tasks = JoinSet::new();
    for (index, stream) in streams.into_iter().enumerate() {
        let (reader, writer) = stream.into_split();
        tokio::spawn(drain(reader));
        let topic = format!("bench/in/{index}").into_bytes();
        let stream = Stream {
            topic,
            qos,
            payload,
            tag: Tag::Publisher(index as u32),
        };
        tasks.spawn(publish_loop(
            writer,
            run.clone(),
            permits[index].clone(),
            stream,
        ));
    }
    let (count, elapsed) = run.measure(timing.0, timing.1).await;
    permits.iter().for_each(|p| p.close());
    tasks.shutdown().await;
    let latencies = receiving
        .await
        .map_err(|e| LoadError::Task(e.to_string()))?;
    Ok(Throughput::new(count, elapsed, latencies))
}

/// One publisher, many subscribers: a message stays in flight until every subscriber got it.
pub(crate) async fn fan_out(
    broker: SocketAddr,
    subscribers: usize,
    qos: u8,
    payload: usize,
    window: usize,
    timing: (Duration, Duration),
) -> Result<Throughput, LoadError> {
    const RING: usize = 4096;
    let run = Run::new();
    let mut streams = open_many(broker, subscribers, &[], "bench-fan-out-sub", 0).await?;
    let mut subscribing = JoinSet::new();
    for mut stream in streams.drain(..) {
        subscribing.spawn(async move {
            subscribe(&mut stream, "bench/out", qos)
                .await
                .map(|()| stream)
        });
    }
    let mut subscribed = Vec::with_capacity(subscribers);
    while let Some(joined) = subscribing.join_next().await {
        subscribed.push(joined.map_err(|e| LoadError::Task(e.to_string()))??);
    }
    let permits = Arc::new(Semaphore::new(window.min(RING)));
    let arrivals: Arc<Vec<AtomicU32>> = Arc::new((0..RING).map(|_| AtomicU32::new(0)).collect());
    let mut receivers = JoinSet::new();
    for stream in subscribed {
        let (reader, writer) = stream.into_split();
        let (permits, arrivals) = (permits.clone(), arrivals.clone());
        let total = subscribers as u32;
        receivers.spawn(receive_loop(reader, writer, run.clone(), move |payload| {
            let seq = u32::from_le_bytes(payload[..4].try_into().expect("4 bytes")) as usize;
            let slot = &arrivals[seq % RING];
            if slot.fetch_add(1, Ordering::AcqRel) + 1 == total {
                slot.store(0, Ordering::Release);
                permits.add_permits(1);
            }
        }));
    }
    let publisher = open(broker, None, "bench-fan-out-pub", 0).await?;
    let (reader, writer) = publisher.into_split();
    tokio::spawn(drain(reader));
    let stream = Stream {
        topic: b"bench/out".to_vec(),
        qos,
        payload,
        tag: Tag::Sequence(AtomicU32::new(0)),
    };
    let publishing = tokio::spawn(publish_loop(writer, run.clone(), permits.clone(), stream));
    let (count, elapsed) = run.measure(timing.0, timing.1).await;
    permits.close();
    publishing.abort();
    let mut latencies = Vec::new();
    while let Some(joined) = receivers.join_next().await {
        latencies.extend(joined.map_err(|e| LoadError::Task(e.to_string()))?);
    }
    Ok(Throughput::new(count, elapsed, latencies))
}

/// Opens `count` idle connections (keepalive 0) spread over `sources`, then checks that
/// every one still answers a PINGREQ. Returns the open streams' count and the connections.
pub(crate) async fn idle(
    broker: SocketAddr,
    count: usize,
    sources: &[Ipv4Addr],
) -> Result<Vec<TcpStream>, LoadError> {
    open_many(broker, count, sources, "bench-idle", 0).await
}

/// Sends PINGREQ on every connection and counts the PINGRESPs.
pub(crate) async fn ping_all(streams: Vec<TcpStream>) -> usize {
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY * 4));
    let mut tasks = JoinSet::new();
    for mut stream in streams {
        let gate = gate.clone();
        tasks.spawn(async move {
            let _permit = gate.acquire().await;
            let mut response = [0u8; 2];
            let answered = async {
                stream.write_all(&codec::PINGREQ).await?;
                stream.read_exact(&mut response).await
            };
            matches!(
                tokio::time::timeout(Duration::from_secs(10), answered).await,
                Ok(Ok(_))
            ) && response[0] == 0xD0
        });
    }
    let mut alive = 0;
    while let Some(joined) = tasks.join_next().await {
        alive += usize::from(joined.unwrap_or(false));
    }
    alive
}
