//! The scenarios: fan-in, fan-out and idle connections, driven by pipelined async clients.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::codec::{self, Frame, Stamp};
use super::credit::Credit;
use super::run::{Run, Timing};
use super::summary::micros_between;
use super::target::RunningBroker;
use super::{LoadError, Outcome};

/// Concurrent connection attempts while setting up.
const CONNECT_CONCURRENCY: usize = 256;
/// Most messages one publisher writes in one system call.
const MAX_BATCH: usize = 64;

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

/// How publishers pace their messages.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pacing {
    /// Closed loop at saturation: this many messages on their way per publisher (fan-in)
    /// or in all (fan-out); a message is on its way until every subscriber received it.
    Window(usize),
    /// Open loop: a fixed offered rate, in messages/s into the broker (fan-in) or
    /// deliveries/s out of it (fan-out), kept whatever the broker does.
    Rate(f64),
}

/// The load of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Load {
    /// QoS of publications and subscriptions.
    pub qos: u8,
    /// Payload bytes.
    pub payload: usize,
    /// How messages are paced.
    pub pacing: Pacing,
}

/// When one publisher sends.
enum Pace {
    /// When its window has room; deliveries settle messages.
    Window(Arc<Credit>),
    /// On a schedule: one message every `interval_ns`, the first at `first_ns`.
    Rate { first_ns: u64, interval_ns: u64 },
}

impl Pace {
    /// The schedule of publisher `index` of `count` sharing `per_second` messages/s,
    /// spread evenly over the interval.
    fn rate(per_second: f64, index: usize, count: usize) -> Self {
        let interval_ns = (count as f64 * 1e9 / per_second.max(1e-3)).max(1.0) as u64;
        Self::Rate {
            first_ns: interval_ns * index as u64 / count.max(1) as u64,
            interval_ns,
        }
    }
}

/// What a publisher sends.
struct Stream {
    topic: Vec<u8>,
    qos: u8,
    payload: usize,
    /// The publisher's index, written into each payload's stamp.
    publisher: u32,
}

/// Writes stamped messages as `pace` allows, several per write when several are due.
/// Returns how late each sampled message left against its schedule (open loop), in µs.
async fn publish_loop(
    mut writer: OwnedWriteHalf,
    run: Arc<Run>,
    pace: Pace,
    stream: Stream,
) -> Vec<u32> {
    let Stream {
        topic,
        qos,
        payload,
        publisher,
    } = stream;
    let mut out = Vec::with_capacity(MAX_BATCH * (payload + topic.len() + 8));
    let mut packet_id: u16 = 0;
    let mut seq: u32 = 0;
    let mut lags = Vec::new();
    let mut next_ns = match pace {
        Pace::Rate { first_ns, .. } => first_ns,
        Pace::Window(_) => 0,
    };
    while run.publishing() {
        let batch = match &pace {
            Pace::Window(credit) => {
                let Some(batch) = credit.take(MAX_BATCH, seq).await else {
                    break;
                };
                batch
            }
            Pace::Rate { interval_ns, .. } => {
                tokio::time::sleep_until(run.instant_at(next_ns).into()).await;
                let late_ns = run.now_ns().saturating_sub(next_ns);
                (late_ns / interval_ns + 1).min(MAX_BATCH as u64) as usize
            }
        };
        out.clear();
        let mut sampled = 0;
        for _ in 0..batch {
            packet_id = packet_id.wrapping_add(1).max(1);
            let sent_ns = run.now_ns();
            let in_sample = run.sampled(sent_ns);
            if in_sample {
                sampled += 1;
                if let Pace::Rate { .. } = pace {
                    lags.push(micros_between(next_ns, sent_ns));
                }
            }
            if let Pace::Rate { interval_ns, .. } = pace {
                next_ns += interval_ns;
            }
            let stamp = Stamp {
                publisher,
                seq,
                sent_ns,
                sampled: in_sample,
            };
            seq = seq.wrapping_add(1);
            codec::publish(
                &mut out,
                &topic,
                qos,
                packet_id,
                payload.max(Stamp::LEN),
                |p| {
                    stamp.write(p);
                },
            );
        }
        // Counted before the write, so no delivery is ever counted ahead of its sending; a
        // write that fails or is abandoned loses its messages.
        run.count_sent(sampled);
        if !write_until_stopped(&mut writer, &out, &run).await {
            break;
        }
    }
    lags
}

