//! Carrying out planned actions: webhooks here, alarm actions through an [`AlarmSink`], the
//! rest through the [`ActionTarget`] the platform implements (twin, commands, MQTT broker,
//! telemetry store).

use crate::action::{PlannedAction, WebhookRequest};
use crate::alarm::{Alarm, AlarmBook, AlarmChange, AlarmError};
use crate::alarm_sink::{AlarmAt, AlarmPublisher, AlarmSink, BookAlarms};
use crate::metrics::WEBHOOK_FAILURES;
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wanwu_model::Value;

/// Longest wait between two webhook attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What the platform does for the engine. Each call returns `Err` with a message when it
/// could not be done; the executor records it in the action's outcome. `hops` must be put on
/// whatever input the call causes (see the loop protection of [`crate::engine`]).
pub trait ActionTarget: Send + Sync + 'static {
    /// Sets desired twin keys of a device.
    fn set_desired(
        &self,
        tenant: &str,
        device: &str,
        values: &Map<String, Json>,
        hops: u8,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// Sends a command to a device (queued: the executor does not wait for the reply).
    fn send_command(
        &self,
        tenant: &str,
        device: &str,
        name: &str,
        params: &Map<String, Json>,
        hops: u8,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// Publishes an MQTT message within the tenant.
    fn publish(
        &self,
        tenant: &str,
        topic: &str,
        payload: Vec<u8>,
        qos: u8,
        retain: bool,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// Writes telemetry values of a device (and feeds them on as an input with `hops`).
    fn write_telemetry(
        &self,
        tenant: &str,
        device: &str,
        ts: i64,
        values: &BTreeMap<String, Value>,
        hops: u8,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// How one action went.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActionOutcome {
    /// The action's type, e.g. `webhook`.
    pub action: &'static str,
    /// Done.
    pub ok: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For a webhook: the calls made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookOutcome>,
    /// For an alarm action: the change made (none when clearing an alarm that is not open).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm: Option<AlarmChange>,
}

/// Carries out planned actions; alarm actions go to `A`.
pub struct Executor<T, A = BookAlarms<T>> {
    target: Arc<T>,
    alarms: Arc<A>,
    webhooks: WebhookClient,
}

impl<T: ActionTarget + AlarmPublisher> Executor<T, BookAlarms<T>> {
    /// An executor over `target`, keeping alarms in memory starting with the open ones of
    /// `alarms`, their changes published through `target`.
    pub fn new(target: Arc<T>, alarms: AlarmBook) -> Result<Self, reqwest::Error> {
        let alarms = Arc::new(BookAlarms::new(alarms, target.clone()));
        Self::with_alarms(target, alarms)
    }

    /// Every open alarm.
    pub fn open_alarms(&self) -> Vec<Alarm> {
        self.alarms.open_alarms()
    }

    /// Acknowledges an open alarm (`POST /alarms/{id}/ack`).
    pub async fn acknowledge_alarm(&self, id: &str, ts: i64) -> Result<AlarmChange, AlarmError> {
        self.alarms.acknowledge(id, ts).await
    }

    /// Clears an open alarm (`POST /alarms/{id}/clear`).
    pub async fn clear_alarm(&self, id: &str, ts: i64) -> Result<AlarmChange, AlarmError> {
        self.alarms.clear_by_id(id, ts).await
    }
}

impl<T: ActionTarget, A: AlarmSink> Executor<T, A> {
    /// An executor over `target`, alarm actions going to `alarms`.
    pub fn with_alarms(target: Arc<T>, alarms: Arc<A>) -> Result<Self, reqwest::Error> {
        Ok(Executor {
            target,
            alarms,
            webhooks: WebhookClient::new()?,
        })
    }

    /// Carries out `actions` in order; one failing does not stop the next.
    pub async fn execute(&self, actions: &[PlannedAction]) -> Vec<ActionOutcome> {
        let mut outcomes = Vec::with_capacity(actions.len());
        for action in actions {
            outcomes.push(self.execute_one(action).await);
        }
        outcomes
    }

    async fn execute_one(&self, action: &PlannedAction) -> ActionOutcome {
        let done = |name, result: Result<(), String>| ActionOutcome {
            action: name,
            ok: result.is_ok(),
            error: result.err(),
            webhook: None,
            alarm: None,
        };
        match action {
            PlannedAction::SetDesired {
                tenant,
                device,
                values,
                hops,
            } => done(
                "set_desired",
                self.target.set_desired(tenant, device, values, *hops).await,
            ),
            PlannedAction::Command {
                tenant,
                device,
                name,
                params,
                hops,
            } => done(
                "command",
                self.target
                    .send_command(tenant, device, name, params, *hops)
                    .await,
            ),
            PlannedAction::Publish {
                tenant,
                topic,
                payload,
                qos,
                retain,
            } => {
                let bytes = match payload {
                    Json::String(text) => text.clone().into_bytes(),
                    other => other.to_string().into_bytes(),
                };
                done(
                    "publish",
                    self.target
                        .publish(tenant, topic, bytes, *qos, *retain)
                        .await,
                )
            }
            PlannedAction::WriteTelemetry {
                tenant,
                device,
                ts,
                values,
                hops,
            } => done(
                "write_telemetry",
                self.target
                    .write_telemetry(tenant, device, *ts, values, *hops)
                    .await,
            ),
            PlannedAction::Webhook(request) => {
                let outcome = self.webhooks.call(request).await;
                ActionOutcome {
                    action: "webhook",
                    ok: outcome.ok,
                    error: outcome.error.clone(),
                    webhook: Some(outcome),
                    alarm: None,
                }
            }
            PlannedAction::RaiseAlarm {
                tenant,
                device,
                alarm,
                severity,
                details,
                ts,
                hops,
            } => {
                let at = AlarmAt {
                    tenant,
                    device,
                    alarm_type: alarm,
                    ts: *ts,
                };
                let raised = self.alarms.raise(at, *severity, details, *hops).await;
                alarm_outcome("raise_alarm", raised.map(Some))
            }
            PlannedAction::ClearAlarm {
                tenant,
                device,
                alarm,
                ts,
                hops,
            } => {
                let at = AlarmAt {
                    tenant,
                    device,
                    alarm_type: alarm,
                    ts: *ts,
                };
                let cleared = self.alarms.clear(at, *hops).await;
                alarm_outcome("clear_alarm", cleared)
            }
        }
    }
}

fn alarm_outcome(
    action: &'static str,
    result: Result<Option<AlarmChange>, String>,
) -> ActionOutcome {
    match result {
        Ok(change) => ActionOutcome {
            action,
            ok: true,
            error: None,
            webhook: None,
            alarm: change,
        },
        Err(e) => ActionOutcome {
            action,
            ok: false,
            error: Some(e),
            webhook: None,
            alarm: None,
        },
    }
}

/// The outcome of a webhook call, retries included.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WebhookOutcome {
    /// Attempts made.
    pub attempts: u32,
    /// HTTP status of the last answer, if one came.
    pub status: Option<u16>,
    /// A 2xx answer came.
    pub ok: bool,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// Time from the first attempt to the outcome, ms.
    pub elapsed_ms: u64,
}

/// Makes webhook calls: POST JSON, a time limit per attempt, retries with exponential backoff
/// on connection errors, timeouts, 5xx, 408 and 429 (other answers are final).
#[derive(Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
}

impl WebhookClient {
    /// A client (TLS by rustls with the ring provider).
    pub fn new() -> Result<Self, reqwest::Error> {
        // Another part of the process may have installed the provider already: either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(WebhookClient {
            http: reqwest::Client::builder()
                .user_agent(concat!("wanwu-rules/", env!("CARGO_PKG_VERSION")))
                .build()?,
        })
    }

    /// Calls `request`, retrying as configured.
    pub async fn call(&self, request: &WebhookRequest) -> WebhookOutcome {
        let started = Instant::now();
        let mut outcome = WebhookOutcome {
            attempts: 0,
            status: None,
            ok: false,
            error: None,
            elapsed_ms: 0,
        };
        let mut backoff = request.backoff.to_std();
        loop {
            outcome.attempts += 1;
            let mut builder = self
                .http
                .post(&request.url)
                .timeout(request.timeout.to_std())
                .json(&request.body);
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            let retryable = match builder.send().await {
                Ok(response) => {
                    let status = response.status();
                    outcome.status = Some(status.as_u16());
                    if status.is_success() {
                        outcome.ok = true;
                        outcome.error = None;
                        break;
                    }
                    outcome.error = Some(format!("answered {status}"));
                    status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429
                }
                Err(e) => {
                    outcome.status = None;
                    outcome.error = Some(if e.is_timeout() {
                        format!("no answer within {}", request.timeout)
                    } else {
                        format!("request failed: {e}")
                    });
                    true
                }
            };
            if !retryable || outcome.attempts > request.retries {
                break;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        outcome.elapsed_ms = started.elapsed().as_millis() as u64;
        if !outcome.ok {
            metrics::counter!(WEBHOOK_FAILURES).increment(1);
            tracing::warn!(url = %request.url, attempts = outcome.attempts, error = ?outcome.error, "webhook failed");
        }
        outcome
    }
}
