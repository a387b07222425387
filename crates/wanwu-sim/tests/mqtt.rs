//! The device sessions over real MQTT: a broker (wanwu-mqtt, letting everyone in) on a free
//! port, the simulator's devices connected to it, and an application client that watches
//! their telemetry and sends them commands and desired state.

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, PublishOptions, QoS};
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use wanwu_model::parse_telemetry;
use wanwu_mqtt::{AllowAll, Broker, BrokerConfig, Hooks};
use wanwu_sim::{Credentials, Scenario, SimDevice, SimOptions, drive, fleet_plan};

const START: i64 = 1_704_067_200_000;

async fn broker() -> (Broker, u16) {
    let broker = Broker::start(
        BrokerConfig::default(),
        Hooks::new(AllowAll::new("default")),
    )
    .await
    .expect("broker starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn({
        let broker = broker.clone();
        async move { broker.serve_tcp(listener).await }
    });
    (broker, port)
}

/// An application client subscribed to every device topic; messages arrive on the channel.
async fn watcher(port: u16) -> (AsyncClient, mpsc::UnboundedReceiver<(String, Json)>) {
    let options = MqttOptions::new("watcher", ("127.0.0.1", port));
    let (client, mut eventloop) = AsyncClient::builder(options).capacity(64).build();
    let (tx, rx) = mpsc::unbounded_channel();
    let (subscribed_tx, subscribed) = oneshot::channel();
    let mut subscribed_tx = Some(subscribed_tx);
    client
        .subscribe("devices/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    tokio::spawn(async move {
        while let Ok(event) = eventloop.poll().await {
            match event {
                Event::Incoming(Packet::SubAck(_)) => {
                    if let Some(done) = subscribed_tx.take() {
                        let _ = done.send(());
                    }
                }
                Event::Incoming(Packet::Publish(p)) => {
                    let topic = String::from_utf8_lossy(&p.topic).into_owned();
                    let body = serde_json::from_slice(&p.payload).unwrap_or(Json::Null);
                    let _ = tx.send((topic, body));
                }
                _ => {}
            }
        }
    });
    subscribed.await.unwrap();
    (client, rx)
}

