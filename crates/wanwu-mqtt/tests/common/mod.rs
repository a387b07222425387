//! Shared test fixtures: an in-process broker with test hooks, real clients to drive it.
#![allow(dead_code)]

pub mod raw;

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::task::JoinHandle;
use wanwu_mqtt::{
    Acl, Action, Authenticator, Broker, BrokerConfig, ConnectInfo, HookFuture, Hooks, Message,
    PresenceEvent, PresenceHook, PresenceKind, Principal, PublishHook, PublishVerdict, Publisher,
    ReasonCode,
};

/// Password every test user has.
pub const PASSWORD: &str = "pw";

/// Users are `NAME@NAMESPACE`; `banned@...` is refused with 0x8A.
pub struct TestAuth;

impl Authenticator for TestAuth {
    fn authenticate<'a>(
        &'a self,
        info: &'a ConnectInfo<'a>,
    ) -> HookFuture<'a, Result<Principal, ReasonCode>> {
        let verdict = match (info.username.and_then(|u| u.split_once('@')), info.password) {
            (Some(("banned", _)), _) => Err(ReasonCode::BANNED),
            (Some((name, namespace)), Some(password)) if password == PASSWORD.as_bytes() => {
                Ok(Principal::new(namespace).with_identity(name.to_string()))
            }
            (Some(_), _) => Err(ReasonCode::BAD_USERNAME_OR_PASSWORD),
            (None, _) => Err(ReasonCode::NOT_AUTHORIZED),
        };
        Box::pin(std::future::ready(verdict))
    }
}

/// Denies every topic under `forbidden/`, and anything under `private/{name}/` to others.
pub struct TestAcl;

impl Acl for TestAcl {
    fn allowed(&self, principal: &Principal, topic: &str, _: Action) -> bool {
        if topic.starts_with("forbidden/") {
            return false;
        }
        match topic.strip_prefix("private/") {
            Some(rest) => principal
                .identity::<String>()
                .is_some_and(|name| rest.starts_with(&format!("{name}/"))),
            None => true,
        }
    }
}

/// What the hooks saw.
#[derive(Default)]
pub struct Seen {
    pub published: Mutex<Vec<Message>>,
    /// Sizes of the batches of pipelined messages handed to the publish hook at once.
    pub batches: Mutex<Vec<usize>>,
    pub presence: Mutex<Vec<PresenceEvent>>,
}

/// Refuses `reject/...` with 0x99, consumes `consume/...`, delays `slow/...` by 300 ms (when
/// handed over alone); records the sizes of pipelined batches.
pub struct TestPublishHook(pub Arc<Seen>);

impl PublishHook for TestPublishHook {
    fn on_publish<'a>(
        &'a self,
        _: Publisher<'a>,
        message: &'a Message,
    ) -> HookFuture<'a, PublishVerdict> {
        Box::pin(async move {
            let verdict = self.verdict(message);
            if message.topic.starts_with("slow/") {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            verdict
        })
    }

    fn on_publish_batch<'a>(
        &'a self,
        _: Publisher<'a>,
        messages: &'a [Message],
    ) -> HookFuture<'a, Vec<PublishVerdict>> {
        self.0.batches.lock().push(messages.len());
        let verdicts = messages.iter().map(|m| self.verdict(m)).collect();
        Box::pin(std::future::ready(verdicts))
    }
}

impl TestPublishHook {
    fn verdict(&self, message: &Message) -> PublishVerdict {
        self.0.published.lock().push(message.clone());
        let topic: &str = &message.topic;
        if topic.starts_with("reject/") {
            PublishVerdict::Refuse {
                code: ReasonCode::PAYLOAD_FORMAT_INVALID,
                reason: Some("invalid payload".into()),
            }
        } else if topic.starts_with("consume/") {
            PublishVerdict::Consumed
        } else {
            PublishVerdict::Route
        }
    }
}

/// Records presence events.
pub struct TestPresence(pub Arc<Seen>);

impl PresenceHook for TestPresence {
    fn on_presence(&self, event: PresenceEvent) {
        self.0.presence.lock().push(event);
    }
}

