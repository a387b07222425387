//! The configuration of `wanwu serve`: defaults, overridden by the TOML file given with
//! `--config`, overridden by command-line flags and `WANWU_*` variables. Each subsystem has
//! its own section; unknown keys are refused so that typos do not pass silently.
//!
//! ```toml
//! data = "./wanwu-data"
//!
//! [http]
//! listen = "127.0.0.1:8080"
//! max_body_bytes = 2097152
//!
//! [mqtt]
//! listen = "127.0.0.1:1883"
//! allow_anonymous = false
//! max_connections = 1000000
//! max_packet_size = 1048576
//! receive_maximum = 64
//! max_queued_messages = 1000
//! publish_rate_per_second = 0   # 0: unlimited
//! publish_burst = 100
//! session_expiry_max_secs = 604800
//!
//! [tsdb]
//! fsync = "interval"          # "always" (group commit), "interval" or "never"
//! fsync_interval_ms = 100
//! partition_hours = 24
//! retention_days = 0          # 0 keeps telemetry forever
//! max_buckets = 100000
//! max_future_skew_s = 300
//! max_batch_points = 1000
//!
//! [tsdb.product_retention_days]  # per product, over retention_days (at least 1 day)
//! # "aq" = 30                   # product aq in every tenant
//! # "t2/aq" = 90                # product aq of tenant t2
//!
//! [ws]
//! queue = 1024                # frames held per live-data socket; a full queue closes it (4008)
//! max_subscriptions = 64      # subscriptions per live-data socket
//!
//! [log]
//! filter = "info"
//! ```

use anyhow::Context;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use wanwu_core::tsdb::FsyncPolicy;
use wanwu_core::{IngestConfig, TelemetryOptions};

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Data directory.
    pub data: PathBuf,
    /// HTTP API and console.
    pub http: HttpConfig,
    /// MQTT listener.
    pub mqtt: MqttConfig,
    /// Telemetry storage and ingest limits.
    pub tsdb: TsdbConfig,
    /// The live-data WebSocket.
    pub ws: WsConfig,
    /// Logging.
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data: PathBuf::from("./wanwu-data"),
            http: HttpConfig::default(),
            mqtt: MqttConfig::default(),
            tsdb: TsdbConfig::default(),
            ws: WsConfig::default(),
            log: LogConfig::default(),
        }
    }
}

/// `[http]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: wanwu_api::ApiConfig::default().max_body_bytes,
        }
    }
}

/// `[mqtt]`: the listener and the broker's limits. Sessions and retained messages live in
/// `DATA/mqtt`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Lets clients without credentials in as app clients of tenant `default`.
    pub allow_anonymous: bool,
    /// Most simultaneous connections; more are refused with "server busy".
    pub max_connections: usize,
    /// Largest MQTT packet accepted, in bytes.
    pub max_packet_size: u32,
    /// QoS 1/2 messages in flight per direction and session.
    pub receive_maximum: u16,
    /// Messages queued per session beyond the in-flight window (QoS 0 dropped first).
    pub max_queued_messages: usize,
    /// Sustained publishes per second and client; 0 means unlimited.
    pub publish_rate_per_second: f64,
    /// Burst of publishes per client above the sustained rate.
    pub publish_burst: u32,
    /// Longest session expiry granted, in seconds.
    pub session_expiry_max_secs: u32,
}

impl Default for MqttConfig {
    fn default() -> Self {
        let broker = wanwu_mqtt::BrokerConfig::default();
        MqttConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 1883)),
            allow_anonymous: false,
            max_connections: broker.max_connections,
            max_packet_size: broker.max_packet_size,
            receive_maximum: broker.receive_maximum,
            max_queued_messages: broker.max_queued_messages,
            publish_rate_per_second: 0.0,
            publish_burst: 100,
            session_expiry_max_secs: broker.session_expiry_max_secs,
        }
    }
}

impl MqttConfig {
    /// Subdirectory of the data directory holding the broker's sessions and retained messages.
    pub const DATA_SUBDIR: &str = "mqtt";

    /// The broker's configuration, persisting under `data/mqtt`.
    pub fn broker_config(&self, data: &Path) -> wanwu_mqtt::BrokerConfig {
        let publish_rate = (self.publish_rate_per_second > 0.0).then_some(wanwu_mqtt::RateLimit {
            per_second: self.publish_rate_per_second,
            burst: self.publish_burst.max(1),
        });
        wanwu_mqtt::BrokerConfig {
            max_connections: self.max_connections,
            max_packet_size: self.max_packet_size,
            receive_maximum: self.receive_maximum.max(1),
            max_queued_messages: self.max_queued_messages,
            publish_rate,
            session_expiry_max_secs: self.session_expiry_max_secs,
            data_dir: Some(data.join(Self::DATA_SUBDIR)),
            ..wanwu_mqtt::BrokerConfig::default()
        }
    }
}

