//! Device messages into the platform: a device's publish on one of its up topics becomes a
//! [`DeviceUplink`](crate::uplink::DeviceUplink) for [`Platform::handle_uplink`]. A refusal
//! is reported to the device on `devices/{id}/errors` and answers the publish with its
//! reason code (MQTT 5 clients see it in PUBACK/PUBREC). Application messages and devices'
//! other topics are routed unchanged.
//!
//! Telemetry messages a device pipelined (consecutive in one batch from the broker) go to
//! [`Platform::handle_telemetry`] together: one store write for all of them, each still
//! accepted or refused on its own.

use super::identity::ClientIdentity;
use super::topics::{parse_uplink, split_device_topic};
use crate::Platform;
use crate::auth::DevicePrincipal;
use crate::uplink::{DeviceUplink, Disposition, Refusal};
use wanwu_mqtt::{HookFuture, Message, PublishHook, PublishVerdict, Publisher, ReasonCode};

/// Hands device uplinks to the platform.
#[derive(Clone)]
pub struct UplinkHook {
    platform: Platform,
}

impl UplinkHook {
    /// A hook feeding `platform`.
    pub fn new(platform: Platform) -> Self {
        UplinkHook { platform }
    }

    async fn dispatch(&self, device: &DevicePrincipal, message: &Message) -> PublishVerdict {
        let Some((id, suffix)) = split_device_topic(&message.topic) else {
            return PublishVerdict::Route;
        };
        let Some(uplink) = parse_uplink(suffix, &message.payload) else {
            return PublishVerdict::Route;
        };
        if id != device.device {
            // The ACL lets a device publish only under its own id; never speak for another.
            return PublishVerdict::Refuse {
                code: ReasonCode::NOT_AUTHORIZED,
                reason: None,
            };
        }
        let kind = uplink.kind();
        let answer = self.platform.handle_uplink(device, uplink).await;
        self.verdict(device, message, kind, answer).await
    }

    /// Stores pipelined telemetry messages of `device` together.
    async fn telemetry(
        &self,
        device: &DevicePrincipal,
        messages: &[Message],
    ) -> Vec<PublishVerdict> {
        let payloads: Vec<&[u8]> = messages.iter().map(|m| &m.payload[..]).collect();
        let answers = self.platform.handle_telemetry(device, &payloads).await;
        let kind = DeviceUplink::Telemetry { payload: &[] }.kind();
        let mut verdicts = Vec::with_capacity(messages.len());
        for (message, answer) in messages.iter().zip(answers) {
            verdicts.push(self.verdict(device, message, kind, answer).await);
        }
        verdicts
    }

    /// The broker's verdict on a handled uplink; a refusal is counted and reported to the
    /// device first.
    async fn verdict(
        &self,
        device: &DevicePrincipal,
        message: &Message,
        kind: &'static str,
        answer: Result<Disposition, Refusal>,
    ) -> PublishVerdict {
        match answer {
            Ok(Disposition::Route) => PublishVerdict::Route,
            Ok(Disposition::Consumed) => PublishVerdict::Consumed,
            Err(refusal) => {
                metrics::counter!("wanwu_device_uplink_refused_total", "kind" => kind, "code" => refusal.code.clone())
                    .increment(1);
                self.platform
                    .report_refusal(device, &message.topic, &refusal)
                    .await;
                PublishVerdict::Refuse {
                    code: ReasonCode(refusal.reason_code),
                    reason: Some(refusal.message),
                }
            }
        }
    }
}

/// True when `message` is `device`'s own telemetry.
fn is_own_telemetry(device: &DevicePrincipal, message: &Message) -> bool {
    split_device_topic(&message.topic) == Some((device.device.as_str(), "telemetry"))
}

impl PublishHook for UplinkHook {
    fn on_publish<'a>(
        &'a self,
        publisher: Publisher<'a>,
        message: &'a Message,
    ) -> HookFuture<'a, PublishVerdict> {
        Box::pin(async move {
            match ClientIdentity::of(publisher.principal) {
                Some(ClientIdentity::Device(device)) => self.dispatch(device, message).await,
                _ => PublishVerdict::Route,
            }
        })
    }

    fn on_publish_batch<'a>(
        &'a self,
        publisher: Publisher<'a>,
        messages: &'a [Message],
    ) -> HookFuture<'a, Vec<PublishVerdict>> {
        Box::pin(async move {
            let Some(ClientIdentity::Device(device)) = ClientIdentity::of(publisher.principal)
            else {
                return vec![PublishVerdict::Route; messages.len()];
            };
            let mut verdicts = Vec::with_capacity(messages.len());
            let mut rest = messages;
            while let Some(first) = rest.first() {
                let run = rest
                    .iter()
                    .take_while(|m| is_own_telemetry(device, m))
                    .count();
                if run > 1 {
                    verdicts.extend(self.telemetry(device, &rest[..run]).await);
                    rest = &rest[run..];
                } else {
                    verdicts.push(self.dispatch(device, first).await);
                    rest = &rest[1..];
                }
            }
            verdicts
        })
    }
}
