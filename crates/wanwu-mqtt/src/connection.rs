//! One client connection: the MQTT state machine between a byte stream and a session.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use bytestring::ByteString;
use rmqtt_codec::v5::{
    self, ConnectAck, DisconnectReasonCode, LastWill, PublishAck, PublishAck2, PublishAck2Reason,
    RetainHandling, Subscribe, SubscribeAck, SubscribeAckReason, Unsubscribe, UnsubscribeAck,
    UnsubscribeAckReason,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

use crate::alias::{Applied, OutboundAliases};
use crate::broker::{Inner, session_record};
use crate::convert::{message_properties, outbound_publish, will_message};
use crate::hooks::{
    Action, ConnectInfo, DisconnectReason, PresenceEvent, PresenceKind, Principal, ProtocolVersion,
    PublishVerdict, Publisher, ReasonCode,
};
use crate::message::{Message, Publication, QoS, now_ms};
use crate::ratelimit::TokenBucket;
use crate::session::{Inflight, Outgoing, Phase, Session, SessionKey, SubscriptionEntry};
use crate::stats::DropReason;
use crate::store::Record;
use crate::topic::{is_valid_topic_name, parse_filter};
use crate::wire::{self, Packet, WireCodec};

/// Read buffer capacity of a fresh connection (kept small: idle connections are many).
const INITIAL_READ_CAPACITY: usize = 256;
/// Capacity added when the read buffer runs out of room.
const READ_CHUNK: usize = 4096;
/// Stop reading from a client whose outbound bytes pile up beyond this.
const WRITE_HIGH_WATER: usize = 256 * 1024;
/// Buffers larger than this are released once empty.
const SHRINK_ABOVE: usize = 64 * 1024;
/// Time allowed to deliver a final DISCONNECT.
const FAREWELL_TIMEOUT: Duration = Duration::from_secs(1);
/// Pipelined PUBLISH packets handed to the publish hook in one call at most.
const MAX_PUBLISH_BATCH: usize = 256;

/// An inbound message taken in, waiting for its verdict.
struct Inbound {
    message: Message,
    packet_id: Option<NonZeroU16>,
    /// The ACL lets the client publish on the topic.
    allowed: bool,
}

/// The verdict on a message the ACL does not allow.
fn not_authorized() -> PublishVerdict {
    PublishVerdict::Refuse {
        code: ReasonCode::NOT_AUTHORIZED,
        reason: None,
    }
}

/// Why and how a connection ends.
#[derive(Debug)]
struct Ending {
    reason: DisconnectReason,
    /// DISCONNECT reason code to send to an MQTT 5 client.
    code: Option<DisconnectReasonCode>,
    text: Option<&'static str>,
    publish_will: bool,
}

impl Ending {
    fn violation(code: DisconnectReasonCode, text: &'static str) -> Self {
        Self {
            reason: DisconnectReason::ProtocolViolation(code as u8),
            code: Some(code),
            text: Some(text),
            publish_will: true,
        }
    }

    fn server(reason: DisconnectReason, code: DisconnectReasonCode, publish_will: bool) -> Self {
        Self {
            reason,
            code: Some(code),
            text: None,
            publish_will,
        }
    }

    fn lost() -> Self {
        Self {
            reason: DisconnectReason::ConnectionLost,
            code: None,
            text: None,
            publish_will: true,
        }
    }
}

/// Runs one connection from the first byte to the end.
pub(crate) async fn run<IO>(inner: Arc<Inner>, io: IO, peer: SocketAddr)
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let over_limit =
        inner.connections.fetch_add(1, Ordering::Relaxed) >= inner.config.max_connections;
    inner.stats.connections.increment(1.0);
    inner.stats.connections_total.increment(1);
    let (mut reader, mut writer) = tokio::io::split(io);
    let mut rbuf = BytesMut::with_capacity(INITIAL_READ_CAPACITY);
    // The handshake and the per-read work are boxed so that the long-lived part of a
    // connection's future (there may be many idle ones) holds only what serving needs.
    let handshake = tokio::time::timeout(
        inner.config.connect_timeout,
        Box::pin(read_connect(&inner, &mut reader, &mut rbuf)),
    )
    .await;
    match handshake {
        Ok(Ok((codec, connect))) => {
            if let Some(connection) = Box::pin(accept(
                &inner,
                codec,
                *connect,
                peer,
                over_limit,
                &mut writer,
            ))
            .await
            {
                connection.serve(&mut reader, &mut writer, rbuf).await;
            }
        }
        Ok(Err(Some(reply))) => {
            let _ = tokio::time::timeout(FAREWELL_TIMEOUT, writer.write_all(&reply)).await;
        }
        _ => {}
    }
    let _ = tokio::time::timeout(FAREWELL_TIMEOUT, writer.shutdown()).await;
    inner.connections.fetch_sub(1, Ordering::Relaxed);
    inner.stats.connections.decrement(1.0);
}

/// Reads into `buf`, growing it when full; `Ok(0)` is end of stream.
async fn read_more<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < 64 {
        buf.reserve(READ_CHUNK);
    }
    reader.read_buf(buf).await
}

