//! One simulated device on MQTT: connects with its id and token, publishes a step of
//! telemetry (and its events) at every tick, answers commands on
//! `devices/{id}/replies/{command_id}`, takes desired state from `devices/{id}/shadow/delta`
//! (and the answer to `shadow/get`) and reports it on `devices/{id}/shadow/reported`.
//!
//! Two tasks per device: the network pump owns the MQTT event loop and only forwards; the
//! driver owns the device and decides everything. They talk over a small bounded channel.

use crate::device::SimDevice;
use crate::stats::{Stats, bump};
use rumqttc::{
    AsyncClient, Event, MqttOptions, Outgoing, Packet, PubAckReason, PublishOptions, QoS,
};
use serde_json::Value as Json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep};

/// Requests (publishes, subscribes) a device may have queued in its client.
const REQUEST_CAPACITY: usize = 64;
/// Incoming messages waiting for the driver.
const INCOMING_CAPACITY: usize = 32;
/// Most unacknowledged QoS 1 messages per device. The client sizes its tracking tables by
/// this (and by the broker's receive maximum, up to 65,535, when unset: megabytes per device).
const MAX_INFLIGHT: u16 = 32;
/// Longest wait before reconnecting.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How every session of a run connects and paces itself.
#[derive(Clone, Debug)]
pub(crate) struct SessionConfig {
    /// MQTT host.
    pub host: String,
    /// MQTT port.
    pub port: u16,
    /// QoS of telemetry and events.
    pub qos: QoS,
    /// Wall time between steps.
    pub step_wall: Duration,
    /// Keepalive, seconds.
    pub keep_alive_s: u16,
    /// How long to wait for acknowledgements when stopping.
    pub drain: Duration,
}

/// What the pump tells the driver.
enum FromNetwork {
    Connected,
    /// The broker acknowledged one of the session's subscriptions.
    Subscribed,
    Disconnected,
    Publish {
        topic: String,
        payload: Vec<u8>,
    },
}

/// What a device subscribes to on connecting, under its prefix.
const SUBSCRIPTIONS: [&str; 4] = ["commands/+", "shadow/delta", "shadow", "errors"];

/// The topics of one device.
struct Topics {
    prefix: String,
}

impl Topics {
    fn new(id: &str) -> Topics {
        Topics {
            prefix: format!("devices/{id}/"),
        }
    }

    fn at(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }
}

/// Runs `device` with `token` until `stop` turns true, ticking from `first_tick`.
pub(crate) async fn run_session(
    mut device: SimDevice,
    token: String,
    first_tick: Instant,
    config: Arc<SessionConfig>,
    stats: Arc<Stats>,
    mut stop: watch::Receiver<bool>,
) {
    let id = device.id().to_owned();
    let mut options = MqttOptions::new(id.clone(), (config.host.clone(), config.port));
    options
        .set_credentials(id.clone(), token)
        .set_keep_alive(config.keep_alive_s)
        .set_clean_start(true)
        .set_outgoing_inflight_upper_limit(MAX_INFLIGHT);
    let (client, eventloop) = AsyncClient::builder(options)
        .capacity(REQUEST_CAPACITY)
        .build();
    let (to_driver, mut from_network) = mpsc::channel(INCOMING_CAPACITY);
    let stopping = Arc::new(AtomicBool::new(false));
    let mut pump = tokio::spawn(pump(eventloop, to_driver, stats.clone(), stopping.clone()));

    let topics = Topics::new(&id);
    let mut ticker = interval_at(first_tick, config.step_wall);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut driver = Driver {
        client: &client,
        topics: &topics,
        stats: &stats,
        qos: config.qos,
        connected: false,
        awaiting_subacks: 0,
    };
    while !*stop.borrow() {
        tokio::select! {
            changed = stop.changed() => if changed.is_err() { break },
            _ = ticker.tick() => driver.step(&mut device),
            Some(message) = from_network.recv() => driver.on_network(&mut device, message),
        }
    }
    stopping.store(true, Ordering::Relaxed);
    let _ = client.try_disconnect_with_timeout(config.drain);
    if tokio::time::timeout(config.drain + Duration::from_secs(2), &mut pump)
        .await
        .is_err()
    {
        pump.abort();
    }
}

/// The deciding half of a session.
struct Driver<'a> {
    client: &'a AsyncClient,
    topics: &'a Topics,
    stats: &'a Stats,
    qos: QoS,
    connected: bool,
    /// Subscriptions not yet acknowledged since connecting: the twin is asked for once they
    /// all are, so that its answer has a subscription to arrive on (the client may send the
    /// request before the SUBSCRIBE packets).
    awaiting_subacks: usize,
}

