//! One socket from upgrade to close: authentication (query token or first frame), then
//! client frames (subscribe, unsubscribe, ping) and data frames from the hub, until the
//! client leaves, the token is revoked, or the client falls behind.

use super::WsConfig;
use super::hub::{Hub, Registration, Route};
use super::protocol::{ClientFrame, CloseReason, FrameError, ServerFrame, SubscribeRequest};
use super::subscription::Subscription;
use crate::state::AppState;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, timeout};
use wanwu_core::{CoreError, Platform, Scope};
use wanwu_store::StoreError;

/// How long a client has to send its `auth` frame.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one frame may take to write before the client counts as too slow.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the close frame may take to write.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the token of an open socket is checked again (a revoked token closes it).
const RECHECK_INTERVAL: Duration = Duration::from_secs(30);
/// Longest close reason a WebSocket close frame carries, in bytes.
const MAX_REASON: usize = 123;

type Sink = SplitSink<WebSocket, Message>;
type Stream = SplitStream<WebSocket>;

/// Why a session ended.
enum End {
    /// The server closes the socket with this reason.
    Close(CloseReason, String),
    /// The client left or the connection broke.
    Gone,
}

/// What the client asked for in the upgrade request.
pub struct Opening {
    /// `?token=`
    pub token: Option<String>,
    /// `?tenant=`
    pub tenant: Option<String>,
}

/// Serves one upgraded socket until it closes.
pub async fn run(socket: WebSocket, state: AppState, hub: Arc<Hub>, opening: Opening) {
    let config = state.config.ws.clone();
    let (mut sink, mut stream) = socket.split();
    let end = match authenticate(&state.platform, &mut stream, opening).await {
        Err(end) => end,
        Ok((scope, token)) => {
            let session = Session {
                platform: &state.platform,
                config: &config,
                scope,
                token,
            };
            session.serve(&hub, &mut sink, &mut stream).await
        }
    };
    if let End::Close(reason, message) = end {
        metrics::counter!("wanwu_ws_closed_total", "reason" => reason.label()).increment(1);
        close(&mut sink, reason, &message).await;
    }
}

/// The scope and token of the socket: from the query, or from the first frame.
async fn authenticate(
    platform: &Platform,
    stream: &mut Stream,
    opening: Opening,
) -> Result<(Scope, String), End> {
    let (token, tenant) = match opening.token {
        Some(token) => (token, opening.tenant),
        None => first_frame_credentials(stream).await?,
    };
    let principal = platform
        .authenticate_api_token(&token)
        .await
        .ok_or_else(|| End::Close(CloseReason::Unauthorized, "unknown or revoked token".into()))?;
    let scope = platform
        .registry
        .scope(principal, tenant.as_deref())
        .await
        .map_err(|e| match e {
            CoreError::Internal(_) => {
                tracing::error!(error = %e, "WebSocket authentication failed");
                End::Close(CloseReason::Internal, "internal error".into())
            }
            other => End::Close(CloseReason::Forbidden, other.to_string()),
        })?;
    Ok((scope, token))
}

/// Waits for `{"type": "auth", "token": ..., "tenant": ...}` as the first frame.
async fn first_frame_credentials(stream: &mut Stream) -> Result<(String, Option<String>), End> {
    let unauthorized = |message: &str| End::Close(CloseReason::Unauthorized, message.into());
    let deadline = Instant::now() + AUTH_TIMEOUT;
    loop {
        let message = match timeout(deadline - Instant::now(), stream.next()).await {
            Err(_) => return Err(unauthorized("no auth frame in time")),
            Ok(None | Some(Err(_))) => return Err(End::Gone),
            Ok(Some(Ok(message))) => message,
        };
        let text = match message {
            Message::Text(text) => text,
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => return Err(End::Gone),
            Message::Binary(_) => {
                return Err(unauthorized("the first frame must be an auth frame"));
            }
        };
        return match serde_json::from_str::<ClientFrame>(&text) {
            Ok(ClientFrame::Auth { token, tenant }) => Ok((token, tenant)),
            _ => Err(unauthorized(
                "the first frame must be {\"type\":\"auth\",\"token\":...}",
            )),
        };
    }
}

