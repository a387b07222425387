//! MQTT 3.1.1 and 5.0 broker library with hooks for authentication, ACL and publish interception.
//!
//! The broker knows nothing about devices: the embedding application supplies an
//! [`Authenticator`] (CONNECT -> [`Principal`] with a namespace, or a refusal), an [`Acl`],
//! an optional [`PublishHook`] (runs before routing; PUBACK/PUBREC is sent only once it
//! completes) and an optional [`PresenceHook`]. Every topic lives inside the principal's
//! namespace, so tenants never see each other's messages.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use wanwu_mqtt::{AllowAll, Broker, BrokerConfig, Hooks, Message};
//! let broker = Broker::start(BrokerConfig::default(), Hooks::new(AllowAll::new("default"))).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:1883").await?;
//! let serving = tokio::spawn({ let broker = broker.clone(); async move { broker.serve_tcp(listener).await } });
//! broker.publish("default", Message::new("greetings", "hello")).await?;
//! broker.shutdown().await;
//! # let _ = serving.await; Ok(()) }
//! ```
//!
//! # Protocol
//!
//! MQTT 3.1, 3.1.1 and 5.0 over TCP or any byte stream ([`Broker::serve_connection`]),
//! including WebSocket ([`ws`]). Framing is rmqtt-codec; MQTT 3.1.1 packets are lifted to
//! their MQTT 5 form so one state machine serves both versions. Supported: QoS 0/1/2 both
//! ways with an in-flight window (receive maximum) and redelivery on resume, clean start and
//! session expiry, takeover, keepalive (1.5x, bounded by the server keepalive), retained
//! messages, wills with will delay, `+`/`#` wildcards (`$` topics are not matched by a
//! leading wildcard), shared subscriptions `$share/{group}/{filter}` (round-robin: each
//! message goes to the next member in turn, live members first), topic aliases both ways
//! (outbound ones for clients that announce a Topic Alias Maximum: the first topics sent
//! get aliases, kept for the connection's life), message expiry, user properties, response
//! topic and correlation data, payload format and content type, subscription options
//! (no-local, retain-as-published, retain handling), subscription identifiers, maximum
//! packet size both ways, reason strings. Wills are not passed to the publish hook.
//!
//! Enhanced authentication (MQTT 5 AUTH) is not supported: credentials travel in CONNECT.
//! A CONNECT naming an Authentication Method is refused with CONNACK 0x8C (bad
//! authentication method), and an AUTH packet ends the connection as a protocol error.
//!
//! # Overload
//!
//! Each session's queue is bounded ([`BrokerConfig::max_queued_messages`]); when full,
//! queued QoS 0 messages are dropped first, then new messages. A slow subscriber only fills
//! its own queue; publishers never wait for it. A client over its publish rate is read more
//! slowly. Everything is counted with the `metrics` crate (`mqtt_connections`,
//! `mqtt_messages_received_total{qos}`, `mqtt_messages_sent_total{qos}`,
//! `mqtt_messages_dropped_total{reason}`, `mqtt_bytes_received_total`,
//! `mqtt_bytes_sent_total`, `mqtt_sessions`, `mqtt_retained_messages`,
//! `mqtt_publish_throttled_total`, `mqtt_connections_refused_total`).
//!
//! # Persistence
//!
//! With [`BrokerConfig::data_dir`] set, retained messages and persistent sessions
//! (subscriptions and queued QoS 1/2 messages) survive restarts and `kill -9`. A PUBACK or
//! PUBREC is sent only after what the message changed durably (the retained store, queues
//! of persistent sessions) is in the log per the [`FsyncPolicy`].
//!
//! The directory holds two files:
//!
//! - `wal`: an append-only log of records. Each record is a frame:
//!   `u32 LE body length | u32 LE CRC-32 of body | body`, the body being a postcard-encoded
//!   record: retained set/clear, session upsert (expiry, subscriptions), session drop,
//!   message enqueued (sequence number, message) and message dequeued (acknowledged).
//!   Every record is idempotent.
//! - `snapshot`: the same frames, describing the whole state; written to `snapshot.tmp`,
//!   fsynced and renamed over the old one, after which `wal` is emptied.
//!
//! Recovery reads the snapshot, then replays `wal` up to the first torn or corrupt frame
//! (cutting it off), and compacts. One writer thread appends in group commits: records
//! submitted while the previous write was in progress share one `write` and one
//! `fdatasync`. The log is compacted once it exceeds [`BrokerConfig::compact_after_bytes`]
//! and on shutdown. QoS 2 delivery state (PUBREL pending) is not persisted: after a
//! restart such a message is delivered again (at least once). A recovered session's expiry
//! timer starts at recovery.

mod alias;
mod broker;
mod config;
mod connection;
mod convert;
mod hooks;
mod message;
mod ratelimit;
mod retained;
mod router;
mod session;
mod stats;
mod store;
mod topic;
mod wire;
pub mod ws;

pub use broker::{Broker, BrokerError};
pub use config::{BrokerConfig, FsyncPolicy, RateLimit};
pub use hooks::{
    Acl, Action, AllowAll, Authenticator, ConnectInfo, DisconnectReason, HookFuture, Hooks,
    PermitAll, PresenceEvent, PresenceHook, PresenceKind, Principal, ProtocolVersion, PublishHook,
    PublishVerdict, Publisher, ReasonCode,
};
pub use message::{Message, MessageProperties, QoS};
pub use store::StoreError;