/// Reads the CONNECT packet. On failure, optionally a raw reply to send before closing.
async fn read_connect<R: AsyncRead + Unpin>(
    inner: &Inner,
    reader: &mut R,
    buf: &mut BytesMut,
) -> Result<(WireCodec, Box<v5::Connect>), Option<Vec<u8>>> {
    let mut codec: Option<WireCodec> = None;
    loop {
        if codec.is_none() {
            match wire::detect_version(buf) {
                Ok(Some(version)) => {
                    codec = Some(WireCodec::new(version, inner.config.max_packet_size))
                }
                Ok(None) => {}
                // A CONNECT with an unknown protocol level: MQTT 3.1.1 return code 1.
                Err(_) if buf.first() == Some(&0x10) && buf.len() > 8 => {
                    return Err(Some(vec![0x20, 0x02, 0x00, 0x01]));
                }
                Err(_) => return Err(None),
            }
        }
        if let Some(codec) = codec.as_mut() {
            match codec.decode(buf) {
                Ok(Some(Packet::Connect(connect))) => {
                    let codec = std::mem::replace(codec, WireCodec::new(ProtocolVersion::V311, 0));
                    return Ok((codec, connect));
                }
                Err(rmqtt_codec::error::DecodeError::InvalidClientId) => {
                    let refusal = refusal_connack(codec, ReasonCode::CLIENT_IDENTIFIER_NOT_VALID);
                    return Err(Some(refusal.to_vec()));
                }
                Ok(Some(_)) | Err(_) => return Err(None),
                Ok(None) => {}
            }
        }
        match read_more(reader, buf).await {
            Ok(0) | Err(_) => return Err(None),
            Ok(n) => inner.stats.bytes_in.increment(n as u64),
        }
    }
}

/// Completes the handshake: authentication, session attach, CONNACK.
async fn accept<W: AsyncWrite + Unpin>(
    inner: &Arc<Inner>,
    mut codec: WireCodec,
    mut connect: v5::Connect,
    peer: SocketAddr,
    over_limit: bool,
    writer: &mut W,
) -> Option<Box<Connection>> {
    let version = codec.version();
    let mut assigned_client_id = None;
    if connect.client_id.is_empty() {
        if !connect.clean_start {
            return refuse(
                inner,
                &mut codec,
                writer,
                ReasonCode::CLIENT_IDENTIFIER_NOT_VALID,
            )
            .await;
        }
        let id: ByteString = format!("auto-{:016x}", rand::random::<u64>()).into();
        assigned_client_id = Some(id.clone());
        connect.client_id = id;
    }
    if over_limit {
        return refuse(inner, &mut codec, writer, ReasonCode::SERVER_BUSY).await;
    }
    if connect.auth_method.is_some() {
        // No enhanced authentication method is supported: credentials travel in CONNECT.
        return refuse(
            inner,
            &mut codec,
            writer,
            ReasonCode::BAD_AUTHENTICATION_METHOD,
        )
        .await;
    }
    if connect
        .last_will
        .as_ref()
        .is_some_and(|w| !is_valid_topic_name(&w.topic))
    {
        return refuse(inner, &mut codec, writer, ReasonCode::TOPIC_NAME_INVALID).await;
    }
    let info = ConnectInfo {
        client_id: &connect.client_id,
        username: connect.username.as_deref(),
        password: connect.password.as_deref(),
        protocol: version,
        peer,
    };
    let principal = match inner.hooks.authenticator.authenticate(&info).await {
        Ok(principal) => principal,
        Err(code) => return refuse(inner, &mut codec, writer, code).await,
    };
    if let Some(will) = &connect.last_will
        && !inner
            .hooks
            .acl
            .allowed(&principal, &will.topic, Action::Publish)
    {
        return refuse(inner, &mut codec, writer, ReasonCode::NOT_AUTHORIZED).await;
    }
    let config = &inner.config;
    let expiry_secs = connect
        .session_expiry_interval_secs
        .min(config.session_expiry_max_secs);
    let keepalive = match version {
        ProtocolVersion::V5 if connect.keep_alive == 0 && config.keepalive_min > 0 => {
            config.keepalive_max
        }
        ProtocolVersion::V5 => connect.keep_alive.clamp(
            config.keepalive_min,
            config.keepalive_max.max(config.keepalive_min),
        ),
        ProtocolVersion::V311 => connect.keep_alive,
    };
    let key = SessionKey {
        namespace: principal.namespace_arc().clone(),
        client_id: connect.client_id.clone(),
    };
    let (attached, records) = inner.attach(key, connect.clean_start, expiry_secs);
    if let Err(error) = inner.persist_durably(records).await {
        tracing::error!(%error, "could not persist session");
    }
    if let Some(max) = connect.max_packet_size {
        codec.set_max_outbound_size(max.get());
    }
    let connack = ConnectAck {
        session_present: attached.session_present,
        session_expiry_interval_secs: (expiry_secs != connect.session_expiry_interval_secs)
            .then_some(expiry_secs),
        receive_max: NonZeroU16::new(config.receive_maximum).unwrap_or(NonZeroU16::MIN),
        max_packet_size: Some(config.max_packet_size),
        assigned_client_id,
        topic_alias_max: config.topic_alias_maximum,
        server_keepalive_sec: (keepalive != connect.keep_alive).then_some(keepalive),
        ..ConnectAck::default()
    };
    let send_window = match version {
        ProtocolVersion::V5 => connect.receive_max.map_or(u16::MAX, NonZeroU16::get),
        ProtocolVersion::V311 => config.receive_maximum,
    };
    let mut connection = Box::new(Connection {
        inner: inner.clone(),
        codec,
        peer,
        client_id: connect.client_id,
        principal,
        session: attached.session,
        generation: attached.generation,
        kicked: Some(attached.kicked),
        will: connect.last_will.map(Box::new),
        keepalive: (keepalive > 0).then(|| Duration::from_millis(u64::from(keepalive) * 1500)),
        last_seen: Instant::now(),
        send_window: usize::from(send_window.max(1)),
        topic_aliases: None,
        outbound_aliases: OutboundAliases::for_client(connect.topic_alias_max),
        rate: config.publish_rate.map(TokenBucket::new),
        wbuf: BytesMut::new(),
        pending_records: Vec::new(),
    });
    connection.send(Packet::ConnectAck(Box::new(connack)));
    if attached.session_present {
        connection.resend_inflight();
    }
    connection.presence(PresenceKind::Connected);
    Some(connection)
}