/// A broker on 127.0.0.1:0 with a temporary data directory and the test hooks.
pub struct TestBroker {
    pub broker: Broker,
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    pub dir: Arc<TempDir>,
    config: BrokerConfig,
    serving: JoinHandle<std::io::Result<()>>,
}

impl TestBroker {
    pub async fn start() -> Self {
        Self::with_config(|_| {}).await
    }

    pub async fn with_config(adjust: impl FnOnce(&mut BrokerConfig)) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut config = BrokerConfig {
            data_dir: Some(dir.path().to_path_buf()),
            ..BrokerConfig::default()
        };
        adjust(&mut config);
        Self::launch(config, dir, "127.0.0.1:0".parse().unwrap()).await
    }

    async fn launch(config: BrokerConfig, dir: Arc<TempDir>, addr: SocketAddr) -> Self {
        let seen = Arc::new(Seen::default());
        let hooks = Hooks::new(TestAuth)
            .with_acl(TestAcl)
            .with_publish_hook(TestPublishHook(seen.clone()))
            .with_presence_hook(TestPresence(seen.clone()));
        let broker = Broker::start(config.clone(), hooks)
            .await
            .expect("broker starts");
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let serving = tokio::spawn({
            let broker = broker.clone();
            async move { broker.serve_tcp(listener).await }
        });
        Self {
            broker,
            addr,
            seen,
            dir,
            config,
            serving,
        }
    }

    /// Shuts down gracefully and starts again on the same data directory (and port).
    pub async fn restart(self) -> Self {
        self.broker.shutdown().await;
        let _ = self.serving.await;
        Self::launch(self.config, self.dir, self.addr).await
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// Runs a paho-mqtt scenario from tests/py/scenarios.py against `port`; panics on failure.
pub async fn run_paho(scenario: &str, port: u16, extra: &[&str]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/scenarios.py");
    let mut command = Command::new("python3");
    command
        .arg(script)
        .arg(scenario)
        .arg("--port")
        .arg(port.to_string())
        .args(extra)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("scenario finishes within 60 s")
        .expect("python3 runs (python3 and paho-mqtt 2.x are required)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "paho scenario {scenario} {extra:?} failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("ok"),
        "scenario {scenario} did not finish: {stdout}"
    );
}

/// A running `mosquitto_sub` printing `topic payload` lines.
pub struct MosquittoSub {
    child: Child,
    lines: tokio::io::Lines<BufReader<ChildStdout>>,
}

/// `tool` (mosquitto_pub or mosquitto_sub) aimed at `broker` as `user`.
fn mosquitto(tool: &str, broker: &TestBroker, user: &str) -> Command {
    let mut command = Command::new(tool);
    command
        .args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
        .args(["-u", user, "-P", PASSWORD])
        .stderr(Stdio::null())
        .kill_on_drop(true);
    command
}

impl MosquittoSub {
    /// Starts `mosquitto_sub -v` with `args` and waits until it has connected and (very
    /// likely) subscribed: mosquitto_sub has no readiness signal.
    pub async fn start(broker: &TestBroker, user: &str, args: &[&str]) -> Self {
        let connected = || {
            let events = broker.seen.presence.lock();
            events
                .iter()
                .filter(|e| e.kind == PresenceKind::Connected)
                .count()
        };
        let before = connected();
        let mut child = mosquitto("mosquitto_sub", broker, user)
            .arg("-v")
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("mosquitto_sub runs");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for _ in 0..100 {
            if connected() > before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        Self { child, lines }
    }

    /// The next line, or `None` if none arrives within `wait`.
    pub async fn line_within(&mut self, wait: Duration) -> Option<String> {
        tokio::time::timeout(wait, self.lines.next_line())
            .await
            .ok()
            .and_then(|l| l.ok().flatten())
    }

    /// The next line; panics after 5 s.
    pub async fn line(&mut self) -> String {
        self.line_within(Duration::from_secs(5))
            .await
            .expect("a message within 5 s")
    }

    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// Runs `mosquitto_pub` with `args`; returns whether it succeeded.
pub async fn mosquitto_pub(broker: &TestBroker, user: &str, args: &[&str]) -> bool {
    mosquitto("mosquitto_pub", broker, user)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .await
        .expect("mosquitto_pub runs")
        .success()
}
