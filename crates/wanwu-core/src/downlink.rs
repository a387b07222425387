//! The way back down to devices: messages the platform publishes to them (command
//! requests, shadow deltas and answers, error reports). The broker is attached once it has
//! started; until then, and on a platform without MQTT, sending fails with
//! [`DownlinkError::Unavailable`].

use std::sync::OnceLock;
use wanwu_mqtt::{Broker, Message, QoS};

/// Why a downlink message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum DownlinkError {
    /// No broker is attached (not started yet, or the platform runs without MQTT).
    #[error("no MQTT broker is running")]
    Unavailable,
    /// The broker refused the message.
    #[error("the broker refused the message: {0}")]
    Refused(String),
}

/// Publishes to devices through the attached broker.
#[derive(Debug, Default)]
pub struct Downlink {
    broker: OnceLock<Broker>,
}

impl Downlink {
    /// Attaches the running broker; a second broker is refused (returns `false`).
    pub fn attach(&self, broker: Broker) -> bool {
        self.broker.set(broker).is_ok()
    }

    /// The attached broker, for transports that hand connections to it (MQTT over
    /// WebSocket).
    pub fn broker(&self) -> Option<&Broker> {
        self.broker.get()
    }

    /// Publishes `message` inside `tenant`'s topic namespace; returns how many sessions it
    /// was queued for. With QoS 1 it returns once the message is durable for offline
    /// persistent sessions.
    pub async fn publish(&self, tenant: &str, message: Message) -> Result<usize, DownlinkError> {
        let broker = self.broker.get().ok_or(DownlinkError::Unavailable)?;
        broker
            .publish(tenant, message)
            .await
            .map_err(|e| DownlinkError::Refused(e.to_string()))
    }

    /// Publishes a JSON document on `devices/{device}/{suffix}` of `tenant` with QoS 1.
    pub async fn publish_to_device(
        &self,
        tenant: &str,
        device: &str,
        suffix: &str,
        body: &serde_json::Value,
    ) -> Result<usize, DownlinkError> {
        let message = Message::new(format!("devices/{device}/{suffix}"), body.to_string())
            .with_qos(QoS::AtLeastOnce);
        self.publish(tenant, message).await
    }
}
