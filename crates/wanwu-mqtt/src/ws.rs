//! MQTT over WebSocket: an adapter from a WebSocket message stream to a byte stream.
//!
//! MQTT packets travel in binary frames (subprotocol `mqtt`); a frame may carry any part of
//! the byte stream. The HTTP server upgrades the request and hands the socket over:
//!
//! ```no_run
//! use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
//! use axum::response::Response;
//! use std::net::SocketAddr;
//! use wanwu_mqtt::Broker;
//!
//! async fn mqtt_over_websocket(
//!     State(broker): State<Broker>,
//!     ConnectInfo(peer): ConnectInfo<SocketAddr>,
//!     upgrade: WebSocketUpgrade,
//! ) -> Response {
//!     wanwu_mqtt::ws::upgrade(broker, upgrade, peer)
//! }
//! ```

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::Broker;

/// The WebSocket subprotocol MQTT clients ask for.
pub const SUBPROTOCOL: &str = "mqtt";

/// Accepts a WebSocket upgrade with subprotocol `mqtt` and serves MQTT over it.
pub fn upgrade(broker: Broker, upgrade: WebSocketUpgrade, peer: SocketAddr) -> Response {
    upgrade
        .protocols([SUBPROTOCOL])
        .on_upgrade(move |socket| async move { serve_websocket(&broker, socket, peer).await })
}

/// Serves MQTT over an upgraded WebSocket until the connection ends.
pub async fn serve_websocket(broker: &Broker, socket: WebSocket, peer: SocketAddr) {
    broker.serve_connection(WsIo::new(socket), peer).await;
}

/// A WebSocket seen as a byte stream: binary frames in, one binary frame per write out.
#[derive(Debug)]
pub struct WsIo<S> {
    inner: S,
    pending: Bytes,
}

impl<S> WsIo<S> {
    /// Wraps a WebSocket.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            pending: Bytes::new(),
        }
    }
}

fn other<E: std::fmt::Display>(error: E) -> io::Error {
    io::Error::other(error.to_string())
}

impl<S, E> AsyncRead for WsIo<S>
where
    S: Stream<Item = Result<Message, E>> + Unpin,
    E: std::fmt::Display,
{
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.pending.is_empty() {
            match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => self.pending = data,
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "MQTT needs binary frames",
                    )));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => return Poll::Ready(Ok(())),
                Some(Err(error)) => return Poll::Ready(Err(other(error))),
            }
        }
        let n = self.pending.len().min(buf.remaining());
        buf.put_slice(&self.pending[..n]);
        self.pending.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<S, E> AsyncWrite for WsIo<S>
where
    S: Sink<Message, Error = E> + Unpin,
    E: std::fmt::Display,
{
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(Pin::new(&mut self.inner).poll_ready(cx)).map_err(other)?;
        Pin::new(&mut self.inner)
            .start_send(Message::Binary(Bytes::copy_from_slice(buf)))
            .map_err(other)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx).map_err(other)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx).map_err(other)
    }
}
