//! Live data over WebSocket at `GET /api/v1/ws`: clients subscribe to telemetry, events,
//! presence, twin changes, alarms and command status of devices, products or asset
//! subtrees, and the server pushes JSON frames.
//!
//! - [`protocol`]: the frames clients send and the server answers, and the close codes;
//! - [`subscription`]: what a subscription selects and how a message is matched;
//! - [`placement`]: each device's product and asset chain, cached;
//! - [`hub`]: one subscriber to the platform's telemetry and notices, routing to sockets,
//!   each behind a bounded queue;
//! - [`render`]: data frames as JSON text;
//! - [`session`]: one socket from upgrade to close.
//!
//! The protocol is documented on [`upgrade`] (the route's OpenAPI description) and in the
//! README.

pub mod hub;
pub mod placement;
pub mod protocol;
pub mod render;
pub mod session;
pub mod subscription;

pub use hub::Hub;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{Query, TENANT_HEADER};
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest frame a client may send, in bytes (larger ones close the socket with 1009).
pub const MAX_CLIENT_FRAME: usize = 64 * 1024;

/// Settings of the live-data WebSocket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsConfig {
    /// Frames held for one socket; a socket whose queue fills up is closed with 4008.
    pub queue: usize,
    /// Most subscriptions open at once on one socket.
    pub max_subscriptions: usize,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            queue: 1024,
            max_subscriptions: 64,
        }
    }
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upgrade))
}

/// Query of the upgrade request.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WsQuery {
    /// An API token; without it, the first frame must be `{"type": "auth", "token": ...}`.
    pub token: Option<String>,
    /// The tenant to act in (platform admin only); also taken from `X-Wanwu-Tenant`.
    pub tenant: Option<String>,
}

/// Live data over WebSocket.
///
/// **Authentication.** Give an API token (any role; viewers may subscribe) as `?token=`, or
/// send `{"type": "auth", "token": "...", "tenant": "t2"}` as the first frame within 10 s
/// (`tenant`, `?tenant=` or `X-Wanwu-Tenant` only for the platform admin acting for another
/// tenant). The server answers `{"type": "ready", "tenant": "default", "role": "viewer",
/// "queue": 1024, "max_subscriptions": 64}`. A socket sees only its tenant's devices; its token is checked
/// again every 30 s.
///
/// **Subscribing.** `{"type": "subscribe", "id": "s1", "devices": ["d1"], "products": ["aq"],
/// "assets": ["district-3"], "kinds": ["telemetry", "event", "presence", "twin", "alarm",
/// "command"]}` selects the devices named, every device of the products, and every device
/// under the assets (the asset or anywhere below it); `"all": true` selects every device of
/// the tenant. `kinds` defaults to every kind. The answer is `{"type": "subscribed", "id":
/// "s1", "kinds": [...]}`. `{"type": "unsubscribe", "id": "s1"}` answers `{"type":
/// "unsubscribed", "id": "s1"}`; `{"type": "ping"}` answers `{"type": "pong", "ts": ...}`.
///
/// **Data frames.** `{"type": "telemetry", "subscriptions": ["s1"], "device": "d1",
/// "product": "aq", "ts": 1700000000000, "values": {"pm25": 12.5}}` (one frame per
/// timestamp); `{"type": "event" | "presence" | "twin" | "alarm" | "command",
/// "subscriptions": ["s1"], "device": "d1", "ts": ..., "data": {...}}` where `data` is the
/// stored event, the presence change, the twin change (`{"version", "reported", "desired",
/// "delta"}` with the changed keys), the alarm or the command. `subscriptions` lists every
/// subscription of the socket that wants the message; each message is sent once.
///
/// **Errors.** A frame that is not valid JSON, has an unknown type or field, names devices,
/// products or assets the tenant does not have, reuses an open id, or exceeds the limits
/// (64 subscriptions, 1000 ids per subscription) gets `{"type": "error", "id": "s1",
/// "error": {"code", "message", "details"}}` and changes nothing; the socket stays open.
///
/// **Close codes.** 4001: no token, an unknown or revoked token, no auth frame within 10 s,
/// or a first frame that is not `auth`. 4003: the tenant named may not be seen with this
/// token. 4008: the client does not read fast enough and its queue of frames (`queue`)
/// filled up, or a frame could not be written for 30 s; the server drops the socket
/// instead of buffering without bound (counted in `wanwu_ws_closed_total{reason}`). 1009:
/// a client frame larger than 64 KiB. 1011: a server failure.
#[utoipa::path(get, path = "/ws", tag = "live", params(WsQuery), security(()),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = "4XX", body = ErrorBody, description = "Not a WebSocket upgrade request")))]
pub async fn upgrade(
    State(state): State<AppState>,
    Extension(hub): Extension<Arc<Hub>>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return ApiError::new(
                rejection.status(),
                "websocket_required",
                rejection.body_text(),
            )
            .into_response();
        }
    };
    let opening = session::Opening {
        token: query.token.filter(|t| !t.is_empty()),
        tenant: query
            .tenant
            .or_else(|| {
                let header = headers.get(TENANT_HEADER)?;
                header.to_str().ok().map(str::to_owned)
            })
            .filter(|t| !t.is_empty()),
    };
    upgrade
        .max_message_size(MAX_CLIENT_FRAME)
        .max_frame_size(MAX_CLIENT_FRAME)
        .on_upgrade(move |socket| session::run(socket, state, hub, opening))
}
