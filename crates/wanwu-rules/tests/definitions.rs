//! Bad rules and scenes are refused with the path (and, for CEL, the position) of the problem.

use serde_json::json;
use wanwu_rules::compile::{compile_rule, compile_scene};
use wanwu_rules::{DefinitionError, DefinitionErrors, RuleDef, SceneDef};

fn parse_errors(json: serde_json::Value) -> DefinitionErrors {
    RuleDef::from_json(json.to_string().as_bytes()).expect_err("must not parse")
}

fn compile_errors(json: serde_json::Value) -> Vec<DefinitionError> {
    let def = RuleDef::from_json(json.to_string().as_bytes()).expect("parses");
    compile_rule(def).expect_err("must not compile").0
}

fn base() -> serde_json::Value {
    json!({"id": "r1", "tenant": "t1", "trigger": {"type": "message"},
           "actions": [{"type": "publish", "topic": "a/b", "payload": {}}]})
}

fn with(mut rule: serde_json::Value, field: &str, value: serde_json::Value) -> serde_json::Value {
    rule[field] = value;
    rule
}

#[test]
fn a_good_rule_round_trips() {
    let json = with(base(), "for", json!("1h30m"));
    let def = RuleDef::from_json(json.to_string().as_bytes()).unwrap();
    assert!(def.enabled, "enabled by default");
    let back = serde_json::to_value(&def).unwrap();
    assert_eq!(back["for"], json!("1h30m"));
    assert_eq!(
        RuleDef::from_json(back.to_string().as_bytes()).unwrap(),
        def
    );
    assert!(compile_rule(def).is_ok());
}

#[test]
fn unknown_fields_are_refused_with_their_path() {
    let err = parse_errors(with(base(), "colour", json!("red")));
    assert!(err.0[0].message.contains("unknown field `colour`"), "{err}");
    let mut rule = base();
    rule["actions"][0]["qos2"] = json!(1);
    let err = parse_errors(rule);
    assert_eq!(err.0[0].path, "actions[0].qos2", "{err}");
    assert!(err.0[0].message.contains("unknown field `qos2`"), "{err}");
    let err = parse_errors(with(
        base(),
        "trigger",
        json!({"type": "message", "devices": {"model": "x"}}),
    ));
    assert_eq!(err.0[0].path, "trigger.devices.model", "{err}");
    assert!(err.0[0].message.contains("unknown field `model`"), "{err}");
    let err = parse_errors(with(base(), "trigger", json!({"type": "sometimes"})));
    assert_eq!(err.0[0].path, "trigger.type", "{err}");
    assert!(
        err.0[0].message.contains("unknown type `sometimes`"),
        "{err}"
    );
    let err = parse_errors(with(base(), "trigger", json!({"kinds": ["event"]})));
    assert_eq!(err.0[0].path, "trigger", "{err}");
    assert!(err.0[0].message.contains("missing field `type`"), "{err}");
}

#[test]
fn bad_durations_name_their_field() {
    let err = parse_errors(with(base(), "for", json!("ten minutes")));
    assert_eq!(err.0[0].path, "for");
    assert!(err.0[0].message.contains("not a duration"), "{err}");
    let mut rule = base();
    rule["actions"][0] = json!({"type": "webhook", "url": "http://x", "timeout": "5"});
    let err = parse_errors(rule);
    assert_eq!(err.0[0].path, "actions[0].timeout");
    assert!(
        err.0[0].message.contains("\"5\" is not a duration"),
        "{err}"
    );
    let mut rule = base();
    rule["clear"] = json!({"condition": "true",
        "actions": [{"type": "webhook", "url": "http://x", "headers": {"a": 1}}]});
    assert_eq!(parse_errors(rule).0[0].path, "clear.actions[0].headers.a");
    let mut rule = base();
    rule["actions"][0] = json!({"type": "webhook", "url": "http://x", "timeout": "2m"});
    assert_eq!(
        compile_errors(rule)[0].path,
        "actions[0].timeout",
        "longer than 60s"
    );
}

