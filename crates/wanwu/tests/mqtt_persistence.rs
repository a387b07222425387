//! The platform's broker keeps what it acknowledged: persistent sessions (subscriptions and
//! queued QoS 1 messages) and retained messages survive `kill -9` of `wanwu serve`, in
//! MQTT 3.1.1 and 5, with the Debian mosquitto clients logged in as an application.

mod common;

use common::{Server, mosquitto, text};

/// `mosquitto_*` login as an application of tenant `default`.
fn app_login(server: &Server) -> [String; 4] {
    ["-u", "app", "-P", &server.admin_token].map(String::from)
}

/// Options of a persistent session of `client_id` in protocol `version`.
fn persistent(version: &str, client_id: &str) -> Vec<String> {
    let mut args = ["-V", version, "-c", "-i", client_id, "-q", "1"]
        .map(String::from)
        .to_vec();
    if version == "mqttv5" {
        args.extend(["-x", "3600"].map(String::from));
    }
    args
}

fn run(server: &Server, program: &str, args: &[String]) -> String {
    let port = server.mqtt.expect("mqtt listener").port();
    let mut all = app_login(server).to_vec();
    all.extend_from_slice(args);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let output = mosquitto(program, port, &all);
    assert!(
        output.status.success(),
        "{program} {all:?}: {}",
        text(&output)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn sessions_and_retained_messages_survive_kill_9() {
    let mut server = Server::start();
    let versions = ["mqttv311", "mqttv5"];
    for version in versions {
        // Subscribe in a persistent session, then leave (-E: exit once subscribed).
        let mut args = persistent(version, &format!("keeper-{version}"));
        args.extend(["-t", &format!("news/{version}/#"), "-E"].map(String::from));
        run(&server, "mosquitto_sub", &args);
    }
    for version in versions {
        for n in 1..=3 {
            let topic = format!("news/{version}/{n}");
            let args = [
                "-V",
                version,
                "-q",
                "1",
                "-t",
                &topic,
                "-m",
                &format!("m{n}"),
            ];
            run(&server, "mosquitto_pub", &args.map(String::from));
        }
    }
    let retained = ["-q", "1", "-r", "-t", "state/lamp", "-m", "on"].map(String::from);
    run(&server, "mosquitto_pub", &retained);

    server.kill9();
    let server = server.start_again();

    for version in versions {
        let mut args = persistent(version, &format!("keeper-{version}"));
        args.extend(
            [
                "-t",
                &format!("news/{version}/#"),
                "-v",
                "-C",
                "3",
                "-W",
                "10",
            ]
            .map(String::from),
        );
        let got = run(&server, "mosquitto_sub", &args);
        let want: Vec<String> = (1..=3)
            .map(|n| format!("news/{version}/{n} m{n}"))
            .collect();
        assert_eq!(got.lines().collect::<Vec<_>>(), want, "{version} queue");
    }
    let args = ["-t", "state/lamp", "-v", "-C", "1", "-W", "10"].map(String::from);
    assert_eq!(run(&server, "mosquitto_sub", &args).trim(), "state/lamp on");
}
