//! The frames of the live-data WebSocket: what clients send, what the server answers, and
//! the close codes. Data frames are rendered by [`super::render`].

use serde::{Deserialize, Serialize};
use wanwu_core::NoticeKind;

/// What a client sends, as JSON text frames tagged by `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Authenticates the socket; the first frame unless the token was in the query.
    Auth {
        /// An API token.
        token: String,
        /// The tenant to act in; only the platform admin may name another than its own.
        #[serde(default)]
        tenant: Option<String>,
    },
    /// Starts a subscription.
    Subscribe(SubscribeRequest),
    /// Ends a subscription.
    Unsubscribe {
        /// The subscription's id.
        id: String,
    },
    /// Asks for a `pong` frame.
    Ping {},
}

/// `{"type": "subscribe", ...}`: which devices and which kinds of data.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeRequest {
    /// Id chosen by the client, unique among its open subscriptions; data frames name it.
    pub id: String,
    /// Devices by id.
    #[serde(default)]
    pub devices: Vec<String>,
    /// Every device of these products.
    #[serde(default)]
    pub products: Vec<String>,
    /// Every device under these assets (the asset or anywhere below it).
    #[serde(default)]
    pub assets: Vec<String>,
    /// Every device of the tenant.
    #[serde(default)]
    pub all: bool,
    /// Kinds of data; every kind when absent.
    #[serde(default)]
    pub kinds: Option<Vec<LiveKind>>,
}

/// A kind of live data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveKind {
    /// Stored telemetry, one frame per timestamp.
    Telemetry,
    /// Device events.
    Event,
    /// Connects and disconnects.
    Presence,
    /// Twin changes.
    Twin,
    /// Alarm changes.
    Alarm,
    /// Command status.
    Command,
}

impl LiveKind {
    /// Every kind, in protocol order.
    pub const ALL: [LiveKind; 6] = [
        LiveKind::Telemetry,
        LiveKind::Event,
        LiveKind::Presence,
        LiveKind::Twin,
        LiveKind::Alarm,
        LiveKind::Command,
    ];

    /// The name in frames (`"telemetry"`, `"event"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            LiveKind::Telemetry => "telemetry",
            LiveKind::Event => "event",
            LiveKind::Presence => "presence",
            LiveKind::Twin => "twin",
            LiveKind::Alarm => "alarm",
            LiveKind::Command => "command",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl From<NoticeKind> for LiveKind {
    fn from(kind: NoticeKind) -> Self {
        match kind {
            NoticeKind::Event => LiveKind::Event,
            NoticeKind::Presence => LiveKind::Presence,
            NoticeKind::Twin => LiveKind::Twin,
            NoticeKind::Alarm => LiveKind::Alarm,
            NoticeKind::Command => LiveKind::Command,
        }
    }
}

/// A set of [`LiveKind`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindSet(u8);

impl KindSet {
    /// Every kind.
    pub fn all() -> Self {
        LiveKind::ALL.into_iter().collect()
    }

    /// Whether `kind` is in the set.
    pub fn contains(self, kind: LiveKind) -> bool {
        self.0 & kind.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The kinds in protocol order.
    pub fn kinds(self) -> Vec<LiveKind> {
        LiveKind::ALL
            .into_iter()
            .filter(|k| self.contains(*k))
            .collect()
    }
}

impl FromIterator<LiveKind> for KindSet {
    fn from_iter<I: IntoIterator<Item = LiveKind>>(kinds: I) -> Self {
        KindSet(kinds.into_iter().fold(0, |bits, k| bits | k.bit()))
    }
}

/// What the server answers, as JSON text frames tagged by `type` (data frames aside).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    /// The socket is authenticated and may subscribe.
    Ready {
        /// The tenant the socket sees.
        tenant: &'a str,
        /// The token's role.
        role: &'a str,
        /// Frames the server holds for this socket before closing it as too slow.
        queue: usize,
        /// Most subscriptions open at once.
        max_subscriptions: usize,
    },
    /// A subscription started.
    Subscribed {
        /// Its id.
        id: &'a str,
        /// Its kinds.
        kinds: Vec<LiveKind>,
    },
    /// A subscription ended.
    Unsubscribed {
        /// Its id.
        id: &'a str,
    },
    /// Answer to `ping`.
    Pong {
        /// Server time, ms since the Unix epoch.
        ts: i64,
    },
    /// A frame was refused; nothing changed and the socket stays open.
    Error {
        /// The subscription the refused frame named, if any.
        id: Option<&'a str>,
        /// The error, shaped as in the REST API.
        error: FrameError,
    },
}

impl ServerFrame<'_> {
    /// The frame as JSON text.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"type":"error"}"#.into())
    }
}