struct Session<'a> {
    platform: &'a Platform,
    config: &'a WsConfig,
    scope: Scope,
    token: String,
}

impl Session<'_> {
    async fn serve(&self, hub: &Arc<Hub>, sink: &mut Sink, stream: &mut Stream) -> End {
        let (registration, mut frames) = hub.register(&self.scope.tenant, self.config.queue);
        let route = &registration.route;
        let ready = ServerFrame::Ready {
            tenant: &self.scope.tenant,
            role: self.scope.principal.role.as_str(),
            queue: self.config.queue,
            max_subscriptions: self.config.max_subscriptions,
        };
        if let Err(end) = write(sink, route, ready.to_text()).await {
            return end;
        }
        let mut recheck =
            tokio::time::interval_at(Instant::now() + RECHECK_INTERVAL, RECHECK_INTERVAL);
        loop {
            let outcome = tokio::select! {
                biased;
                () = route.overflowed() => Err(slow_consumer()),
                frame = frames.recv() => match frame {
                    Some(frame) => write(sink, route, frame).await,
                    None => Err(End::Gone),
                },
                message = stream.next() => match message {
                    Some(Ok(message)) => self.answer(&registration, sink, message).await,
                    Some(Err(_)) | None => Err(End::Gone),
                },
                _ = recheck.tick() => self.recheck().await,
            };
            if let Err(end) = outcome {
                return end;
            }
        }
    }

    /// Handles one client frame.
    async fn answer(
        &self,
        registration: &Registration,
        sink: &mut Sink,
        message: Message,
    ) -> Result<(), End> {
        let route = &registration.route;
        let text = match message {
            Message::Text(text) => text,
            Message::Close(_) => return Err(End::Gone),
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
            Message::Binary(_) => {
                let error = FrameError::new("invalid_frame", "frames are JSON text");
                return write(sink, route, error_frame(None, error)).await;
            }
        };
        let reply = match serde_json::from_str::<ClientFrame>(&text) {
            Err(e) => error_frame(None, FrameError::new("invalid_frame", e.to_string())),
            Ok(ClientFrame::Auth { .. }) => error_frame(
                None,
                FrameError::new("invalid_frame", "the socket is already authenticated"),
            ),
            Ok(ClientFrame::Ping {}) => ServerFrame::Pong {
                ts: wanwu_core::clock::now_ms(),
            }
            .to_text(),
            Ok(ClientFrame::Subscribe(request)) => self.subscribe(route, request).await,
            Ok(ClientFrame::Unsubscribe { id }) => unsubscribe(route, &id),
        };
        write(sink, route, reply).await
    }

    /// Starts a subscription whose devices, products and assets exist in the tenant.
    async fn subscribe(&self, route: &Route, request: SubscribeRequest) -> String {
        let id = request.id.clone();
        let refused = |error: FrameError| error_frame(Some(&id), error);
        let subscription = match Subscription::from_request(request) {
            Ok(subscription) => subscription,
            Err(error) => return refused(error),
        };
        if let Err(error) = self.check_room(route, &subscription) {
            return refused(error);
        }
        if let Err(error) = self.check_named(&subscription).await {
            return refused(error);
        }
        let kinds = subscription.kinds.kinds();
        {
            // Checked again under the lock: another frame of this socket cannot interleave,
            // but the check stays next to the change it guards.
            let mut subscriptions = route.subscriptions_mut();
            if subscriptions.iter().any(|s| *s.id == *id) {
                return refused(duplicate(&id));
            }
            subscriptions.push(subscription);
        }
        ServerFrame::Subscribed { id: &id, kinds }.to_text()
    }

    fn check_room(&self, route: &Route, subscription: &Subscription) -> Result<(), FrameError> {
        let subscriptions = route.subscriptions();
        if subscriptions.iter().any(|s| s.id == subscription.id) {
            return Err(duplicate(&subscription.id));
        }
        if subscriptions.len() >= self.config.max_subscriptions {
            return Err(FrameError::new(
                "too_many_subscriptions",
                format!(
                    "a socket holds at most {} subscriptions",
                    self.config.max_subscriptions
                ),
            ));
        }
        Ok(())
    }

    /// Fails with `not_found` listing every named device, product and asset that the
    /// tenant does not have.
    async fn check_named(&self, subscription: &Subscription) -> Result<(), FrameError> {
        let store = &self.platform.store;
        let tenant = &self.scope.tenant;
        let mut missing = serde_json::Map::new();
        let mut note = |entity: &str, id: &str| {
            if let serde_json::Value::Array(ids) = missing
                .entry(entity)
                .or_insert_with(|| serde_json::Value::Array(Vec::new()))
            {
                ids.push(id.into());
            }
        };
        for id in subscription.devices() {
            if !exists(store.get_device(tenant, id).await)? {
                note("devices", id);
            }
        }
        for id in subscription.products() {
            if !exists(store.get_product(tenant, id).await)? {
                note("products", id);
            }
        }
        for id in subscription.assets() {
            if !exists(store.get_asset(tenant, id).await)? {
                note("assets", id);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(FrameError::new(
            "not_found",
            "the subscription names devices, products or assets the tenant does not have",
        )
        .with_details(missing.into()))
    }

    /// Closes the socket when its token no longer authenticates.
    async fn recheck(&self) -> Result<(), End> {
        match self.platform.authenticate_api_token(&self.token).await {
            Some(_) => Ok(()),
            None => Err(End::Close(
                CloseReason::Unauthorized,
                "the token was revoked".into(),
            )),
        }
    }
}

/// Whether a store lookup found its entity; other store failures refuse the frame.
fn exists<T>(found: Result<T, StoreError>) -> Result<bool, FrameError> {
    match found {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound { .. }) => Ok(false),
        Err(e) => {
            tracing::error!(error = %e, "checking a WebSocket subscription");
            Err(FrameError::new(
                "internal",
                "internal error; see the server log",
            ))
        }
    }
}