/// Writes `bytes`; false when the connection failed or the run stopped while the broker
/// was not reading.
async fn write_until_stopped(writer: &mut OwnedWriteHalf, bytes: &[u8], run: &Run) -> bool {
    let write = writer.write_all(bytes);
    tokio::pin!(write);
    loop {
        match tokio::time::timeout(Duration::from_millis(100), &mut write).await {
            Ok(written) => return written.is_ok(),
            Err(_) if run.stopped() => return false,
            Err(_) => {}
        }
    }
}

/// Discards what the broker sends to a publisher (PUBACKs).
async fn drain(mut reader: OwnedReadHalf) {
    let mut buf = vec![0u8; 16 * 1024];
    while matches!(reader.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// Reads messages, acknowledges QoS 1, counts them and hands each payload to `on_message`;
/// stops at end of stream or when the run stops. Returns the latencies of sampled
/// messages (µs) when the run keeps them.
async fn receive_loop(
    mut reader: OwnedReadHalf,
    mut writer: OwnedWriteHalf,
    run: Arc<Run>,
    mut on_message: impl FnMut(Stamp),
) -> Vec<u32> {
    let mut latencies = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut filled = 0;
    let mut acks = Vec::new();
    while !run.stopped() {
        let read =
            tokio::time::timeout(Duration::from_millis(100), reader.read(&mut buf[filled..])).await;
        let n = match read {
            Ok(Ok(n)) if n > 0 => n,
            Ok(_) => break,
            Err(_) => continue,
        };
        filled += n;
        let now = run.now_ns();
        let (mut arrived, mut sampled) = (0u64, 0u64);
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
            if let Some(stamp) = Stamp::read(payload) {
                arrived += 1;
                if stamp.sampled {
                    sampled += 1;
                    if run.timing() {
                        latencies.push(micros_between(stamp.sent_ns, now));
                    }
                }
                on_message(stamp);
            }
        });
        buf.copy_within(used..filled, 0);
        filled -= used;
        run.count_received(arrived, sampled);
        if !acks.is_empty() {
            if writer.write_all(&acks).await.is_err() {
                break;
            }
            acks.clear();
        }
    }
    latencies
}

/// Waits for every task of `tasks` and gathers what they return.
async fn gather(mut tasks: JoinSet<Vec<u32>>) -> Result<Vec<u32>, LoadError> {
    let mut all = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        all.extend(joined.map_err(|e| LoadError::Task(e.to_string()))?);
    }
    Ok(all)
}

