//! MQTT over WebSocket at [`MQTT_WS_PATH`] on the HTTP port (subprotocol `mqtt`): the
//! upgraded socket is handed to the platform's broker.

use crate::error::ApiError;
use crate::state::AppState;
use axum::Extension;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

/// Path of MQTT over WebSocket.
pub const MQTT_WS_PATH: &str = "/mqtt";

/// Upgrades to WebSocket and serves MQTT; 503 while no broker runs.
pub async fn upgrade(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(broker) = state.platform.downlink.broker() else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "no MQTT broker is running",
        )
        .into_response();
    };
    let peer = peer.map_or(
        SocketAddr::from(([0, 0, 0, 0], 0)),
        |Extension(ConnectInfo(addr))| addr,
    );
    wanwu_mqtt::ws::upgrade(broker.clone(), upgrade, peer)
}
