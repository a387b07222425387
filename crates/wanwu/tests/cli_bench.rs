//! `wanwu bench <which> --quick` through the real binary: each benchmark completes and
//! prints its table, every expected measure with numeric figures for wanwu, the baseline
//! and the ratio. Figures are never compared with thresholds.

use std::process::Command;

/// Runs `wanwu bench <which> --quick`, asserts exit 0, and returns its standard output.
fn quick_bench(which: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_wanwu"))
        .args(["bench", which, "--quick"])
        .output()
        .expect("running wanwu bench");
    assert!(
        output.status.success(),
        "wanwu bench {which} --quick failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// The three figures (wanwu, baseline, ratio) of the row starting with `measure`.
fn figures(out: &str, measure: &str) -> [f64; 3] {
    let line = out
        .lines()
        .find(|l| l.starts_with(measure))
        .unwrap_or_else(|| panic!("no row {measure:?} in:\n{out}"));
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let n = tokens.len();
    assert!(n >= 4, "short row {line:?}");
    let number = |t: &str| -> f64 {
        t.trim_end_matches('x')
            .parse()
            .unwrap_or_else(|_| panic!("{t:?} is not a number in {line:?}"))
    };
    [
        number(tokens[n - 3]),
        number(tokens[n - 2]),
        number(tokens[n - 1]),
    ]
}

fn assert_table(out: &str, name: &str, rows: &[&str]) {
    assert!(
        out.contains(&format!("== bench {name}:")),
        "no {name} table in:\n{out}"
    );
    assert!(out.contains(" cores"), "no machine facts in:\n{out}");
    assert!(
        out.contains("load generator"),
        "no load-generator fact in:\n{out}"
    );
    for row in rows {
        let [wanwu, baseline, ratio] = figures(out, row);
        assert!(
            wanwu.is_finite() && baseline.is_finite() && ratio.is_finite(),
            "row {row:?}: {wanwu} {baseline} {ratio}"
        );
        assert!(wanwu >= 0.0 && baseline >= 0.0, "row {row:?}");
    }
}

#[test]
fn ingest_reports_its_table() {
    let out = quick_bench("ingest");
    assert_table(
        &out,
        "ingest",
        &["ingest, points/s", "disk bytes per point"],
    );
    assert!(
        !out.contains("== bench query:"),
        "ingest ran query too:\n{out}"
    );
    // Baselines in the same run (scripts/install-test-deps installs them) and the
    // end-to-end MQTT run through a real `wanwu serve`.
    for baseline in ["sqlite", "postgresql", "victoria-metrics"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with("measure") && l.contains(baseline)),
            "no {baseline} table in:\n{out}"
        );
    }
    let [e2e, victoria, _] = figures(&out, "end-to-end over the network, points/s");
    assert!(
        e2e > 0.0 && victoria > 0.0,
        "nothing acknowledged in:\n{out}"
    );
}

#[test]
fn ingest_mqtt_reports_the_end_to_end_table_against_the_broker_alone() {
    let out = quick_bench("ingest-mqtt");
    let rows = [
        "QoS 1 messages/s acknowledged",
        "server cpu per message, us",
        "load generator cpu per message, us",
    ];
    assert_table(&out, "ingest-mqtt", &rows);
    let [ingest, broker, _] = figures(&out, rows[0]);
    assert!(
        ingest > 0.0 && broker > 0.0,
        "nothing acknowledged in:\n{out}"
    );
    assert!(
        out.contains("points/s acknowledged in the log") && out.contains("target >= 500000"),
        "no end-to-end figure against the target in:\n{out}"
    );
    assert!(out.contains("load average"), "no load average in:\n{out}");
    assert!(
        !out.contains("== bench ingest:"),
        "ran the engine benchmark too:\n{out}"
    );
}

#[test]
fn query_reports_its_table() {
    let out = quick_bench("query");
    assert_table(
        &out,
        "query",
        &["(b) latest values", "(c) hourly avg across all series"],
    );
}

#[test]
fn rules_reports_its_table() {
    let out = quick_bench("rules");
    assert_table(
        &out,
        "rules",
        &[
            "throughput, inputs/s",
            "cpu per input, us",
            "latency p50 at rate, us",
            "latency p99 at rate, us",
        ],
    );
    assert_table(
        &out,
        "rules (platform path)",
        &[
            "acknowledged, payloads/s",
            "  first run",
            "  second run",
            "evaluated, inputs/s",
            "probes answered",
        ],
    );
    // Each side runs twice with the quick set's 20,000 payloads.
    let [rules, baseline, _] = figures(&out, "payloads acknowledged");
    assert_eq!((rules, baseline), (40_000.0, 40_000.0), "{out}");
}

