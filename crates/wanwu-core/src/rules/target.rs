//! What rule actions do on the platform: the [`ActionTarget`] over the twin service, the
//! broker, the ingest path and the command service (commands are queued: the action does
//! not wait for the reply). Each action that comes
//! back as an input notes its hop count in the [`HopLedger`] first.

use crate::Platform;
use crate::auth::DevicePrincipal;
use crate::commands::{CommandMode, SendCommand};
use crate::rules::hops::HopLedger;
use crate::rules::system_scope;
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use wanwu_model::Value;
use wanwu_mqtt::{Message, QoS};
use wanwu_rules::{ActionTarget, InputKind};

/// The platform as rule actions see it.
pub struct PlatformTarget {
    platform: Platform,
    hops: Arc<HopLedger>,
}

impl PlatformTarget {
    /// Actions on `platform`, noting hop counts in `hops`.
    pub fn new(platform: Platform, hops: Arc<HopLedger>) -> Self {
        PlatformTarget { platform, hops }
    }
}

fn qos(level: u8) -> QoS {
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

impl ActionTarget for PlatformTarget {
    async fn set_desired(
        &self,
        tenant: &str,
        device: &str,
        values: &Map<String, Json>,
        hops: u8,
    ) -> Result<(), String> {
        self.hops.note(tenant, device, InputKind::Twin, hops);
        self.platform
            .twins
            .patch_desired(
                &system_scope(tenant),
                device,
                &Json::Object(values.clone()),
                None,
            )
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn send_command(
        &self,
        tenant: &str,
        device: &str,
        name: &str,
        params: &Map<String, Json>,
        _hops: u8,
    ) -> Result<(), String> {
        let request = SendCommand {
            params: Json::Object(params.clone()),
            mode: CommandMode::Queue,
            timeout_ms: None,
            expires_at: None,
        };
        self.platform
            .commands
            .send_in(tenant, device, name, request)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn publish(
        &self,
        tenant: &str,
        topic: &str,
        payload: Vec<u8>,
        level: u8,
        retain: bool,
    ) -> Result<(), String> {
        let message = Message::new(topic.to_owned(), payload)
            .with_qos(qos(level))
            .with_retain(retain);
        self.platform
            .downlink
            .publish(tenant, message)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn write_telemetry(
        &self,
        tenant: &str,
        device: &str,
        ts: i64,
        values: &BTreeMap<String, Value>,
        hops: u8,
    ) -> Result<(), String> {
        let record = self
            .platform
            .registry
            .get_device(&system_scope(tenant), device)
            .await
            .map_err(|e| e.to_string())?;
        let principal = DevicePrincipal {
            tenant: tenant.to_owned(),
            device: device.to_owned(),
            product: record.product,
        };
        let payload = json!({"ts": ts, "values": values}).to_string();
        self.hops.note(tenant, device, InputKind::Telemetry, hops);
        self.platform
            .ingest
            .ingest(&principal, payload.as_bytes())
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}
