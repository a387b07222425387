//! Device messages into the platform: a device's publish on one of its up topics becomes a
//! [`DeviceUplink`](crate::uplink::DeviceUplink) for [`Platform::handle_uplink`]. A refusal
//! is reported to the device on `devices/{id}/errors` and answers the publish with its
//! reason code (MQTT 5 clients see it in PUBACK/PUBREC). Application messages and devices'
//! other topics are routed unchanged.

use super::identity::ClientIdentity;
use super::topics::{parse_uplink, split_device_topic};
use crate::Platform;
use crate::auth::DevicePrincipal;
use crate::uplink::Disposition;
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
        match self.platform.handle_uplink(device, uplink).await {
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
}
