//! Broker limits and persistence settings.

use std::path::PathBuf;
use std::time::Duration;

/// When the persistence log is flushed to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// `fdatasync` every group commit before acknowledging (survives power loss).
    Always,
    /// Write to the OS before acknowledging, `fdatasync` at most every interval
    /// (survives `kill -9` of the broker; a power loss may lose the last interval).
    Interval(Duration),
    /// Never fsync explicitly (survives `kill -9`, not a power loss).
    Never,
}

/// Per-client publish rate limit (token bucket). A client over its rate is slowed down
/// (the broker stops reading from it), never disconnected.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained messages per second.
    pub per_second: f64,
    /// Burst size in messages.
    pub burst: u32,
}

/// Limits and settings of a [`Broker`](crate::Broker).
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Maximum simultaneous client connections; more are refused with "server busy".
    pub max_connections: usize,
    /// Maximum size of an MQTT packet in bytes, inbound (announced to MQTT 5 clients).
    pub max_packet_size: u32,
    /// Receive maximum: QoS 1/2 messages in flight per direction and session.
    pub receive_maximum: u16,
    /// Maximum messages queued for one session (beyond the in-flight window); when full,
    /// queued QoS 0 messages are dropped first, then new messages are dropped and counted.
    pub max_queued_messages: usize,
    /// Per-client publish rate limit, if any.
    pub publish_rate: Option<RateLimit>,
    /// Smallest keepalive (seconds) accepted; lower values (including 0) are raised
    /// and announced to MQTT 5 clients as server keepalive.
    pub keepalive_min: u16,
    /// Largest keepalive (seconds) accepted; higher values are lowered likewise.
    pub keepalive_max: u16,
    /// Upper bound for session expiry intervals (seconds); MQTT 3.1.1 persistent
    /// sessions (clean session 0) get this value.
    pub session_expiry_max_secs: u32,
    /// Topic aliases accepted per MQTT 5 connection.
    pub topic_alias_maximum: u16,
    /// Time a new connection has to send CONNECT.
    pub connect_timeout: Duration,
    /// Maximum retained messages per namespace; further new retained topics are not kept.
    pub max_retained_per_namespace: usize,
    /// Directory for persistent sessions and retained messages; `None` keeps all in memory.
    pub data_dir: Option<PathBuf>,
    /// Flush policy of the persistence log.
    pub fsync: FsyncPolicy,
    /// Compact the persistence log into a snapshot once it grows past this many bytes.
    pub compact_after_bytes: u64,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            max_connections: 1_000_000,
            max_packet_size: 1024 * 1024,
            receive_maximum: 64,
            max_queued_messages: 1000,
            publish_rate: None,
            keepalive_min: 0,
            keepalive_max: 3600,
            session_expiry_max_secs: 7 * 24 * 3600,
            topic_alias_maximum: 64,
            connect_timeout: Duration::from_secs(10),
            max_retained_per_namespace: 100_000,
            data_dir: None,
            fsync: FsyncPolicy::Always,
            compact_after_bytes: 64 * 1024 * 1024,
        }
    }
}