/// When the telemetry write-ahead log is fsynced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncMode {
    /// Before acknowledging (group commit): acknowledged data survives power loss.
    Always,
    /// Every `fsync_interval_ms` in the background: acknowledged data survives `kill -9`.
    Interval,
    /// Left to the OS: acknowledged data survives `kill -9`.
    Never,
}

/// `[tsdb]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TsdbConfig {
    /// Fsync policy of the write-ahead log.
    pub fsync: FsyncMode,
    /// Background fsync period with `fsync = "interval"`, in ms.
    pub fsync_interval_ms: u64,
    /// Width of a time partition (retention drops whole partitions), in hours.
    pub partition_hours: u64,
    /// How long telemetry is kept, in days; 0 keeps it forever.
    pub retention_days: u64,
    /// Most buckets one aggregation may produce.
    pub max_buckets: usize,
    /// How far in the future a device's timestamp may lie, in seconds.
    pub max_future_skew_s: u64,
    /// Most points one telemetry payload may carry (at most 1000).
    pub max_batch_points: usize,
    /// Retention per product in days (at least 1), over `retention_days`: `"aq"` names
    /// product `aq` in every tenant, `"t2/aq"` only in tenant `t2` (which wins).
    pub product_retention_days: BTreeMap<String, u64>,
}

impl Default for TsdbConfig {
    fn default() -> Self {
        let tsdb = wanwu_core::tsdb::Options::default();
        let ingest = IngestConfig::default();
        TsdbConfig {
            fsync: FsyncMode::Interval,
            fsync_interval_ms: 100,
            partition_hours: tsdb.partition.as_secs() / 3600,
            retention_days: 0,
            max_buckets: tsdb.max_buckets,
            max_future_skew_s: ingest.max_future_skew.as_secs(),
            max_batch_points: ingest.max_batch_points,
            product_retention_days: BTreeMap::new(),
        }
    }
}

impl TsdbConfig {
    /// The platform's telemetry options; refuses values out of range.
    pub fn options(&self) -> anyhow::Result<TelemetryOptions> {
        let max_points = wanwu_core::ingest::MAX_BATCH_POINTS;
        anyhow::ensure!(
            (1..=max_points).contains(&self.max_batch_points),
            "[tsdb] max_batch_points must be between 1 and {max_points}"
        );
        anyhow::ensure!(
            self.partition_hours >= 1,
            "[tsdb] partition_hours must be at least 1"
        );
        anyhow::ensure!(
            self.max_buckets >= 1,
            "[tsdb] max_buckets must be at least 1"
        );
        anyhow::ensure!(
            self.fsync_interval_ms >= 1,
            "[tsdb] fsync_interval_ms must be at least 1"
        );
        let fsync = match self.fsync {
            FsyncMode::Always => FsyncPolicy::Always,
            FsyncMode::Interval => {
                FsyncPolicy::Interval(Duration::from_millis(self.fsync_interval_ms))
            }
            FsyncMode::Never => FsyncPolicy::Never,
        };
        let mut tsdb = wanwu_core::tsdb::Options {
            fsync,
            partition: Duration::from_secs(self.partition_hours * 3600),
            max_buckets: self.max_buckets,
            ..wanwu_core::tsdb::Options::default()
        };
        if self.retention_days > 0 {
            tsdb.retention.default = Some(Duration::from_secs(self.retention_days * 86_400));
        }
        self.add_product_retention(&mut tsdb.retention)?;
        Ok(TelemetryOptions {
            tsdb,
            ingest: IngestConfig {
                max_batch_points: self.max_batch_points,
                max_future_skew: Duration::from_secs(self.max_future_skew_s),
            },
        })
    }
}

impl TsdbConfig {
    /// Adds `product_retention_days` to `retention`: each series of a device lives in the
    /// retention group of the device's product.
    fn add_product_retention(
        &self,
        retention: &mut wanwu_core::tsdb::Retention,
    ) -> anyhow::Result<()> {
        for (name, &days) in &self.product_retention_days {
            anyhow::ensure!(
                (1..=36_500).contains(&days),
                "[tsdb.product_retention_days] {name:?}: days must be between 1 and 36500"
            );
            let keep = Duration::from_secs(days * 86_400);
            let valid = |part: &str| !part.is_empty() && !part.contains('/');
            match name.split_once('/') {
                None if valid(name) => {
                    retention.groups_in_all_tenants.insert(name.clone(), keep);
                }
                Some((tenant, product)) if valid(tenant) && valid(product) => {
                    retention
                        .groups
                        .insert((tenant.to_owned(), product.to_owned()), keep);
                }
                _ => anyhow::bail!(
                    "[tsdb.product_retention_days] {name:?}: expected \"PRODUCT\" or \"TENANT/PRODUCT\""
                ),
            }
        }
        Ok(())
    }
}

