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
//!
//! [log]
//! filter = "info"
//! ```

use anyhow::Context;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
    /// Logging.
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data: PathBuf::from("./wanwu-data"),
            http: HttpConfig::default(),
            mqtt: MqttConfig::default(),
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

/// `[mqtt]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Lets clients without credentials in as app clients of tenant `default`.
    pub allow_anonymous: bool,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 1883)),
            allow_anonymous: false,
        }
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
}
