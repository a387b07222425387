//! What every handler shares.

use metrics_exporter_prometheus::PrometheusHandle;
use wanwu_core::Platform;

/// Settings of the HTTP API.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Largest request body accepted, in bytes (larger bodies get 413).
    pub max_body_bytes: usize,
    /// The live-data WebSocket.
    pub ws: crate::ws::WsConfig,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_body_bytes: 2 * 1024 * 1024,
            ws: crate::ws::WsConfig::default(),
        }
    }
}

/// The state of the HTTP API: the platform and the metrics recorder's handle.
#[derive(Clone)]
pub struct AppState {
    /// The platform.
    pub platform: Platform,
    /// Renders `/metrics`; `None` when no recorder is installed.
    pub metrics: Option<PrometheusHandle>,
    /// Settings.
    pub config: ApiConfig,
}
