//! Feeding the rule runtime: telemetry batches from the ingest fan-out and notices from the
//! platform bus become [`Input`]s, handed to the [`Admission`] step (which waits for the
//! device's first lookup off this path). Both arrive on bounded queues (full: dropped and
//! counted by the fan-out); the runtime's own queues are bounded and partitioned by device.

use crate::bus::{Notice, NoticeKind};
use crate::ingest::Ingested;
use crate::rules::admission::{Admission, Item};
use crate::rules::hops::HopLedger;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;
use wanwu_model::Value;
use wanwu_rules::{Alarm, Input, InputKind};

/// Telemetry batches the rules' fan-out queue holds.
pub const TELEMETRY_QUEUE: usize = 8192;
/// Notices the rules' bus queue holds.
pub const NOTICE_QUEUE: usize = 4096;
/// Most telemetry batches the feed takes at once.
pub const FEED_CHUNK: usize = 512;

/// What the feeders share.
pub struct Feed {
    /// Inputs in each device's order, after the device's first lookup.
    pub admission: Arc<Admission>,
    /// Hop counts of inputs caused by actions.
    pub hops: Arc<HopLedger>,
    /// Telemetry batches taken from the fan-out.
    pub batches: AtomicU64,
}

impl Feed {
    /// Feeds telemetry batches until the fan-out goes away. It takes every batch waiting
    /// (up to [`FEED_CHUNK`]) each time it runs: it shares the runtime's threads with the
    /// ingest tasks, and one batch per turn would fall behind them under load.
    pub async fn telemetry(self: Arc<Self>, mut batches: mpsc::Receiver<Arc<Ingested>>) {
        let mut waiting = Vec::with_capacity(FEED_CHUNK);
        while batches.recv_many(&mut waiting, FEED_CHUNK).await > 0 {
            self.batches
                .fetch_add(waiting.len() as u64, Ordering::Relaxed);
            for batch in waiting.drain(..) {
                let hops = self
                    .hops
                    .take(&batch.tenant, &batch.device, InputKind::Telemetry);
                let items = batch
                    .messages()
                    .filter_map(|message| Input::from_message(&message, hops))
                    .map(Item::Input)
                    .collect();
                self.admission.admit(&batch.tenant, &batch.device, items);
            }
        }
    }

    /// Feeds bus notices until the bus goes away.
    pub async fn notices(self: Arc<Self>, mut notices: mpsc::Receiver<Arc<Notice>>) {
        while let Some(notice) = notices.recv().await {
            if notice.kind == NoticeKind::Command {
                continue;
            }
            let twin_change =
                (notice.kind == NoticeKind::Twin).then(|| Item::TwinChange(notice.body.clone()));
            let input = self.input_of(&notice).map(Item::Input);
            let items = twin_change.into_iter().chain(input).collect();
            self.admission.admit(&notice.tenant, &notice.device, items);
        }
    }

    fn input_of(&self, notice: &Notice) -> Option<Input> {
        let (kind, values, event) = match notice.kind {
            NoticeKind::Event => (
                InputKind::Event,
                values_of(notice.body.get("params")),
                event_name(&notice.body),
            ),
            NoticeKind::Presence => (InputKind::Presence, online_of(&notice.body), None),
            NoticeKind::Twin => (
                InputKind::Twin,
                values_of(notice.body.get("reported")),
                None,
            ),
            NoticeKind::Alarm => {
                let alarm: Alarm = serde_json::from_value(notice.body.clone()).ok()?;
                let hops = self
                    .hops
                    .take(&notice.tenant, &notice.device, InputKind::Alarm);
                return Some(Input::alarm_change(alarm, notice.ts, hops));
            }
            NoticeKind::Command => return None,
        };
        Some(Input {
            tenant: notice.tenant.clone(),
            device: notice.device.clone(),
            kind,
            ts: notice.ts,
            values,
            event,
            alarm: None,
            hops: self.hops.take(&notice.tenant, &notice.device, kind),
        })
    }
}

/// The typed values of a JSON object (keys whose value is no telemetry value are left out).
fn values_of(object: Option<&Json>) -> BTreeMap<String, Value> {
    object
        .and_then(Json::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| {
            serde_json::from_value::<Value>(value.clone())
                .ok()
                .map(|v| (key.clone(), v))
        })
        .collect()
}

/// The event's name: `event` or `name` of the notice body.
fn event_name(body: &Json) -> Option<String> {
    ["event", "name"]
        .iter()
        .find_map(|field| body.get(*field).and_then(Json::as_str))
        .map(str::to_owned)
}

/// `{"online": bool}` from a presence body (`online`, or `status` = `"online"`).
fn online_of(body: &Json) -> BTreeMap<String, Value> {
    let online = body.get("online").and_then(Json::as_bool).or_else(|| {
        body.get("status")
            .and_then(Json::as_str)
            .map(|s| s == "online")
    });
    online
        .map(|online| ("online".to_owned(), Value::Bool(online)))
        .into_iter()
        .collect()
}