/// `[ws]`: the live-data WebSocket at `/api/v1/ws`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WsConfig {
    /// Frames held for one socket; a socket whose queue fills up is closed with 4008.
    pub queue: usize,
    /// Most subscriptions open at once on one socket.
    pub max_subscriptions: usize,
}

impl Default for WsConfig {
    fn default() -> Self {
        let api = wanwu_api::ws::WsConfig::default();
        WsConfig {
            queue: api.queue,
            max_subscriptions: api.max_subscriptions,
        }
    }
}

impl WsConfig {
    /// The API's settings; a zero is refused.
    pub fn settings(&self) -> anyhow::Result<wanwu_api::ws::WsConfig> {
        anyhow::ensure!(
            self.queue > 0 && self.max_subscriptions > 0,
            "[ws] queue and max_subscriptions must be at least 1"
        );
        Ok(wanwu_api::ws::WsConfig {
            queue: self.queue,
            max_subscriptions: self.max_subscriptions,
        })
    }
}

/// `[log]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Filter in `tracing_subscriber::EnvFilter` syntax; `RUST_LOG` wins when set.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            filter: "info".into(),
        }
    }
}

impl Config {
    /// Reads a TOML configuration file.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--config {}: cannot read", path.display()))?;
        toml::from_str(&text).with_context(|| format!("--config {}: invalid", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_default_and_unknown_keys_are_refused() {
        let config: Config = toml::from_str("[http]\nlisten = \"0.0.0.0:9000\"\n").unwrap();
        assert_eq!(config.http.listen.port(), 9000);
        assert_eq!(config.mqtt.listen.port(), 1883);
        assert_eq!(config.data, PathBuf::from("./wanwu-data"));
        assert!(toml::from_str::<Config>("[http]\nlisen = \"0.0.0.0:9000\"\n").is_err());
    }

    #[test]
    fn tsdb_section_becomes_telemetry_options() {
        let options = Config::default().tsdb.options().unwrap();
        assert_eq!(
            options.tsdb.fsync,
            FsyncPolicy::Interval(Duration::from_millis(100))
        );
        assert_eq!(options.tsdb.retention.default, None);
        assert_eq!(options.ingest, IngestConfig::default());
        let config: Config = toml::from_str(
            "[tsdb]\nfsync = \"always\"\nretention_days = 30\nmax_future_skew_s = 10\n",
        )
        .unwrap();
        let options = config.tsdb.options().unwrap();
        assert_eq!(options.tsdb.fsync, FsyncPolicy::Always);
        assert_eq!(
            options.tsdb.retention.default,
            Some(Duration::from_secs(30 * 86_400))
        );
        assert_eq!(options.ingest.max_future_skew, Duration::from_secs(10));
        let too_big: Config = toml::from_str("[tsdb]\nmax_batch_points = 5000\n").unwrap();
        assert!(too_big.tsdb.options().is_err());
        assert!(toml::from_str::<Config>("[tsdb]\nfsync = \"sometimes\"\n").is_err());
    }

    #[test]
    fn product_retention_becomes_retention_groups() {
        let config: Config = toml::from_str(
            "[tsdb]\nretention_days = 365\n[tsdb.product_retention_days]\naq = 30\n\"t2/aq\" = 90\n",
        )
        .unwrap();
        let retention = config.tsdb.options().unwrap().tsdb.retention;
        let days = |d: u64| Some(Duration::from_secs(d * 86_400));
        assert_eq!(retention.of("default", "aq"), days(30));
        assert_eq!(retention.of("t2", "aq"), days(90));
        assert_eq!(retention.of("t2", "meter"), days(365));
        for bad in ["\"\" = 3", "\"a/b/c\" = 3", "\"/aq\" = 3", "aq = 0"] {
            let config: Config =
                toml::from_str(&format!("[tsdb.product_retention_days]\n{bad}\n")).unwrap();
            assert!(config.tsdb.options().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn mqtt_limits_reach_the_broker_with_its_data_under_the_data_dir() {
        let config: Config = toml::from_str(
            "[mqtt]\nmax_connections = 10\nreceive_maximum = 8\npublish_rate_per_second = 5.0\n",
        )
        .unwrap();
        let broker = config.mqtt.broker_config(Path::new("/var/wanwu"));
        assert_eq!(broker.max_connections, 10);
        assert_eq!(broker.receive_maximum, 8);
        assert_eq!(broker.publish_rate.map(|r| r.per_second), Some(5.0));
        assert_eq!(broker.data_dir, Some(PathBuf::from("/var/wanwu/mqtt")));
        let unlimited = Config::default().mqtt.broker_config(Path::new("d"));
        assert_eq!(unlimited.publish_rate, None);
    }
}