/// The bytes of a CONNACK refusing with `code`.
fn refusal_connack(codec: &mut WireCodec, code: ReasonCode) -> BytesMut {
    let connack = ConnectAck {
        reason_code: wire::connack_reason(code),
        ..ConnectAck::default()
    };
    let mut buf = BytesMut::new();
    if let Err(error) = codec.encode(Packet::ConnectAck(Box::new(connack)), &mut buf) {
        tracing::debug!(%error, "CONNACK not encoded");
    }
    buf
}

/// Sends a refusing CONNACK; the connection then closes.
async fn refuse<W: AsyncWrite + Unpin>(
    inner: &Inner,
    codec: &mut WireCodec,
    writer: &mut W,
    code: ReasonCode,
) -> Option<Box<Connection>> {
    inner.stats.connections_refused.increment(1);
    let refusal = refusal_connack(codec, code);
    let _ = tokio::time::timeout(FAREWELL_TIMEOUT, writer.write_all(&refusal)).await;
    None
}

/// A connected client.
struct Connection {
    inner: Arc<Inner>,
    codec: WireCodec,
    peer: SocketAddr,
    client_id: ByteString,
    principal: Principal,
    session: Arc<Session>,
    generation: u64,
    kicked: Option<oneshot::Receiver<DisconnectReason>>,
    will: Option<Box<LastWill>>,
    /// 1.5 times the keepalive; `None` disables the check.
    keepalive: Option<Duration>,
    last_seen: Instant,
    /// Outbound QoS 1/2 messages in flight at most (the client's receive maximum).
    send_window: usize,
    topic_aliases: Option<HashMap<u16, ByteString>>,
    /// Aliases of the topics sent to the client, if it accepts any.
    outbound_aliases: Option<Box<OutboundAliases>>,
    rate: Option<TokenBucket>,
    wbuf: BytesMut,
    /// Delivery acknowledgements to persist.
    pending_records: Vec<Record>,
}

impl Connection {
    fn is_v5(&self) -> bool {
        self.codec.version() == ProtocolVersion::V5
    }