#[test]
fn cel_errors_carry_line_and_column() {
    let errors = compile_errors(with(
        base(),
        "condition",
        json!("msg.values.pm25 > 1.0 &&\n   msg.values.pm10 >"),
    ));
    assert_eq!(errors[0].path, "condition");
    assert_eq!(
        (errors[0].line, errors[0].column),
        (Some(2), Some(21)),
        "{errors:?}"
    );
    let shown = serde_json::to_value(&errors[0]).unwrap();
    assert_eq!(
        (shown["line"].clone(), shown["column"].clone()),
        (json!(2), json!(21))
    );
    let rule = with(
        with(base(), "condition", json!("true")),
        "clear",
        json!({"condition": "avg('pm25', 'soon') < 1.0"}),
    );
    let errors = compile_errors(rule);
    assert_eq!(errors[0].path, "clear.condition");
    assert_eq!((errors[0].line, errors[0].column), (Some(1), Some(1)));
    let mut rule = base();
    rule["actions"][0] = json!({"type": "derive", "key": "aqi", "expr": "msg.values.pm25 +* 2"});
    assert_eq!(compile_errors(rule)[0].path, "actions[0].expr");
}

#[test]
fn every_problem_is_reported_at_once() {
    let rule = json!({"id": "bad id", "tenant": "t1",
    "trigger": {"type": "schedule", "cron": "61 * * * *", "tz": "Mars/Olympus"},
    "for": "1m",
    "actions": [
        {"type": "set_desired", "values": {"fan": 1}},
        {"type": "publish", "topic": "a/#", "payload": "${values", "qos": 2},
        {"type": "webhook", "url": "ftp://x", "retries": 99},
        {"type": "derive", "key": "k", "expr": "1"},
        {"type": "raise_alarm", "alarm": "a", "severity": "major"}
    ]});
    let mut paths: Vec<String> = compile_errors(rule).into_iter().map(|e| e.path).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "actions[0].devices",
            "actions[1].payload",
            "actions[1].qos",
            "actions[1].topic",
            "actions[2].retries",
            "actions[2].url",
            "actions[3].key",
            "actions[4].device",
            "id",
            "trigger",
            "trigger.cron",
            "trigger.tz"
        ]
    );
    assert_eq!(
        compile_errors(with(base(), "actions", json!([])))[0].path,
        "actions"
    );
    let kinds = with(
        base(),
        "trigger",
        json!({"type": "message", "kinds": ["alarm"]}),
    );
    assert_eq!(compile_errors(kinds)[0].path, "trigger.kinds");
}

#[test]
fn scenes_name_their_targets() {
    let scene: SceneDef = serde_json::from_value(json!({"id": "night", "tenant": "t1", "name": "Night",
        "actions": [{"type": "set_desired", "devices": ["lamp-1", "lamp-2"], "values": {"on": false}},
                    {"type": "publish", "topic": "scenes/${scene}", "payload": {"at": "${ts}"}}]}))
    .unwrap();
    let run = compile_scene(scene).unwrap().run(42);
    assert!(run.errors.is_empty());
    let planned = serde_json::to_value(&run.actions).unwrap();
    assert_eq!(planned[0]["device"], "lamp-1");
    assert_eq!(planned[1]["device"], "lamp-2");
    assert_eq!(planned[1]["hops"], 1);
    assert_eq!(planned[2]["topic"], "scenes/night");
    assert_eq!(planned[2]["payload"], json!({"at": 42}));
    let bad: SceneDef = serde_json::from_value(json!({"id": "s", "tenant": "t1",
        "actions": [{"type": "command", "name": "blink"}]}))
    .unwrap();
    assert_eq!(
        compile_scene(bad).unwrap_err().0[0].path,
        "actions[0].devices"
    );
    assert!(SceneDef::from_json(br#"{"id": "s", "tenant": "t1", "actions": [], "x": 1}"#).is_err());
}