fn duplicate(id: &str) -> FrameError {
    FrameError::new(
        "already_exists",
        format!("subscription {id} is open; unsubscribe it first"),
    )
}

fn unsubscribe(route: &Route, id: &str) -> String {
    let mut subscriptions = route.subscriptions_mut();
    let before = subscriptions.len();
    subscriptions.retain(|s| &*s.id != id);
    if subscriptions.len() == before {
        return error_frame(
            Some(id),
            FrameError::new("not_found", format!("no open subscription {id}")),
        );
    }
    ServerFrame::Unsubscribed { id }.to_text()
}

fn error_frame(id: Option<&str>, error: FrameError) -> String {
    ServerFrame::Error { id, error }.to_text()
}

fn slow_consumer() -> End {
    End::Close(
        CloseReason::SlowConsumer,
        "too slow: the queue of frames for this socket filled up".into(),
    )
}

/// Writes one text frame; gives up when the socket's queue overflows meanwhile or the
/// write takes longer than [`WRITE_TIMEOUT`].
async fn write(sink: &mut Sink, route: &Route, text: String) -> Result<(), End> {
    tokio::select! {
        biased;
        () = route.overflowed() => Err(slow_consumer()),
        sent = timeout(WRITE_TIMEOUT, sink.send(Message::Text(text.into()))) => match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Gone),
            Err(_) => Err(slow_consumer()),
        },
    }
}

/// Sends the close frame (code and reason), waiting at most [`CLOSE_TIMEOUT`].
async fn close(sink: &mut Sink, reason: CloseReason, message: &str) {
    let frame = CloseFrame {
        code: reason.code(),
        reason: Utf8Bytes::from(truncate(message, MAX_REASON)),
    };
    let _ = timeout(CLOSE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
}

/// `text` cut to at most `max` bytes at a character boundary.
fn truncate(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_close_frame() {
        assert_eq!(truncate("abc", 2), "ab");
        assert_eq!(truncate("ab", 10), "ab");
        let long = "é".repeat(100);
        let cut = truncate(&long, MAX_REASON);
        assert!(cut.len() <= MAX_REASON && cut.chars().all(|c| c == 'é'));
    }
}