/// Many publishers, one subscriber.
pub(crate) async fn fan_in(
    broker: &RunningBroker,
    publishers: usize,
    load: Load,
    timing: Timing,
) -> Result<Outcome, LoadError> {
    let run = Run::new(matches!(load.pacing, Pacing::Rate(_)));
    let mut subscriber = open(broker.addr, None, "bench-fan-in-sub", 0).await?;
    subscribe(&mut subscriber, "bench/in/#", load.qos).await?;
    let streams = open_many(broker.addr, publishers, &[], "bench-fan-in-pub", 0).await?;
    let credits: Vec<Arc<Credit>> = match load.pacing {
        Pacing::Window(window) => (0..publishers)
            .map(|_| Arc::new(Credit::new(window)))
            .collect(),
        Pacing::Rate(_) => Vec::new(),
    };
    let (reader, writer) = subscriber.into_split();
    let mut receiving = JoinSet::new();
    receiving.spawn({
        let credits = credits.clone();
        receive_loop(reader, writer, run.clone(), move |stamp| {
            if let Some(credit) = credits.get(stamp.publisher as usize) {
                credit.settle(stamp.seq.wrapping_add(1));
            }
        })
    });
    let mut publishing = JoinSet::new();
    for (index, stream) in streams.into_iter().enumerate() {
        let (reader, writer) = stream.into_split();
        tokio::spawn(drain(reader));
        let stream = Stream {
            topic: format!("bench/in/{index}").into_bytes(),
            qos: load.qos,
            payload: load.payload,
            publisher: index as u32,
        };
        let pace = match load.pacing {
            Pacing::Window(_) => Pace::Window(credits[index].clone()),
            Pacing::Rate(per_second) => Pace::rate(per_second, index, publishers),
        };
        publishing.spawn(publish_loop(writer, run.clone(), pace, stream));
    }
    let window = run.measure(timing, 1, &broker.cpu_probe()).await;
    credits.iter().for_each(|c| c.close());
    let lags = gather(publishing).await?;
    let latencies = gather(receiving).await?;
    Ok(run.outcome(window, latencies, lags))
}

/// One publisher, many subscribers; with a window, a message stays on its way until every
/// subscriber got it.
pub(crate) async fn fan_out(
    broker: &RunningBroker,
    subscribers: usize,
    load: Load,
    timing: Timing,
) -> Result<Outcome, LoadError> {
    const RING: usize = 4096;
    let run = Run::new(matches!(load.pacing, Pacing::Rate(_)));
    let mut streams = open_many(broker.addr, subscribers, &[], "bench-fan-out-sub", 0).await?;
    let mut subscribing = JoinSet::new();
    for mut stream in streams.drain(..) {
        subscribing.spawn(async move {
            subscribe(&mut stream, "bench/out", load.qos)
                .await
                .map(|()| stream)
        });
    }
    let mut subscribed = Vec::with_capacity(subscribers);
    while let Some(joined) = subscribing.join_next().await {
        subscribed.push(joined.map_err(|e| LoadError::Task(e.to_string()))??);
    }
    let (credit, pace) = match load.pacing {
        Pacing::Window(window) => {
            let credit = Arc::new(Credit::new(window.min(RING)));
            (Some(credit.clone()), Pace::Window(credit))
        }
        Pacing::Rate(deliveries) => (None, Pace::rate(deliveries / subscribers as f64, 0, 1)),
    };
    let arrivals: Arc<Vec<AtomicU32>> = Arc::new((0..RING).map(|_| AtomicU32::new(0)).collect());
    let mut receiving = JoinSet::new();
    for stream in subscribed {
        let (reader, writer) = stream.into_split();
        let (credit, arrivals) = (credit.clone(), arrivals.clone());
        let total = subscribers as u32;
        receiving.spawn(receive_loop(reader, writer, run.clone(), move |stamp| {
            let Some(credit) = &credit else {
                return;
            };
            let slot = &arrivals[stamp.seq as usize % RING];
            if slot.fetch_add(1, Ordering::AcqRel) + 1 == total {
                slot.store(0, Ordering::Release);
                credit.settle(stamp.seq.wrapping_add(1));
            }
        }));
    }
    let publisher = open(broker.addr, None, "bench-fan-out-pub", 0).await?;
    let (reader, writer) = publisher.into_split();
    tokio::spawn(drain(reader));
    let stream = Stream {
        topic: b"bench/out".to_vec(),
        qos: load.qos,
        payload: load.payload,
        publisher: 0,
    };
    let mut publishing = JoinSet::new();
    publishing.spawn(publish_loop(writer, run.clone(), pace, stream));
    let window = run
        .measure(timing, subscribers as u64, &broker.cpu_probe())
        .await;
    if let Some(credit) = &credit {
        credit.close();
    }
    let lags = gather(publishing).await?;
    let latencies = gather(receiving).await?;
    Ok(run.outcome(window, latencies, lags))
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