/// Waits (at most 20 s) for a message on `topic` that satisfies `accept`.
async fn expect(
    rx: &mut mpsc::UnboundedReceiver<(String, Json)>,
    topic: &str,
    accept: impl Fn(&Json) -> bool,
) -> Json {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let (t, body) = rx.recv().await.expect("watcher alive");
            if t == topic && accept(&body) {
                return body;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("nothing on {topic}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_publish_their_data_and_obey_commands_and_desired_state() {
    let (_broker, port) = broker().await;
    let (app, mut rx) = watcher(port).await;

    let plan = fleet_plan(5, &[Scenario::StreetLights, Scenario::WaterMeters], 4, "t-");
    let credentials: Vec<_> = plan
        .devices
        .iter()
        .map(|d| Credentials {
            id: d.id.clone(),
            token: "any".into(),
        })
        .collect();
    let options = SimOptions {
        mqtt: format!("127.0.0.1:{port}"),
        interval: Duration::from_millis(50),
        speed_up: 1200.0,
        start_ms: Some(START),
        ..SimOptions::default()
    };
    let step_ms = options.step_sim_ms();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let run = tokio::spawn({
        let plan = plan.clone();
        async move {
            drive(&plan, &credentials, &options, async {
                let _ = stop_rx.await;
            })
            .await
        }
    });

    // Telemetry of every device arrives, fits the product, and is the deterministic series.
    let mut local: HashMap<String, HashMap<i64, Json>> = HashMap::new();
    for d in &plan.devices {
        let mut sim = SimDevice::new(&d.id, d.scenario, plan.seed, d.index, START, step_ms);
        let series = (0..400)
            .map(|_| sim.tick())
            .map(|t| (t.ts, Json::Object(t.values)))
            .collect();
        local.insert(d.id.clone(), series);
    }
    for d in &plan.devices {
        let topic = format!("devices/{}/telemetry", d.id);
        let body = expect(&mut rx, &topic, |_| true).await;
        let product = d.scenario.product();
        parse_telemetry(&product, body.to_string().as_bytes(), 0).expect("fits the product");
        let ts = body["ts"].as_i64().unwrap();
        assert_eq!((ts - START) % step_ms, 0);
        assert_eq!(
            body["values"], local[&d.id][&ts],
            "{} at {ts} is the seeded value",
            d.id
        );
    }

    // A command: the reply carries its id and the state changes.
    let light = "t-sl-00000";
    app.publish(
        format!("devices/{light}/commands/set_power"),
        json!({"id": "c-1", "params": {"on": true, "level": 30}}).to_string(),
        PublishOptions::new(QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    let reply = expect(&mut rx, &format!("devices/{light}/replies/c-1"), |_| true).await;
    assert_eq!(
        reply,
        json!({"status": "ok", "result": {"on": true, "level": 30}})
    );
    expect(&mut rx, &format!("devices/{light}/telemetry"), |b| {
        b["values"]["on"] == true && b["values"]["level"] == 30 && b["values"]["mode"] == "manual"
    })
    .await;

    // A bad command gets an error reply.
    app.publish(
        format!("devices/{light}/commands/blink"),
        json!({"id": "c-2", "params": {"times": 99}}).to_string(),
        PublishOptions::new(QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    let reply = expect(&mut rx, &format!("devices/{light}/replies/c-2"), |_| true).await;
    assert_eq!(reply["status"], "error");

    // Desired state: applied, reported, and visible in the telemetry.
    app.publish(
        format!("devices/{light}/shadow/delta"),
        json!({"delta": {"level": 55}, "version": 3}).to_string(),
        PublishOptions::new(QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    let reported = expect(&mut rx, &format!("devices/{light}/shadow/reported"), |b| {
        b["level"] == 55
    })
    .await;
    assert_eq!(reported, json!({"on": true, "level": 55, "mode": "manual"}));
    expect(&mut rx, &format!("devices/{light}/telemetry"), |b| {
        b["values"]["level"] == 55
    })
    .await;

    stop_tx.send(()).unwrap();
    let summary = run.await.unwrap().expect("run completes");
    assert_eq!(summary.devices, 4);
    assert_eq!(summary.connections, 4);
    assert_eq!(summary.online, 0, "all disconnected at the end");
    assert_eq!(summary.connection_errors, 0);
    assert!(summary.telemetry_sent >= 8, "{summary}");
    assert_eq!(summary.commands_received, 2);
    assert_eq!(summary.replies_sent, 2);
    assert!(summary.desired_received >= 1);
    assert_eq!(summary.rejected, 0);
    assert!(
        summary.acked >= summary.sent(),
        "every QoS 1 message acknowledged: {summary}"
    );
}

#[tokio::test]
async fn devices_that_cannot_connect_are_counted_not_fatal() {
    // Nothing listens on this port once the listener is dropped.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let plan = fleet_plan(1, &[Scenario::AirQuality], 2, "x-");
    let credentials: Vec<_> = plan
        .devices
        .iter()
        .map(|d| Credentials {
            id: d.id.clone(),
            token: "t".into(),
        })
        .collect();
    let options = SimOptions {
        mqtt: format!("127.0.0.1:{port}"),
        interval: Duration::from_millis(100),
        duration: Some(Duration::from_millis(1500)),
        drain: Duration::from_millis(200),
        ..SimOptions::default()
    };
    let summary = drive(&plan, &credentials, &options, std::future::pending())
        .await
        .unwrap();
    assert_eq!(summary.connections, 0);
    assert!(summary.connection_errors >= 2, "{summary}");
    assert_eq!(summary.telemetry_sent, 0);
    assert!(
        summary.dropped >= 2,
        "steps while offline are counted: {summary}"
    );
}