impl Driver<'_> {
    fn publish(&self, topic: String, payload: Vec<u8>, qos: QoS) -> bool {
        if !self.connected {
            self.stats.drop_message();
            return false;
        }
        match self
            .client
            .try_publish(topic, payload, PublishOptions::new(qos))
        {
            Ok(()) => true,
            Err(_) => {
                self.stats.drop_message();
                false
            }
        }
    }

    fn step(&self, device: &mut SimDevice) {
        let tick = device.tick();
        if self.publish(
            self.topics.at("telemetry"),
            tick.telemetry_payload(),
            self.qos,
        ) {
            bump(&self.stats.telemetry_sent);
        }
        for event in &tick.events {
            let topic = self.topics.at(&format!("events/{}", event.name));
            if self.publish(topic, tick.event_payload(event), self.qos) {
                bump(&self.stats.events_sent);
            }
        }
    }

    fn report(&self, device: &SimDevice) {
        let reported = device.reported();
        if reported.is_empty() {
            return;
        }
        let payload = Json::Object(reported).to_string().into_bytes();
        if self.publish(self.topics.at("shadow/reported"), payload, QoS::AtLeastOnce) {
            bump(&self.stats.reports_sent);
        }
    }

    fn on_network(&mut self, device: &mut SimDevice, message: FromNetwork) {
        match message {
            FromNetwork::Connected => {
                self.connected = true;
                self.awaiting_subacks = 0;
                for suffix in SUBSCRIPTIONS {
                    match self
                        .client
                        .try_subscribe(self.topics.at(suffix), QoS::AtLeastOnce)
                    {
                        Ok(()) => self.awaiting_subacks += 1,
                        Err(_) => self.stats.drop_message(),
                    }
                }
                self.report(device);
            }
            FromNetwork::Subscribed => {
                self.awaiting_subacks = self.awaiting_subacks.saturating_sub(1);
                if self.awaiting_subacks == 0 {
                    self.publish(
                        self.topics.at("shadow/get"),
                        b"{}".to_vec(),
                        QoS::AtLeastOnce,
                    );
                }
            }
            FromNetwork::Disconnected => self.connected = false,
            FromNetwork::Publish { topic, payload } => {
                let Some(rest) = topic.strip_prefix(&self.topics.prefix) else {
                    return;
                };
                if let Some(name) = rest.strip_prefix("commands/") {
                    bump(&self.stats.commands_received);
                    if let Some(reply) = device.handle_command(name, &payload) {
                        let topic = self.topics.at(&format!("replies/{}", reply.command_id));
                        if self.publish(
                            topic,
                            reply.body.to_string().into_bytes(),
                            QoS::AtLeastOnce,
                        ) {
                            bump(&self.stats.replies_sent);
                        }
                    }
                } else if rest == "shadow/delta" || rest == "shadow" {
                    bump(&self.stats.desired_received);
                    if !device.apply_desired(&payload).applied.is_empty() {
                        self.report(device);
                    }
                } else if rest == "errors" {
                    bump(&self.stats.platform_errors);
                    tracing::debug!(device = device.id(), error = %String::from_utf8_lossy(&payload), "platform reported an error");
                }
            }
        }
    }
}

/// Polls the MQTT event loop: forwards connection changes and incoming publishes, counts
/// acknowledgements, reconnects with backoff, ends on DISCONNECT or when stopping.
async fn pump(
    mut eventloop: rumqttc::EventLoop,
    to_driver: mpsc::Sender<FromNetwork>,
    stats: Arc<Stats>,
    stopping: Arc<AtomicBool>,
) {
    let mut connected = false;
    let mut backoff = Duration::from_millis(500);
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                connected = true;
                backoff = Duration::from_millis(500);
                bump(&stats.connections);
                stats.online.fetch_add(1, Ordering::Relaxed);
                let _ = to_driver.send(FromNetwork::Connected).await;
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let message = FromNetwork::Publish {
                    topic: String::from_utf8_lossy(&publish.topic).into_owned(),
                    payload: publish.payload.to_vec(),
                };
                if to_driver.try_send(message).is_err() {
                    stats.drop_message();
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                let _ = to_driver.send(FromNetwork::Subscribed).await;
            }
            Ok(Event::Incoming(Packet::PubAck(ack))) => match ack.reason {
                PubAckReason::Success | PubAckReason::NoMatchingSubscribers => bump(&stats.acked),
                _ => bump(&stats.rejected),
            },
            Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(error) => {
                if connected {
                    connected = false;
                    stats.online.fetch_sub(1, Ordering::Relaxed);
                    let _ = to_driver.send(FromNetwork::Disconnected).await;
                }
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                bump(&stats.connection_errors);
                tracing::debug!(%error, "device connection failed; retrying in {backoff:?}");
                sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    if connected {
        stats.online.fetch_sub(1, Ordering::Relaxed);
    }
}