#[test]
fn mqtt_reports_its_table_against_mosquitto() {
    let out = quick_bench("mqtt");
    let scenarios = [
        ("fan-in QoS 0", "messages/s"),
        ("fan-in QoS 1", "messages/s"),
        ("fan-out QoS 0", "deliveries/s"),
        ("fan-out QoS 1", "deliveries/s"),
    ];
    let mut rows = Vec::new();
    for (scenario, unit) in scenarios {
        rows.push(format!("{scenario} saturated, {unit}"));
        for measure in [
            "delivered %",
            "broker cpu us/message",
            "broker cpu cores",
            "load generator cpu cores",
        ] {
            rows.push(format!("{scenario} saturated, {measure}"));
        }
        // The quick run measures latency at one offered rate, half the lower saturated one.
        rows.push(format!("{scenario} at 50% load, messages sent/s"));
        for measure in [
            "latency p50 ms",
            "latency p99 ms",
            "latency max ms",
            "delivered %",
            "broker cpu cores",
            "load generator cpu cores",
        ] {
            rows.push(format!("{scenario} at 50% load, {measure}"));
        }
    }
    rows.push("idle connections answering PINGREQ".into());
    rows.push("idle memory per connection, bytes".into());
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    assert_table(&out, "mqtt", &rows);
    for (scenario, unit) in scenarios {
        let [wanwu, mosquitto, _] = figures(&out, &format!("{scenario} saturated, {unit}"));
        assert!(
            wanwu > 0.0 && mosquitto > 0.0,
            "{scenario}: nothing delivered in:\n{out}"
        );
        // Both brokers were offered the same rate, and the latency sample is not empty.
        let [wanwu, mosquitto, _] =
            figures(&out, &format!("{scenario} at 50% load, messages sent/s"));
        assert!(
            wanwu > 0.0 && mosquitto > 0.0,
            "{scenario}: nothing sent in:\n{out}"
        );
        let [p50, _, _] = figures(&out, &format!("{scenario} at 50% load, latency p50 ms"));
        let [p99, _, _] = figures(&out, &format!("{scenario} at 50% load, latency p99 ms"));
        let [max, _, _] = figures(&out, &format!("{scenario} at 50% load, latency max ms"));
        assert!(
            0.0 < p50 && p50 <= p99 && p99 <= max,
            "{scenario}: in:\n{out}"
        );
    }
    // The full report names what the idle run held and what the open-file limit allows.
    assert!(out.contains("Idle connections: "), "in:\n{out}");
    assert!(out.contains("with a limit of at least "), "in:\n{out}");
    // Every idle connection the run opened still answers, on both brokers.
    let opened: f64 = out
        .split(" idle connections of ")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no idle connection count in:\n{out}"));
    assert!(opened > 0.0, "no idle connections opened:\n{out}");
    let [wanwu, mosquitto, _] = figures(&out, "idle connections answering PINGREQ");
    assert_eq!((wanwu, mosquitto), (opened, opened), "in:\n{out}");
}

#[test]
fn registry_reports_its_table() {
    let out = quick_bench("registry");
    assert_table(
        &out,
        "registry",
        &[
            "device creation, devices/s",
            "device authentication, us per call",
        ],
    );
}

#[test]
fn ws_reports_fanout_and_twin_tables_against_mosquitto() {
    let out = quick_bench("ws");
    assert_table(
        &out,
        "ws",
        &["deliveries/s", "latency p50, ms", "latency p99, ms"],
    );
    assert_table(
        &out,
        "twin",
        &[
            "desired updates/s, HTTP PATCH",
            "reported updates/s, MQTT QoS 1",
        ],
    );
    let [delivered, _, _] = figures(&out, "deliveries/s");
    assert!(delivered > 0.0, "nothing delivered in:\n{out}");
}

#[test]
fn unknown_benchmark_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_wanwu"))
        .args(["bench", "nonsense"])
        .output()
        .expect("running wanwu bench");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn commands_reports_its_table() {
    let out = quick_bench("commands");
    assert_table(
        &out,
        "commands",
        &[
            "round trip p50, ms",
            "round trip p99, ms",
            "round trips/s, one at a time",
        ],
    );
}
