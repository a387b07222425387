//! MQTT over WebSocket at `/mqtt` (subprotocol `mqtt`) behind an axum server, with paho-mqtt.

mod common;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use common::{TestBroker, run_paho};
use wanwu_mqtt::Broker;

async fn mqtt(
    State(broker): State<Broker>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    upgrade: WebSocketUpgrade,
) -> Response {
    wanwu_mqtt::ws::upgrade(broker, upgrade, peer)
}

async fn http_server(broker: &TestBroker) -> u16 {
    let app = Router::new()
        .route("/mqtt", get(mqtt))
        .with_state(broker.broker.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    port
}

#[tokio::test]
async fn paho_over_websocket_v5_and_v311() {
    let broker = TestBroker::start().await;
    let port = http_server(&broker).await;
    run_paho("pubsub", port, &["--transport", "websockets"]).await;
    run_paho("pubsub", port, &["--transport", "websockets", "--v311"]).await;
    run_paho("qos_roundtrip", port, &["--transport", "websockets"]).await;
}