    async fn serve<R, W>(mut self: Box<Self>, reader: &mut R, writer: &mut W, mut rbuf: BytesMut)
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let session = self.session.clone();
        let shutdown = self.inner.shutdown.clone();
        let Some(mut kicked) = self.kicked.take() else {
            return;
        };
        let window = self.keepalive.unwrap_or(Duration::from_secs(3600));
        let keepalive = tokio::time::sleep(window);
        tokio::pin!(keepalive);
        self.pump();
        // Packets pipelined behind CONNECT arrived with it.
        let mut pipelined_failure = Box::pin(self.process(&mut rbuf)).await.err();
        let ending = loop {
            if let Some(ending) = pipelined_failure.take() {
                break ending;
            }
            if !self.pending_records.is_empty() {
                let records = std::mem::take(&mut self.pending_records);
                Box::pin(self.inner.persist(records)).await;
            }
            tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    break Ending::server(DisconnectReason::ServerShutdown, DisconnectReasonCode::ServerShuttingDown, false);
                }
                _ = &mut kicked => {
                    break Ending::server(DisconnectReason::TakenOver, DisconnectReasonCode::SessionTakenOver, true);
                }
                written = writer.write(&self.wbuf), if !self.wbuf.is_empty() => match written {
                    Ok(0) | Err(_) => break Ending::lost(),
                    Ok(n) => {
                        self.inner.stats.bytes_out.increment(n as u64);
                        self.wbuf.advance(n);
                        if self.wbuf.is_empty() {
                            if writer.flush().await.is_err() {
                                break Ending::lost();
                            }
                            if self.wbuf.capacity() > SHRINK_ABOVE {
                                self.wbuf = BytesMut::new();
                            }
                            self.pump();
                        }
                    }
                },
                read = read_more(reader, &mut rbuf), if self.wbuf.len() < WRITE_HIGH_WATER => match read {
                    Ok(0) | Err(_) => break Ending::lost(),
                    Ok(n) => {
                        self.inner.stats.bytes_in.increment(n as u64);
                        self.last_seen = Instant::now();
                        if let Err(ending) = Box::pin(self.process(&mut rbuf)).await {
                            break ending;
                        }
                        if rbuf.is_empty() && rbuf.capacity() > SHRINK_ABOVE {
                            rbuf = BytesMut::with_capacity(INITIAL_READ_CAPACITY);
                        }
                    }
                },
                () = session.wake.notified() => self.pump(),
                () = &mut keepalive, if self.keepalive.is_some() => {
                    let deadline = self.last_seen + window;
                    if Instant::now() >= deadline {
                        break Ending::server(DisconnectReason::KeepaliveTimeout, DisconnectReasonCode::KeepAliveTimeout, true);
                    }
                    keepalive.as_mut().reset(deadline.into());
                }
            }
        };
        Box::pin(self.finish(ending, writer)).await;
    }

    /// Decodes and handles every complete packet in `buf`. Consecutive QoS 0/1 PUBLISH
    /// packets (a client pipelining) go to the publish hook together.
    async fn process(&mut self, buf: &mut BytesMut) -> Result<(), Ending> {
        let mut publishes = Vec::new();
        loop {
            match self.codec.decode(buf) {
                Ok(Some(Packet::Publish(publish))) if publish.qos != QoS::ExactlyOnce => {
                    publishes.push(*publish);
                    if publishes.len() == MAX_PUBLISH_BATCH {
                        self.on_publishes(std::mem::take(&mut publishes)).await?;
                    }
                }
                Ok(Some(packet)) => {
                    self.on_publishes(std::mem::take(&mut publishes)).await?;
                    self.handle(packet).await?;
                }
                Ok(None) => return self.on_publishes(publishes).await,
                Err(error) => {
                    self.on_publishes(publishes).await?;
                    tracing::debug!(client = %self.client_id, %error, "bad packet");
                    return Err(Ending::violation(
                        wire::decode_error_reason(&error),
                        "malformed packet",
                    ));
                }
            }
        }
    }

    async fn handle(&mut self, packet: Packet) -> Result<(), Ending> {
        match packet {
            Packet::Publish(publish) => self.on_publish(*publish).await,
            Packet::PublishAck(ack) => {
                self.on_puback(ack);
                Ok(())
            }
            Packet::PublishReceived(ack) => {
                self.on_pubrec(ack);
                Ok(())
            }
            Packet::PublishRelease(ack) => {
                self.on_pubrel(ack);
                Ok(())
            }
            Packet::PublishComplete(ack) => {
                self.on_pubcomp(ack);
                Ok(())
            }
            Packet::Subscribe(subscribe) => self.on_subscribe(subscribe).await,
            Packet::Unsubscribe(unsubscribe) => self.on_unsubscribe(unsubscribe).await,
            Packet::PingRequest => {
                self.send(Packet::PingResponse);
                Ok(())
            }
            Packet::Disconnect(disconnect) => Err(self.on_disconnect(disconnect)),
            Packet::Connect(_) => Err(Ending::violation(
                DisconnectReasonCode::ProtocolError,
                "second CONNECT",
            )),
            _ => Err(Ending::violation(
                DisconnectReasonCode::ProtocolError,
                "unexpected packet type",
            )),
        }
    }

    async fn on_publish(&mut self, publish: rmqtt_codec::types::Publish) -> Result<(), Ending> {
        let Some(inbound) = self.admit(publish).await? else {
            return Ok(());
        };
        let verdict = if !inbound.allowed {
            not_authorized()
        } else if let Some(hook) = self.inner.hooks.publish.clone() {
            hook.on_publish(self.publisher(), &inbound.message).await
        } else {
            PublishVerdict::Route
        };
        self.conclude(inbound, verdict).await
    }

    /// Handles pipelined QoS 0/1 publishes, in order: the authorised ones go to the publish
    /// hook in one call. A protocol violation in one of them ends the connection after the
    /// ones before it are handled.
    async fn on_publishes(
        &mut self,
        publishes: Vec<rmqtt_codec::types::Publish>,
    ) -> Result<(), Ending> {
        if publishes.len() <= 1 {
            return match publishes.into_iter().next() {
                Some(publish) => self.on_publish(publish).await,
                None => Ok(()),
            };
        }
        let mut admitted = Vec::with_capacity(publishes.len());
        let mut violation = None;
        for publish in publishes {
            match self.admit(publish).await {
                Ok(inbound) => admitted.extend(inbound),
                Err(ending) => {
                    violation = Some(ending);
                    break;
                }
            }
        }
        let verdicts = match self.inner.hooks.publish.clone() {
            Some(hook) if admitted.iter().any(|i| i.allowed) => {
                let messages: Vec<Message> = admitted
                    .iter()
                    .filter(|i| i.allowed)
                    .map(|i| i.message.clone())
                    .collect();
                hook.on_publish_batch(self.publisher(), &messages).await
            }
            _ => Vec::new(),
        };
        let hooked = self.inner.hooks.publish.is_some();
        let mut verdicts = verdicts.into_iter();
        for inbound in admitted {
            let verdict = if !inbound.allowed {
                not_authorized()
            } else {
                match verdicts.next() {
                    Some(verdict) => verdict,
                    None if !hooked => PublishVerdict::Route,
                    None => {
                        tracing::error!(
                            "the publish hook left a pipelined message without a verdict"
                        );
                        PublishVerdict::Refuse {
                            code: ReasonCode::IMPLEMENTATION_SPECIFIC_ERROR,
                            reason: None,
                        }
                    }
                }
            };
            self.conclude(inbound, verdict).await?;
        }
        violation.map_or(Ok(()), Err)
    }

    fn publisher(&self) -> Publisher<'_> {
        Publisher {
            client_id: &self.client_id,
            principal: &self.principal,
            protocol: self.codec.version(),
        }
    }

    /// Takes an inbound PUBLISH in: resolves its topic, answers a repeated QoS 2 message at
    /// once (`None`), waits out the rate limit, counts it and checks the ACL.
    async fn admit(
        &mut self,
        publish: rmqtt_codec::types::Publish,
    ) -> Result<Option<Inbound>, Ending> {
        let topic = self.resolve_topic(&publish)?;
        let packet_id = publish.packet_id;
        if publish.qos == QoS::ExactlyOnce {
            let id = packet_id.map_or(0, NonZeroU16::get);
            let state = self.session.state.lock();
            if state.incoming_qos2.contains(&id) {
                drop(state);
                self.acknowledge(publish.qos, packet_id, None, None);
                return Ok(None);
            }
            if state.incoming_qos2.len() >= usize::from(self.inner.config.receive_maximum) {
                return Err(Ending::violation(
                    DisconnectReasonCode::ReceiveMaximumExceeded,
                    "receive maximum exceeded",
                ));
            }
        }
        if let Some(wait) = self.rate.as_mut().and_then(TokenBucket::take) {
            self.inner.stats.throttled.increment(1);
            tokio::time::sleep(wait).await;
        }
        self.inner.stats.received(publish.qos);
        let message = Message {
            topic,
            payload: publish.payload,
            qos: publish.qos,
            retain: publish.retain,
            properties: message_properties(publish.properties.as_ref()),
        };
        let allowed =
            self.inner
                .hooks
                .acl
                .allowed(&self.principal, &message.topic, Action::Publish);
        Ok(Some(Inbound {
            message,
            packet_id,
            allowed,
        }))
    }

    /// Routes (or drops) an admitted message by its verdict and acknowledges it.
    async fn conclude(&mut self, inbound: Inbound, verdict: PublishVerdict) -> Result<(), Ending> {
        let Inbound {
            message, packet_id, ..
        } = inbound;
        let qos = message.qos;
        let refusal = match verdict {
            PublishVerdict::Route => {
                let namespace = self.principal.namespace_arc().clone();
                match self
                    .inner
                    .route(&namespace, Publication::new(message, self.session.id))
                    .await
                {
                    Ok(_) => None,
                    Err(error) => {
                        tracing::error!(%error, "message not durable");
                        if !self.is_v5() && qos != QoS::AtMostOnce {
                            return Err(Ending::violation(
                                DisconnectReasonCode::UnspecifiedError,
                                "storage failure",
                            ));
                        }
                        Some((
                            ReasonCode::IMPLEMENTATION_SPECIFIC_ERROR,
                            Some("storage failure".to_string()),
                        ))
                    }
                }
            }
            PublishVerdict::Consumed => None,
            PublishVerdict::Refuse { code, reason } => {
                let why = if code == ReasonCode::NOT_AUTHORIZED {
                    DropReason::NotAuthorized
                } else {
                    DropReason::Refused
                };
                self.inner.stats.dropped(why);
                Some((code, reason))
            }
        };
        let (code, reason) = refusal.unzip();
        self.acknowledge(qos, packet_id, code, reason.flatten());
        Ok(())
    }

    /// The topic of an inbound PUBLISH after topic-alias resolution, validated.
    fn resolve_topic(
        &mut self,
        publish: &rmqtt_codec::types::Publish,
    ) -> Result<ByteString, Ending> {
        let mut topic = publish.topic.clone();
        if let Some(alias) = publish.properties.as_ref().and_then(|p| p.topic_alias) {
            if alias.get() > self.inner.config.topic_alias_maximum {
                return Err(Ending::violation(
                    DisconnectReasonCode::TopicAliasInvalid,
                    "topic alias out of range",
                ));
            }
            let aliases = self.topic_aliases.get_or_insert_with(HashMap::new);
            if topic.is_empty() {
                topic = aliases.get(&alias.get()).cloned().ok_or(Ending::violation(
                    DisconnectReasonCode::ProtocolError,
                    "unknown topic alias",
                ))?;
            } else {
                aliases.insert(alias.get(), topic.clone());
            }
        }
        if !is_valid_topic_name(&topic) {
            return Err(Ending::violation(
                DisconnectReasonCode::TopicNameInvalid,
                "invalid topic name",
            ));
        }
        Ok(topic)
    }

    /// Sends PUBACK/PUBREC for an inbound message, with a refusal code if any.
    fn acknowledge(
        &mut self,
        qos: QoS,
        packet_id: Option<NonZeroU16>,
        code: Option<ReasonCode>,
        reason: Option<String>,
    ) {
        let Some(packet_id) = packet_id else { return };
        let mut ack = wire::ack(packet_id);
        if let Some(code) = code {
            ack.reason_code = wire::puback_reason(code);
            ack.reason_string = reason.map(Into::into);
        }
        match qos {
            QoS::AtLeastOnce => self.send(Packet::PublishAck(ack)),
            QoS::ExactlyOnce => {
                if code.is_none() {
                    self.session
                        .state
                        .lock()
                        .incoming_qos2
                        .insert(packet_id.get());
                }
                self.send(Packet::PublishReceived(ack));
            }
            QoS::AtMostOnce => {}
        }
    }

    fn on_puback(&mut self, ack: PublishAck) {
        let done = {
            let mut state = self.session.state.lock();
            let id = ack.packet_id.get();
            let matches = state
                .inflight
                .get(&id)
                .is_some_and(|f| f.message.qos == QoS::AtLeastOnce && f.phase == Phase::AwaitAck);
            if matches {
                state.inflight.remove(&id)
            } else {
                None
            }
        };
        if let Some(done) = done {
            self.delivered(&done.message);
            self.pump();
        }
    }

    fn on_pubrec(&mut self, ack: PublishAck) {
        let id = ack.packet_id.get();
        let refused = ack.reason_code as u8 >= 0x80;
        let (known, finished) = {
            let mut state = self.session.state.lock();
            match state.inflight.get_mut(&id) {
                Some(f) if f.message.qos == QoS::ExactlyOnce && refused => {
                    (true, state.inflight.remove(&id))
                }
                Some(f) if f.message.qos == QoS::ExactlyOnce => {
                    f.phase = Phase::AwaitComplete;
                    (true, None)
                }
                _ => (false, None),
            }
        };
        if let Some(finished) = finished {
            self.delivered(&finished.message);
            self.pump();
        } else {
            let reason = if known {
                PublishAck2Reason::Success
            } else {
                PublishAck2Reason::PacketIdNotFound
            };
            self.send(Packet::PublishRelease(wire::ack2(ack.packet_id, reason)));
        }
    }

    fn on_pubcomp(&mut self, ack: PublishAck2) {
        let done = {
            let mut state = self.session.state.lock();
            let id = ack.packet_id.get();
            let matches = state
                .inflight
                .get(&id)
                .is_some_and(|f| f.phase == Phase::AwaitComplete);
            if matches {
                state.inflight.remove(&id)
            } else {
                None
            }
        };
        if let Some(done) = done {
            self.delivered(&done.message);
            self.pump();
        }
    }

    fn on_pubrel(&mut self, ack: PublishAck2) {
        let released = self
            .session
            .state
            .lock()
            .incoming_qos2
            .remove(&ack.packet_id.get());
        let reason = if released {
            PublishAck2Reason::Success
        } else {
            PublishAck2Reason::PacketIdNotFound
        };
        self.send(Packet::PublishComplete(wire::ack2(ack.packet_id, reason)));
    }

    /// Records that a persisted message needs no more delivery.
    fn delivered(&mut self, message: &Outgoing) {
        if message.seq != 0 && self.inner.store.is_some() {
            self.pending_records.push(Record::Dequeue {
                namespace: self.session.key.namespace.to_string(),
                client_id: self.session.key.client_id.clone(),
                seq: message.seq,
            });
        }
    }

    async fn on_subscribe(&mut self, subscribe: Subscribe) -> Result<(), Ending> {
        let namespace = self.principal.namespace_arc().clone();
        let mut status = Vec::with_capacity(subscribe.topic_filters.len());
        let mut retained = Vec::new();
        for (filter, options) in &subscribe.topic_filters {
            let Some(spec) = parse_filter(filter) else {
                status.push(SubscribeAckReason::TopicFilterInvalid);
                continue;
            };
            if spec.group.is_some() && options.no_local {
                return Err(Ending::violation(
                    DisconnectReasonCode::ProtocolError,
                    "no-local on a shared subscription",
                ));
            }
            if !self
                .inner
                .hooks
                .acl
                .allowed(&self.principal, spec.filter, Action::Subscribe)
            {
                status.push(SubscribeAckReason::NotAuthorized);
                continue;
            }
            let entry = SubscriptionEntry {
                options: *options,
                id: subscribe.id,
            };
            let existed = self
                .session
                .state
                .lock()
                .subscriptions
                .insert(filter.clone(), entry)
                .is_some();
            self.inner
                .router
                .subscribe(&namespace, spec, &self.session, *options, subscribe.id);
            status.push(match options.qos {
                QoS::AtMostOnce => SubscribeAckReason::GrantedQos0,
                QoS::AtLeastOnce => SubscribeAckReason::GrantedQos1,
                QoS::ExactlyOnce => SubscribeAckReason::GrantedQos2,
            });
            let wants_retained = match options.retain_handling {
                RetainHandling::AtSubscribe => true,
                RetainHandling::AtSubscribeNew => !existed,
                RetainHandling::NoAtSubscribe => false,
            };
            if spec.group.is_none() && wants_retained {
                for publication in self.inner.retained.matching(&namespace, spec.filter) {
                    retained.push(Outgoing {
                        qos: publication.message.qos.min(options.qos),
                        publication,
                        retain: true,
                        subscription_ids: subscribe.id.into_iter().collect(),
                        seq: 0,
                    });
                }
            }
        }
        self.persist_session().await;
        self.send(Packet::SubscribeAck(SubscribeAck {
            packet_id: subscribe.packet_id,
            properties: Vec::new(),
            reason_string: None,
            status,
        }));
        let mut records = Vec::new();
        for outgoing in retained {
            self.inner.offer(&self.session, outgoing, &mut records);
        }
        self.inner.persist(records).await;
        Ok(())
    }

    async fn on_unsubscribe(&mut self, unsubscribe: Unsubscribe) -> Result<(), Ending> {
        let mut status = Vec::with_capacity(unsubscribe.topic_filters.len());
        for filter in &unsubscribe.topic_filters {
            let Some(spec) = parse_filter(filter) else {
                status.push(UnsubscribeAckReason::TopicFilterInvalid);
                continue;
            };
            let existed = self
                .session
                .state
                .lock()
                .subscriptions
                .remove(filter)
                .is_some();
            self.inner
                .router
                .unsubscribe(&self.session.key.namespace, spec, self.session.id);
            status.push(if existed {
                UnsubscribeAckReason::Success
            } else {
                UnsubscribeAckReason::NoSubscriptionExisted
            });
        }
        self.persist_session().await;
        self.send(Packet::UnsubscribeAck(UnsubscribeAck {
            packet_id: unsubscribe.packet_id,
            properties: Vec::new(),
            reason_string: None,
            status,
        }));
        Ok(())
    }

    /// Makes a persistent session's subscriptions durable.
    async fn persist_session(&mut self) {
        let record = session_record(&self.session, &mut self.session.state.lock());
        if let Err(error) = self
            .inner
            .persist_durably(record.into_iter().collect())
            .await
        {
            tracing::error!(%error, "could not persist subscriptions");
        }
    }

    fn on_disconnect(&mut self, disconnect: v5::Disconnect) -> Ending {
        if let Some(expiry) = disconnect.session_expiry_interval_secs {
            let mut state = self.session.state.lock();
            if state.expiry_secs == 0 && expiry > 0 {
                return Ending::violation(
                    DisconnectReasonCode::ProtocolError,
                    "session expiry set after zero",
                );
            }
            state.expiry_secs = expiry.min(self.inner.config.session_expiry_max_secs);
            let record = session_record(&self.session, &mut state);
            self.pending_records.extend(record);
        }
        Ending {
            reason: DisconnectReason::ClientDisconnect,
            code: None,
            text: None,
            publish_will: disconnect.reason_code == DisconnectReasonCode::DisconnectWithWillMessage,
        }
    }

    /// Moves queued messages into the write buffer within the in-flight window.
    fn pump(&mut self) {
        let now = now_ms();
        while self.wbuf.len() < WRITE_HIGH_WATER {
            let (outgoing, packet_id) = {
                let mut state = self.session.state.lock();
                let Some(front) = state.queue.front() else {
                    break;
                };
                if front.qos != QoS::AtMostOnce && state.inflight.len() >= self.send_window {
                    break;
                }
                let Some(outgoing) = state.queue.pop_front() else {
                    break;
                };
                let packet_id = if outgoing.qos == QoS::AtMostOnce
                    || outgoing.publication.remaining_expiry(now).is_err()
                {
                    None
                } else {
                    let Some(id) = state.allocate_packet_id() else {
                        state.queue.push_front(outgoing);
                        break;
                    };
                    state.inflight.insert(
                        id.get(),
                        Inflight {
                            message: outgoing.clone(),
                            phase: Phase::AwaitAck,
                        },
                    );
                    Some(id)
                };
                (outgoing, packet_id)
            };
            let Ok(remaining) = outgoing.publication.remaining_expiry(now) else {
                self.inner.stats.dropped(DropReason::Expired);
                self.delivered(&outgoing);
                continue;
            };
            if !self.send_publish(&outgoing, packet_id, false, remaining) {
                if let Some(id) = packet_id {
                    self.session.state.lock().inflight.remove(&id.get());
                }
                self.delivered(&outgoing);
            }
        }
    }

    /// Encodes one PUBLISH; false when it could not be (too large for the client).
    fn send_publish(
        &mut self,
        outgoing: &Outgoing,
        packet_id: Option<NonZeroU16>,
        dup: bool,
        remaining: Option<u32>,
    ) -> bool {
        let message = &outgoing.publication.message;
        let mut publish = outbound_publish(
            message,
            outgoing.qos,
            outgoing.retain,
            packet_id,
            remaining,
            &outgoing.subscription_ids,
        );
        publish.dup = dup;
        let applied = match self.outbound_aliases.as_mut() {
            Some(aliases) => aliases.apply(&mut publish),
            None => Applied::Unchanged,
        };
        match self
            .codec
            .encode(Packet::Publish(Box::new(publish)), &mut self.wbuf)
        {
            Ok(()) => {
                self.inner.stats.sent(outgoing.qos);
                true
            }
            Err(error) => {
                if let (Applied::Introduced(topic), Some(aliases)) =
                    (applied, self.outbound_aliases.as_mut())
                {
                    aliases.forget(&topic);
                }
                tracing::debug!(client = %self.client_id, %error, "message not sent");
                self.inner.stats.dropped(DropReason::TooLarge);
                false
            }
        }
    }

    /// Resends unacknowledged messages of a resumed session (DUP set) and pending PUBRELs.
    fn resend_inflight(&mut self) {
        let inflight: Vec<(u16, Inflight)> = self
            .session
            .state
            .lock()
            .inflight
            .iter()
            .map(|(id, f)| (*id, f.clone()))
            .collect();
        let now = now_ms();
        for (id, inflight) in inflight {
            let Some(packet_id) = NonZeroU16::new(id) else {
                continue;
            };
            match inflight.phase {
                Phase::AwaitAck => {
                    let remaining = inflight
                        .message
                        .publication
                        .remaining_expiry(now)
                        .unwrap_or(Some(1));
                    self.send_publish(&inflight.message, Some(packet_id), true, remaining);
                }
                Phase::AwaitComplete => {
                    self.send(Packet::PublishRelease(wire::ack2(
                        packet_id,
                        PublishAck2Reason::Success,
                    )));
                }
            }
        }
    }

    fn send(&mut self, packet: Packet) {
        if let Err(error) = self.codec.encode(packet, &mut self.wbuf) {
            tracing::debug!(client = %self.client_id, %error, "packet not sent");
        }
    }

    fn presence(&self, kind: PresenceKind) {
        if let Some(hook) = &self.inner.hooks.presence {
            hook.on_presence(PresenceEvent {
                kind,
                client_id: self.client_id.to_string(),
                principal: self.principal.clone(),
                protocol: self.codec.version(),
                peer: self.peer,
            });
        }
    }

    /// Says goodbye, publishes the will if due, detaches the session and reports presence.
    async fn finish<W: AsyncWrite + Unpin>(mut self: Box<Self>, ending: Ending, writer: &mut W) {
        if self.is_v5()
            && let Some(code) = ending.code
        {
            self.send(Packet::Disconnect(wire::disconnect(code, ending.text)));
        }
        if !self.wbuf.is_empty() {
            let farewell = async {
                writer.write_all(&self.wbuf).await?;
                writer.flush().await
            };
            let _ = tokio::time::timeout(FAREWELL_TIMEOUT, farewell).await;
        }
        if !self.pending_records.is_empty() {
            self.inner
                .persist(std::mem::take(&mut self.pending_records))
                .await;
        }
        if ending.publish_will
            && let Some(will) = self.will.take()
        {
            self.publish_will(&will).await;
        }
        let records = self.inner.detach(&self.session, self.generation);
        self.inner.persist(records).await;
        self.presence(PresenceKind::Disconnected(ending.reason));
    }

    /// Publishes the will now, or after its delay unless the session is resumed first.
    async fn publish_will(&mut self, will: &LastWill) {
        let (expiry, epoch) = {
            let state = self.session.state.lock();
            (state.expiry_secs, state.offline_epoch)
        };
        let delay = will.will_delay_interval_sec.unwrap_or(0).min(expiry);
        let namespace = self.principal.namespace_arc().clone();
        let publication = Publication::new(will_message(will), self.session.id);
        if delay == 0 {
            if let Err(error) = self.inner.route(&namespace, publication).await {
                tracing::error!(%error, "will not durable");
            }
            return;
        }
        let inner = self.inner.clone();
        let session = self.session.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(u64::from(delay))).await;
            let resumed = {
                let state = session.state.lock();
                // Detach bumps the epoch once after this point; a resume bumps it again.
                state.link.is_some() || state.offline_epoch > epoch + 1 || state.superseded
            };
            if !resumed && let Err(error) = inner.route(&namespace, publication).await {
                tracing::error!(%error, "will not durable");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    /// Idle connections are many: what each one holds while waiting must stay small.
    #[tokio::test]
    async fn an_idle_connection_holds_little() {
        let config = crate::BrokerConfig::default();
        let broker = crate::Broker::start(config, crate::Hooks::new(crate::AllowAll::new("x")))
            .await
            .unwrap();
        let (io, _peer_side) = tokio::io::duplex(64);
        let connection = super::run(broker.inner_for_tests(), io, "127.0.0.1:1".parse().unwrap());
        let future_size = std::mem::size_of_val(&connection);
        assert!(
            future_size <= 1024,
            "connection future is {future_size} bytes"
        );
        let state_size = std::mem::size_of::<super::Connection>();
        assert!(state_size <= 384, "connection state is {state_size} bytes");
    }
}
