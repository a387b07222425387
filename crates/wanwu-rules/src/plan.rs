//! Turning compiled actions into planned ones: templates rendered, targets resolved, derived
//! values computed.

use crate::action::{PlannedAction, WebhookRequest};
use crate::compile::CompiledAction;
use crate::expr::{json_from_cel, model_from_cel};
use crate::template::Template;
use cel::Context;
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Where planned actions go and what they know.
pub(crate) struct Plan<'s> {
    pub tenant: String,
    /// The triggering device, if any.
    pub device: Option<String>,
    /// Time stamped on alarms and derived values.
    pub ts: i64,
    /// Hop count of what the actions cause.
    pub hops: u8,
    /// Template context; derived values are added under `derived`.
    pub context: Json,
    /// Scope for derived expressions.
    pub scope: Option<&'s Context<'s, 's>>,
}

impl Plan<'_> {
    /// Plans `actions` in order; actions that cannot be planned are reported and skipped.
    pub fn run(&mut self, actions: &[CompiledAction]) -> (Vec<PlannedAction>, Vec<String>) {
        let mut planned = Vec::with_capacity(actions.len());
        let mut errors = Vec::new();
        for (i, action) in actions.iter().enumerate() {
            match self.one(action, &mut planned) {
                Ok(()) => {}
                Err(e) => errors.push(format!("action {i}: {e}")),
            }
        }
        (planned, errors)
    }

    fn targets(&self, devices: &[String]) -> Result<Vec<String>, String> {
        if !devices.is_empty() {
            return Ok(devices.to_vec());
        }
        self.device
            .clone()
            .map(|d| vec![d])
            .ok_or_else(|| "no triggering device".to_owned())
    }

    fn device(&self, template: &Option<Template>) -> Result<String, String> {
        let device = match template {
            Some(t) => t.render(&self.context),
            None => self.device.clone().unwrap_or_default(),
        };
        if device.is_empty() {
            return Err("the alarm's device is empty".into());
        }
        Ok(device)
    }

    fn one(&mut self, action: &CompiledAction, out: &mut Vec<PlannedAction>) -> Result<(), String> {
        let tenant = self.tenant.clone();
        let hops = self.hops;
        match action {
            CompiledAction::SetDesired { devices, values } => {
                let values = object(values.render(&self.context));
                for device in self.targets(devices)? {
                    out.push(PlannedAction::SetDesired {
                        tenant: tenant.clone(),
                        device,
                        values: values.clone(),
                        hops,
                    });
                }
            }
            CompiledAction::Command {
                devices,
                name,
                params,
            } => {
                let params = object(params.render(&self.context));
                for device in self.targets(devices)? {
                    out.push(PlannedAction::Command {
                        tenant: tenant.clone(),
                        device,
                        name: name.clone(),
                        params: params.clone(),
                        hops,
                    });
                }
            }
            CompiledAction::RaiseAlarm {
                alarm,
                severity,
                details,
                device,
            } => out.push(PlannedAction::RaiseAlarm {
                tenant,
                device: self.device(device)?,
                alarm: alarm.clone(),
                severity: *severity,
                details: details.render(&self.context),
                ts: self.ts,
                hops,
            }),
            CompiledAction::ClearAlarm { alarm, device } => out.push(PlannedAction::ClearAlarm {
                tenant,
                device: self.device(device)?,
                alarm: alarm.clone(),
                ts: self.ts,
                hops,
            }),
            CompiledAction::Publish {
                topic,
                payload,
                qos,
                retain,
            } => out.push(PlannedAction::Publish {
                tenant,
                topic: topic.render(&self.context),
                payload: payload.render(&self.context),
                qos: *qos,
                retain: *retain,
            }),
            CompiledAction::Webhook {
                url,
                headers,
                body,
                timeout,
                retries,
                backoff,
            } => out.push(PlannedAction::Webhook(WebhookRequest {
                url: url.render(&self.context),
                headers: headers.clone(),
                body: body
                    .as_ref()
                    .map_or_else(|| self.context.clone(), |b| b.render(&self.context)),
                timeout: *timeout,
                retries: *retries,
                backoff: *backoff,
            })),
            CompiledAction::Derive { key, expr } => {
                let scope = self.scope.ok_or("no values to derive from")?;
                let device = self.device.clone().ok_or("no triggering device")?;
                let result = expr
                    .evaluate(scope)
                    .map_err(|e| format!("derive {key}: {e}"))?;
                let value = model_from_cel(&result).map_err(|e| format!("derive {key}: {e}"))?;
                if let Some(derived) = self
                    .context
                    .get_mut("derived")
                    .and_then(Json::as_object_mut)
                {
                    derived.insert(key.clone(), json_from_cel(&result));
                }
                out.push(PlannedAction::WriteTelemetry {
                    tenant,
                    device,
                    ts: self.ts,
                    values: BTreeMap::from([(key.clone(), value)]),
                    hops,
                });
            }
        }
        Ok(())
    }
}

fn object(json: Json) -> serde_json::Map<String, Json> {
    match json {
        Json::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}
