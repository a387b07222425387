//! The executor against a real local HTTP server (webhooks: retries, backoff, timeout) and a
//! recording action target (the platform's side of the seam), and the alarm lifecycle.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wanwu_model::Value;
use wanwu_rules::{
    ActionTarget, AlarmBook, AlarmChange, AlarmChangeKind, AlarmError, AlarmPublisher,
    AlarmSeverity, AlarmStatus, Executor, PlannedAction, Span, WebhookClient, WebhookRequest,
};

/// A local HTTP server whose first `failures` answers are 500, then 200 after `delay`.
struct Hook {
    url: String,
    calls: Arc<AtomicU32>,
    bodies: Arc<Mutex<Vec<Json>>>,
    _server: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct HookState {
    failures: u32,
    delay: Duration,
    calls: Arc<AtomicU32>,
    bodies: Arc<Mutex<Vec<Json>>>,
}

async fn hook(failures: u32, delay: Duration) -> Hook {
    let state = HookState {
        failures,
        delay,
        calls: Arc::default(),
        bodies: Arc::default(),
    };
    let (calls, bodies) = (state.calls.clone(), state.bodies.clone());
    let app = Router::new()
        .route(
            "/hook",
            post(
                |State(state): State<HookState>, axum::Json(body): axum::Json<Json>| async move {
                    let call = state.calls.fetch_add(1, Ordering::SeqCst);
                    state.bodies.lock().unwrap().push(body);
                    tokio::time::sleep(state.delay).await;
                    if call < state.failures {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                },
            ),
        )
        .route("/missing", post(|| async { StatusCode::NOT_FOUND }))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Hook {
        url,
        calls,
        bodies,
        _server: server,
    }
}

fn request(url: String, retries: u32, timeout_ms: u64) -> WebhookRequest {
    WebhookRequest {
        url,
        headers: BTreeMap::from([("x-wanwu-rule".to_string(), "r1".to_string())]),
        body: json!({"device": "st-1", "pm25": 120.5}),
        timeout: Span::from_millis(timeout_ms),
        retries,
        backoff: Span::from_millis(20),
    }
}

#[tokio::test]
async fn webhook_retries_server_errors_with_backoff_then_succeeds() {
    let hook = hook(2, Duration::ZERO).await;
    let client = WebhookClient::new().unwrap();
    let outcome = client
        .call(&request(format!("{}/hook", hook.url), 3, 2_000))
        .await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!((outcome.attempts, outcome.status), (3, Some(200)));
    assert!(
        outcome.elapsed_ms >= 60,
        "backoff 20 ms then 40 ms: {}",
        outcome.elapsed_ms
    );
    assert_eq!(hook.calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        hook.bodies.lock().unwrap()[2],
        json!({"device": "st-1", "pm25": 120.5})
    );
}

#[tokio::test]
async fn webhook_gives_up_after_its_retries() {
    let hook = hook(10, Duration::ZERO).await;
    let outcome = WebhookClient::new()
        .unwrap()
        .call(&request(format!("{}/hook", hook.url), 2, 2_000))
        .await;
    assert!(!outcome.ok);
    assert_eq!((outcome.attempts, outcome.status), (3, Some(500)));
    assert!(outcome.error.unwrap().contains("500"));
    assert_eq!(hook.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn webhook_times_out_each_attempt() {
    let hook = hook(0, Duration::from_secs(5)).await;
    let outcome = WebhookClient::new()
        .unwrap()
        .call(&request(format!("{}/hook", hook.url), 1, 200))
        .await;
    assert!(!outcome.ok);
    assert_eq!((outcome.attempts, outcome.status), (2, None));
    assert!(
        outcome
            .error
            .as_deref()
            .unwrap()
            .contains("no answer within 200ms"),
        "{outcome:?}"
    );
    assert!(
        outcome.elapsed_ms < 3_000,
        "did not wait for the slow server: {}",
        outcome.elapsed_ms
    );
}

#[tokio::test]
async fn webhook_client_errors_are_final_and_refused_connections_retried() {
    let hook = hook(0, Duration::ZERO).await;
    let client = WebhookClient::new().unwrap();
    let outcome = client
        .call(&request(format!("{}/missing", hook.url), 3, 2_000))
        .await;
    assert_eq!(
        (outcome.ok, outcome.attempts, outcome.status),
        (false, 1, Some(404))
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let outcome = client.call(&request(url, 2, 2_000)).await;
    assert_eq!(
        (outcome.ok, outcome.attempts, outcome.status),
        (false, 3, None)
    );
}

/// The platform side, recording what it was asked to do.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    changes: Mutex<Vec<(AlarmChange, u8)>>,
    refuse_commands: bool,
}

impl Recorder {
    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

impl ActionTarget for Recorder {
    async fn set_desired(
        &self,
        tenant: &str,
        device: &str,
        values: &Map<String, Json>,
        hops: u8,
    ) -> Result<(), String> {
        self.record(format!(
            "desired {tenant}/{device} {} hops={hops}",
            Json::Object(values.clone())
        ));
        Ok(())
    }

    async fn send_command(
        &self,
        tenant: &str,
        device: &str,
        name: &str,
        params: &Map<String, Json>,
        hops: u8,
    ) -> Result<(), String> {
        if self.refuse_commands {
            return Err(format!("{device} is offline"));
        }
        self.record(format!(
            "command {tenant}/{device} {name} {} hops={hops}",
            Json::Object(params.clone())
        ));
        Ok(())
    }

    async fn publish(
        &self,
        tenant: &str,
        topic: &str,
        payload: Vec<u8>,
        qos: u8,
        retain: bool,
    ) -> Result<(), String> {
        self.record(format!(
            "publish {tenant} {topic} {} qos={qos} retain={retain}",
            String::from_utf8_lossy(&payload)
        ));
        Ok(())
    }

    async fn write_telemetry(
        &self,
        tenant: &str,
        device: &str,
        ts: i64,
        values: &BTreeMap<String, Value>,
        hops: u8,
    ) -> Result<(), String> {
        self.record(format!(
            "telemetry {tenant}/{device} {ts} {} hops={hops}",
            serde_json::to_string(values).unwrap()
        ));
        Ok(())
    }
}

impl AlarmPublisher for Recorder {
    async fn alarm_changed(&self, change: &AlarmChange, hops: u8) -> Result<(), String> {
        self.changes.lock().unwrap().push((change.clone(), hops));
        Ok(())
    }
}

fn map(json: Json) -> Map<String, Json> {
    json.as_object().cloned().unwrap()
}

#[tokio::test]
async fn executor_carries_out_every_action_kind() {
    let hook = hook(1, Duration::ZERO).await;
    let target = Arc::new(Recorder::default());
    let executor = Executor::new(target.clone(), AlarmBook::new()).unwrap();
    let actions = vec![
        PlannedAction::SetDesired {
            tenant: "t1".into(),
            device: "st-1".into(),
            values: map(json!({"fan": 2})),
            hops: 1,
        },
        PlannedAction::Command {
            tenant: "t1".into(),
            device: "st-1".into(),
            name: "blink".into(),
            params: map(json!({"times": 3})),
            hops: 1,
        },
        PlannedAction::Publish {
            tenant: "t1".into(),
            topic: "alerts/st-1".into(),
            payload: json!({"pm25": 120}),
            qos: 1,
            retain: false,
        },
        PlannedAction::Publish {
            tenant: "t1".into(),
            topic: "text".into(),
            payload: json!("plain"),
            qos: 0,
            retain: true,
        },
        PlannedAction::WriteTelemetry {
            tenant: "t1".into(),
            device: "st-1".into(),
            ts: 5,
            values: BTreeMap::from([("aqi".to_string(), Value::Int(151))]),
            hops: 1,
        },
        PlannedAction::RaiseAlarm {
            tenant: "t1".into(),
            device: "st-1".into(),
            alarm: "high_pm25".into(),
            severity: AlarmSeverity::Major,
            details: json!({"pm25": 120}),
            ts: 5,
            hops: 1,
        },
        PlannedAction::Webhook(request(format!("{}/hook", hook.url), 2, 2_000)),
        PlannedAction::ClearAlarm {
            tenant: "t1".into(),
            device: "st-1".into(),
            alarm: "high_pm25".into(),
            ts: 9,
            hops: 1,
        },
        PlannedAction::ClearAlarm {
            tenant: "t1".into(),
            device: "st-1".into(),
            alarm: "never_raised".into(),
            ts: 9,
            hops: 1,
        },
    ];
    let outcomes = executor.execute(&actions).await;
    assert!(outcomes.iter().all(|o| o.ok), "{outcomes:?}");
    assert_eq!(
        *target.calls.lock().unwrap(),
        [
            r#"desired t1/st-1 {"fan":2} hops=1"#,
            r#"command t1/st-1 blink {"times":3} hops=1"#,
            r#"publish t1 alerts/st-1 {"pm25":120} qos=1 retain=false"#,
            "publish t1 text plain qos=0 retain=true",
            r#"telemetry t1/st-1 5 {"aqi":151} hops=1"#,
        ]
    );
    assert_eq!(
        outcomes[6].webhook.as_ref().unwrap().attempts,
        2,
        "outcome recorded"
    );
    let changes = target.changes.lock().unwrap().clone();
    let kinds: Vec<_> = changes
        .iter()
        .map(|(c, hops)| (c.kind, c.alarm.status, *hops))
        .collect();
    assert_eq!(
        kinds,
        [
            (AlarmChangeKind::Raised, AlarmStatus::Active, 1),
            (AlarmChangeKind::Cleared, AlarmStatus::Cleared, 1)
        ]
    );
    assert!(
        outcomes[8].alarm.is_none(),
        "clearing what is not open changes nothing"
    );
    assert!(executor.open_alarms().is_empty());
}

#[tokio::test]
async fn a_failing_action_is_recorded_and_the_next_runs() {
    let target = Arc::new(Recorder {
        refuse_commands: true,
        ..Recorder::default()
    });
    let executor = Executor::new(target.clone(), AlarmBook::new()).unwrap();
    let outcomes = executor
        .execute(&[
            PlannedAction::Command {
                tenant: "t1".into(),
                device: "st-9".into(),
                name: "blink".into(),
                params: Map::new(),
                hops: 1,
            },
            PlannedAction::SetDesired {
                tenant: "t1".into(),
                device: "st-1".into(),
                values: map(json!({"on": true})),
                hops: 1,
            },
        ])
        .await;
    assert_eq!(
        (outcomes[0].ok, outcomes[0].error.as_deref()),
        (false, Some("st-9 is offline"))
    );
    assert!(outcomes[1].ok);
    assert_eq!(target.calls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn alarm_lifecycle_through_the_executor() {
    let target = Arc::new(Recorder::default());
    let executor = Executor::new(target.clone(), AlarmBook::new()).unwrap();
    let raise = |ts, severity| PlannedAction::RaiseAlarm {
        tenant: "t1".into(),
        device: "st-1".into(),
        alarm: "high_pm25".into(),
        severity,
        details: json!({"ts": ts}),
        ts,
        hops: 1,
    };
    executor
        .execute(&[
            raise(10, AlarmSeverity::Minor),
            raise(20, AlarmSeverity::Major),
        ])
        .await;
    let open = executor.open_alarms();
    assert_eq!(open.len(), 1, "one open alarm per device and type");
    let alarm = &open[0];
    assert_eq!(
        (alarm.first_ts, alarm.last_ts, alarm.count, alarm.severity),
        (10, 20, 2, AlarmSeverity::Major)
    );
    assert_eq!(alarm.details, json!({"ts": 20}));
    let acked = executor.acknowledge_alarm(&alarm.id, 30).await.unwrap();
    assert_eq!(
        (acked.alarm.status, acked.alarm.acknowledged_ts),
        (AlarmStatus::Acknowledged, Some(30))
    );
    assert_eq!(
        executor.acknowledge_alarm(&alarm.id, 31).await.unwrap_err(),
        AlarmError::AlreadyAcknowledged(alarm.id.clone())
    );
    executor
        .execute(&[raise(40, AlarmSeverity::Critical)])
        .await;
    let still = &executor.open_alarms()[0];
    assert_eq!(
        (still.status, still.count),
        (AlarmStatus::Acknowledged, 3),
        "a repeat keeps it acknowledged"
    );
    let cleared = executor.clear_alarm(&alarm.id, 50).await.unwrap();
    assert_eq!(
        (cleared.alarm.status, cleared.alarm.cleared_ts),
        (AlarmStatus::Cleared, Some(50))
    );
    assert!(matches!(
        executor.clear_alarm(&alarm.id, 51).await,
        Err(AlarmError::NotFound(_))
    ));
    executor.execute(&[raise(60, AlarmSeverity::Info)]).await;
    let reopened = &executor.open_alarms()[0];
    assert_ne!(
        reopened.id, alarm.id,
        "after clearing, a raise opens a new alarm"
    );
    assert_eq!((reopened.count, reopened.first_ts), (1, 60));
    let kinds: Vec<_> = target
        .changes
        .lock()
        .unwrap()
        .iter()
        .map(|(c, hops)| (c.kind, *hops))
        .collect();
    assert_eq!(
        kinds,
        [
            (AlarmChangeKind::Raised, 1),
            (AlarmChangeKind::Repeated, 1),
            (AlarmChangeKind::Acknowledged, 0),
            (AlarmChangeKind::Repeated, 1),
            (AlarmChangeKind::Cleared, 0),
            (AlarmChangeKind::Raised, 1)
        ]
    );
    // What the platform persisted loads back: open alarms only.
    let book = AlarmBook::with_open([reopened.clone(), cleared.alarm.clone()]);
    assert_eq!(book.open().count(), 1);
    assert!(book.open_for("t1", "st-1", "high_pm25").is_some());
}
