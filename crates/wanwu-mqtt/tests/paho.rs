//! Interoperability with Python paho-mqtt 2.x (scenarios in tests/py/scenarios.py).

mod common;

use common::{TestBroker, run_paho};

async fn scenario(name: &str, extra: &[&str]) {
    let broker = TestBroker::start().await;
    run_paho(name, broker.port(), extra).await;
}

#[tokio::test]
async fn qos_0_1_2_in_order_v5() {
    scenario("qos_roundtrip", &[]).await;
}

#[tokio::test]
async fn qos_0_1_2_in_order_v311() {
    scenario("qos_roundtrip", &["--v311"]).await;
}

#[tokio::test]
async fn persistent_session_queues_while_offline_v5() {
    scenario("persistent_session", &[]).await;
}

#[tokio::test]
async fn persistent_session_queues_while_offline_v311() {
    scenario("persistent_session", &["--v311"]).await;
}

#[tokio::test]
async fn message_properties_pass_through() {
    scenario("properties", &[]).await;
}

#[tokio::test]
async fn expired_messages_are_not_delivered() {
    scenario("message_expiry", &[]).await;
}

#[tokio::test]
async fn topic_aliases_resolve() {
    scenario("topic_alias", &[]).await;
}

#[tokio::test]
async fn outbound_topic_aliases_follow_the_clients_maximum() {
    scenario("topic_alias_outbound", &[]).await;
}

#[tokio::test]
async fn an_authentication_method_is_refused_as_unsupported() {
    scenario("auth_method_refused", &[]).await;
}

#[tokio::test]
async fn subscription_options_no_local_retain_as_published_retain_handling() {
    scenario("subscription_options", &[]).await;
}

#[tokio::test]
async fn subscription_identifiers_are_delivered() {
    scenario("subscription_ids", &[]).await;
}

#[tokio::test]
async fn publish_hook_and_acl_refusals_carry_reason_codes() {
    scenario("hook_and_acl", &[]).await;
}

#[tokio::test]
async fn will_delay_and_resumption() {
    scenario("will_delay", &[]).await;
}

#[tokio::test]
async fn shared_subscription_round_robin() {
    scenario("shared_subscription", &[]).await;
}
