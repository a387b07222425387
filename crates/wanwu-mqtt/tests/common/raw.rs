//! A raw MQTT 5 client over rmqtt-codec, for exact control of the bytes on the wire.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use rmqtt_codec::v5::{self, Connect, ConnectAck, DisconnectReasonCode, Packet};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::{Decoder, Encoder};

pub struct Raw {
    pub stream: TcpStream,
    buf: BytesMut,
    codec: v5::Codec,
}

/// A CONNECT for `client_id` as user `user` with the test password.
pub fn connect_packet(client_id: &str, user: &str) -> Connect {
    Connect {
        client_id: client_id.into(),
        username: Some(user.into()),
        password: Some(super::PASSWORD.into()),
        keep_alive: 60,
        clean_start: true,
        ..Connect::default()
    }
}

impl Raw {
    pub async fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self {
            stream,
            buf: BytesMut::new(),
            codec: v5::Codec::new(0, 0),
        }
    }

    /// Connects and returns the CONNACK.
    pub async fn connect(addr: SocketAddr, connect: Connect) -> (Self, Box<ConnectAck>) {
        let mut raw = Self::open(addr).await;
        raw.send(Packet::Connect(Box::new(connect))).await;
        match raw.recv().await {
            Some(Packet::ConnectAck(ack)) => (raw, ack),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    pub async fn send(&mut self, packet: Packet) {
        let mut out = BytesMut::new();
        self.codec.encode(packet, &mut out).expect("encodes");
        self.stream.write_all(&out).await.expect("write");
    }

    /// Sends `packets` in one write, as a client pipelining them.
    pub async fn send_together(&mut self, packets: Vec<Packet>) {
        let mut out = BytesMut::new();
        for packet in packets {
            self.codec.encode(packet, &mut out).expect("encodes");
        }
        self.stream.write_all(&out).await.expect("write");
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
    }

    /// The next packet within 5 s; `None` once the server closed the connection.
    pub async fn recv(&mut self) -> Option<Packet> {
        self.recv_within(Duration::from_secs(5))
            .await
            .expect("a packet or close within 5 s")
    }

    /// `Err(())` on timeout, `Ok(None)` on close.
    pub async fn recv_within(&mut self, wait: Duration) -> Result<Option<Packet>, ()> {
        tokio::time::timeout(wait, async {
            loop {
                if let Ok(Some((packet, _))) = self.codec.decode(&mut self.buf) {
                    return Some(packet);
                }
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        })
        .await
        .map_err(|_| ())
    }

    /// Reads until the server sends DISCONNECT; returns its reason code.
    pub async fn disconnect_reason(&mut self) -> DisconnectReasonCode {
        loop {
            match self.recv().await {
                Some(Packet::Disconnect(d)) => return d.reason_code,
                Some(_) => continue,
                None => panic!("closed without DISCONNECT"),
            }
        }
    }

    /// True when the server closes the connection within 5 s (skipping packets).
    pub async fn closed(&mut self) -> bool {
        loop {
            match self.recv_within(Duration::from_secs(5)).await {
                Ok(None) => return true,
                Ok(Some(_)) => continue,
                Err(()) => return false,
            }
        }
    }
}
