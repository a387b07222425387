//! Interoperability with the Debian mosquitto clients, in MQTT 3.1.1 and 5.

mod common;

use std::time::Duration;

use common::{MosquittoSub, TestBroker, mosquitto_pub};

const VERSIONS: [&str; 2] = ["mqttv311", "mqttv5"];

#[tokio::test]
async fn publish_and_subscribe_at_every_qos() {
    let broker = TestBroker::start().await;
    for version in VERSIONS {
        let mut sub =
            MosquittoSub::start(&broker, "sub@t1", &["-V", version, "-q", "2", "-t", "q/#"]).await;
        for qos in ["0", "1", "2"] {
            let topic = format!("q/{version}/{qos}");
            assert!(
                mosquitto_pub(
                    &broker,
                    "pub@t1",
                    &["-V", version, "-q", qos, "-t", &topic, "-m", "hello"]
                )
                .await
            );
            assert_eq!(sub.line().await, format!("{topic} hello"));
        }
    }
}

#[tokio::test]
async fn wildcards_and_dollar_topics() {
    let broker = TestBroker::start().await;
    let mut plus = MosquittoSub::start(&broker, "a@t1", &["-V", "mqttv5", "-t", "w/+/c"]).await;
    let mut hash = MosquittoSub::start(&broker, "b@t1", &["-V", "mqttv311", "-t", "#"]).await;
    let mut dollar =
        MosquittoSub::start(&broker, "c@t1", &["-V", "mqttv311", "-t", "$app/#"]).await;
    for topic in ["w/b/c", "w/b/d", "$app/x"] {
        assert!(mosquitto_pub(&broker, "p@t1", &["-t", topic, "-m", "m", "-q", "1"]).await);
    }
    assert_eq!(plus.line().await, "w/b/c m");
    assert_eq!(plus.line_within(Duration::from_millis(300)).await, None);
    assert_eq!(hash.line().await, "w/b/c m");
    assert_eq!(hash.line().await, "w/b/d m");
    assert_eq!(
        hash.line_within(Duration::from_millis(300)).await,
        None,
        "# must not match $ topics"
    );
    assert_eq!(dollar.line().await, "$app/x m");
}

#[tokio::test]
async fn retained_messages_are_set_replaced_and_deleted() {
    let broker = TestBroker::start().await;
    for version in VERSIONS {
        let topic = format!("r/{version}");
        assert!(
            mosquitto_pub(
                &broker,
                "p@t1",
                &["-V", version, "-r", "-q", "1", "-t", &topic, "-m", "one"]
            )
            .await
        );
        assert!(
            mosquitto_pub(
                &broker,
                "p@t1",
                &["-V", version, "-r", "-q", "1", "-t", &topic, "-m", "two"]
            )
            .await
        );
        let mut sub = MosquittoSub::start(&broker, "s@t1", &["-V", version, "-t", &topic]).await;
        assert_eq!(sub.line().await, format!("{topic} two"));
        sub.kill().await;
        assert!(
            mosquitto_pub(
                &broker,
                "p@t1",
                &["-V", version, "-r", "-q", "1", "-t", &topic, "-n"]
            )
            .await
        );
        let mut sub = MosquittoSub::start(&broker, "s@t1", &["-V", version, "-t", &topic]).await;
        assert_eq!(
            sub.line_within(Duration::from_millis(500)).await,
            None,
            "retained message deleted"
        );
    }
}

#[tokio::test]
async fn namespaces_isolate_tenants() {
    let broker = TestBroker::start().await;
    let mut t1 = MosquittoSub::start(&broker, "a@t1", &["-t", "#"]).await;
    let mut t2 = MosquittoSub::start(&broker, "b@t2", &["-V", "mqttv5", "-t", "#"]).await;
    assert!(
        mosquitto_pub(
            &broker,
            "p@t2",
            &["-t", "shared/name", "-m", "for-t2", "-q", "1"]
        )
        .await
    );
    assert_eq!(t2.line().await, "shared/name for-t2");
    assert_eq!(
        t1.line_within(Duration::from_millis(500)).await,
        None,
        "t1 never sees t2's messages"
    );
    assert!(
        mosquitto_pub(
            &broker,
            "p@t1",
            &["-t", "shared/name", "-m", "for-t1", "-q", "1"]
        )
        .await
    );
    assert_eq!(t1.line().await, "shared/name for-t1");
    assert_eq!(t2.line_within(Duration::from_millis(500)).await, None);
}

#[tokio::test]
async fn bad_credentials_and_acl_are_refused() {
    let broker = TestBroker::start().await;
    for version in VERSIONS {
        let status = tokio::process::Command::new("mosquitto_pub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &broker.port().to_string(),
                "-V",
                version,
            ])
            .args(["-u", "x@t1", "-P", "wrong", "-t", "a", "-m", "m"])
            .output()
            .await
            .unwrap();
        assert!(!status.status.success(), "bad password refused ({version})");
        let stderr = String::from_utf8_lossy(&status.stderr).to_lowercase();
        assert!(
            stderr.contains("user name or password") || stderr.contains("not authorised"),
            "{stderr}"
        );
    }
    let mut sub = MosquittoSub::start(&broker, "alice@t1", &["-t", "private/alice/#"]).await;
    assert!(
        mosquitto_pub(
            &broker,
            "alice@t1",
            &["-t", "private/alice/x", "-m", "mine", "-q", "1"]
        )
        .await
    );
    assert!(
        mosquitto_pub(
            &broker,
            "bob@t1",
            &["-t", "private/alice/x", "-m", "not-bobs", "-q", "1"]
        )
        .await
    );
    assert_eq!(sub.line().await, "private/alice/x mine");
    assert_eq!(
        sub.line_within(Duration::from_millis(500)).await,
        None,
        "ACL drops bob's publish"
    );
}

#[tokio::test]
async fn will_is_published_when_the_connection_is_lost() {
    let broker = TestBroker::start().await;
    for version in VERSIONS {
        let mut watcher =
            MosquittoSub::start(&broker, "w@t1", &["-V", version, "-t", "will/#"]).await;
        let will_topic = format!("will/{version}");
        let mut doomed = MosquittoSub::start(
            &broker,
            "d@t1",
            &[
                "-V",
                version,
                "-t",
                "x",
                "--will-topic",
                &will_topic,
                "--will-payload",
                "gone",
                "--will-qos",
                "1",
            ],
        )
        .await;
        doomed.kill().await;
        assert_eq!(watcher.line().await, format!("{will_topic} gone"));
    }
}

#[tokio::test]
async fn shared_subscriptions_split_the_stream() {
    let broker = TestBroker::start().await;
    let mut a =
        MosquittoSub::start(&broker, "a@t1", &["-V", "mqttv5", "-t", "$share/g/jobs/#"]).await;
    let mut b = MosquittoSub::start(
        &broker,
        "b@t1",
        &["-V", "mqttv311", "-t", "$share/g/jobs/#"],
    )
    .await;
    for i in 0..10 {
        assert!(
            mosquitto_pub(
                &broker,
                "p@t1",
                &["-t", "jobs/x", "-m", &i.to_string(), "-q", "1"]
            )
            .await
        );
    }
    let mut count = [0, 0];
    for (index, sub) in [&mut a, &mut b].into_iter().enumerate() {
        while sub.line_within(Duration::from_millis(500)).await.is_some() {
            count[index] += 1;
        }
    }
    assert_eq!(
        count[0] + count[1],
        10,
        "each message to exactly one member: {count:?}"
    );
    assert_eq!(count, [5, 5], "round robin alternates between members");
}