/// An error in an `error` frame, shaped as in the REST API: `{"code", "message",
/// "details"}`.
pub type FrameError = crate::error::ErrorDetail;

/// Why the server closes a socket: the close code and reason it sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// 4001: no token, an unknown or revoked token, no `auth` frame in time, or a first
    /// frame other than `auth`.
    Unauthorized,
    /// 4003: the token may not see the tenant it named.
    Forbidden,
    /// 4008: the client did not read fast enough and its queue of frames filled up.
    SlowConsumer,
    /// 1011: the server failed.
    Internal,
}

impl CloseReason {
    /// The WebSocket close code.
    pub fn code(self) -> u16 {
        match self {
            CloseReason::Unauthorized => 4001,
            CloseReason::Forbidden => 4003,
            CloseReason::SlowConsumer => 4008,
            CloseReason::Internal => 1011,
        }
    }

    /// The label of `wanwu_ws_closed_total{reason}`.
    pub fn label(self) -> &'static str {
        match self {
            CloseReason::Unauthorized => "unauthorized",
            CloseReason::Forbidden => "forbidden",
            CloseReason::SlowConsumer => "slow_consumer",
            CloseReason::Internal => "internal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn client_frames_parse_and_unknown_fields_are_refused() {
        let frame: ClientFrame = serde_json::from_value(json!({
            "type": "subscribe", "id": "s1", "devices": ["d1"], "kinds": ["telemetry", "twin"]
        }))
        .unwrap();
        let ClientFrame::Subscribe(request) = frame else {
            panic!("not a subscribe frame")
        };
        assert_eq!(request.devices, ["d1"]);
        let kinds: KindSet = request.kinds.unwrap().into_iter().collect();
        assert!(kinds.contains(LiveKind::Twin) && !kinds.contains(LiveKind::Alarm));
        assert!(
            serde_json::from_value::<ClientFrame>(json!({"type": "ping", "x": 1})).is_err(),
            "unknown fields are refused"
        );
        assert!(
            serde_json::from_value::<ClientFrame>(json!({"type": "auth", "token": "t", "x": 1}))
                .is_err()
        );
        assert!(matches!(
            serde_json::from_value::<ClientFrame>(json!({"type": "ping"})),
            Ok(ClientFrame::Ping {})
        ));
        assert!(serde_json::from_value::<ClientFrame>(json!({"type": "nope"})).is_err());
        assert!(
            serde_json::from_value::<ClientFrame>(
                json!({"type": "subscribe", "id": "s", "kinds": ["weather"]})
            )
            .is_err()
        );
    }

    #[test]
    fn kind_sets_keep_protocol_order() {
        let set: KindSet = [LiveKind::Command, LiveKind::Telemetry]
            .into_iter()
            .collect();
        assert_eq!(set.kinds(), [LiveKind::Telemetry, LiveKind::Command]);
        assert_eq!(KindSet::all().kinds(), LiveKind::ALL);
        assert!(KindSet::default().is_empty());
    }

    #[test]
    fn server_frames_are_tagged_json() {
        let frame = ServerFrame::Error {
            id: Some("s1"),
            error: FrameError::new("not_found", "no device d9"),
        };
        let json: serde_json::Value = serde_json::from_str(&frame.to_text()).unwrap();
        assert_eq!(json["type"], "error");
        assert_eq!(json["id"], "s1");
        assert_eq!(json["error"]["code"], "not_found");
    }
}
