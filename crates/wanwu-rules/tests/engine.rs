//! The engine over real rule definitions: triggers, conditions, debounce, hysteresis,
//! aggregates, actions as planned, loop bound, failure isolation and the dry run.

mod common;

use common::{T0, model_values, rule, setup, telemetry};
use serde_json::json;
use wanwu_rules::alarm::AlarmBook;
use wanwu_rules::{AlarmSeverity, Input, InputKind, PlannedAction, TestContext, TwinSnapshot};

fn fired_devices(firings: &[wanwu_rules::Firing]) -> Vec<String> {
    firings.iter().filter_map(|f| f.device.clone()).collect()
}

const PUBLISH: &str =
    r#"[{"type": "publish", "topic": "alerts/${device}", "payload": {"pm25": "${values.pm25}"}}]"#;

fn publish() -> serde_json::Value {
    serde_json::from_str(PUBLISH).unwrap()
}

#[test]
fn message_triggers_choose_devices_by_product_asset_tags_and_ids() {
    let cases = [
        (json!({"product": "aq"}), vec!["st-1", "st-2", "st-3"]),
        (json!({"asset": "xuhui"}), vec!["st-1", "st-2"]),
        (json!({"asset": "city"}), vec!["st-1", "st-2", "st-3"]),
        (
            json!({"tags": {"district": "xuhui"}}),
            vec!["st-1", "st-2", "m-1"],
        ),
        (json!({"ids": ["st-3", "m-1"]}), vec!["st-3", "m-1"]),
        (
            json!({"product": "aq", "tags": {"district": "minhang"}}),
            vec!["st-3"],
        ),
        // No criterion: every device of the tenant, even one the directory does not know yet.
        (json!({}), vec!["st-1", "st-2", "st-3", "m-1", "unknown"]),
    ];
    for (selector, expected) in cases {
        let s = setup();
        s.engine
            .put_rule(rule(
                json!({"trigger": {"type": "message", "devices": selector}, "actions": publish()}),
            ))
            .unwrap();
        let mut evaluator = s.engine.evaluator();
        let mut fired = Vec::new();
        for device in ["st-1", "st-2", "st-3", "m-1", "unknown"] {
            fired.extend(fired_devices(&evaluator.process(&telemetry(
                device,
                T0,
                json!({"pm25": 1.0}),
            ))));
        }
        assert_eq!(fired, expected, "selector {selector}");
    }
}

#[test]
fn other_tenants_never_see_the_rule() {
    let s = setup();
    s.engine
        .put_rule(rule(
            json!({"trigger": {"type": "message"}, "actions": publish()}),
        ))
        .unwrap();
    let mut evaluator = s.engine.evaluator();
    let other = Input::telemetry("t2", "st-1", T0, model_values(json!({"pm25": 1.0})));
    assert!(evaluator.process(&other).is_empty());
}

#[test]
fn event_presence_and_twin_kinds_trigger_only_their_rules() {
    let s = setup();
    for (id, kind) in [
        ("on-event", "event"),
        ("on-presence", "presence"),
        ("on-twin", "twin"),
        ("on-telemetry", "telemetry"),
    ] {
        s.engine
            .put_rule(rule(json!({"id": id, "trigger": {"type": "message", "kinds": [kind]}, "actions": publish()})))
            .unwrap();
    }
    s.engine
        .put_rule(rule(
            json!({"id": "offline", "trigger": {"type": "message", "kinds": ["presence"]},
            "condition": "msg.values.online == false", "actions": publish()}),
        ))
        .unwrap();
    s.engine
        .put_rule(rule(
            json!({"id": "fail-event", "trigger": {"type": "message", "kinds": ["event"]},
            "condition": "msg.event == 'fail' && msg.values.code >= 3", "actions": publish()}),
        ))
        .unwrap();
    let mut evaluator = s.engine.evaluator();
    let rules_for = |evaluator: &mut wanwu_rules::Evaluator, input: Input| {
        let mut ids: Vec<String> = evaluator
            .process(&input)
            .into_iter()
            .map(|f| f.rule)
            .collect();
        ids.sort();
        ids
    };
    let mut event = telemetry("st-1", T0, json!({"code": 4}));
    event.kind = InputKind::Event;
    event.event = Some("fail".into());
    assert_eq!(rules_for(&mut evaluator, event), ["fail-event", "on-event"]);
    let mut presence = telemetry("st-1", T0, json!({"online": false}));
    presence.kind = InputKind::Presence;
    assert_eq!(
        rules_for(&mut evaluator, presence),
        ["offline", "on-presence"]
    );
    let mut twin = telemetry("st-1", T0, json!({"mode": "auto"}));
    twin.kind = InputKind::Twin;
    assert_eq!(rules_for(&mut evaluator, twin), ["on-twin"]);
    assert_eq!(
        rules_for(&mut evaluator, telemetry("st-1", T0, json!({"pm25": 3.0}))),
        ["on-telemetry"]
    );
}

#[test]
fn alarm_changes_trigger_alarm_rules() {
    let s = setup();
    s.engine
        .put_rule(rule(json!({"trigger": {"type": "alarm", "types": ["high_pm25"], "statuses": ["active"],
            "min_severity": "major", "devices": {"asset": "xuhui"}},
            "condition": "msg.alarm.count == 1",
            "actions": [{"type": "command", "devices": ["m-1"], "name": "siren", "params": {"alarm": "${alarm.id}"}}]})))
        .unwrap();
    let mut evaluator = s.engine.evaluator();
    let mut book = AlarmBook::new();
    let mut raise = |device: &str, alarm: &str, severity| {
        let change = book.raise("t1", device, alarm, severity, json!({}), T0);
        Input::alarm_change(change.alarm, T0, 1)
    };
    let major = raise("st-1", "high_pm25", AlarmSeverity::Major);
    let alarm_id = major.alarm.as_ref().unwrap().id.clone();
    let firings = evaluator.process(&major);
    assert_eq!(firings.len(), 1);
    assert_eq!(
        firings[0].actions,
        [PlannedAction::Command {
            tenant: "t1".into(),
            device: "m-1".into(),
            name: "siren".into(),
            params: json!({"alarm": alarm_id}).as_object().cloned().unwrap(),
            hops: 2,
        }]
    );
    assert!(
        evaluator
            .process(&raise("st-1", "high_pm25", AlarmSeverity::Major))
            .is_empty(),
        "count 2"
    );
    assert!(
        evaluator
            .process(&raise("st-2", "high_pm25", AlarmSeverity::Minor))
            .is_empty(),
        "too mild"
    );
    assert!(
        evaluator
            .process(&raise("st-3", "high_pm25", AlarmSeverity::Critical))
            .is_empty(),
        "other asset"
    );
    assert!(
        evaluator
            .process(&raise("st-2", "other", AlarmSeverity::Critical))
            .is_empty(),
        "other type"
    );
    assert!(
        evaluator
            .process(&telemetry("st-1", T0, json!({"pm25": 1.0})))
            .is_empty(),
        "not an alarm"
    );
}

#[test]
fn conditions_see_msg_device_twin_and_prev() {
    let s = setup();
    s.directory.put_twin(
        "t1",
        "st-1",
        TwinSnapshot {
            reported: json!({"mode": "auto"}).as_object().cloned().unwrap(),
            desired: json!({"fan": 2}).as_object().cloned().unwrap(),
        },
    );
    s.engine
        .put_rule(rule(json!({"trigger": {"type": "message"},
            "condition": "msg.values.pm25 > double(device.attributes.limit) && device.tags.district == 'xuhui' \
                && twin.reported.mode == 'auto' && twin.desired.fan < 3 && msg.values.pm25 - prev.pm25 > 20.0",
            "actions": publish()})))
        .unwrap();
    let mut evaluator = s.engine.evaluator();
    assert!(
        evaluator
            .process(&telemetry("st-1", T0, json!({"pm25": 90.0})))
            .is_empty(),
        "below limit"
    );
    assert_eq!(
        evaluator
            .process(&telemetry("st-1", T0 + 1, json!({"pm25": 120.0})))
            .len(),
        1,
        "jump of 30"
    );
    assert!(
        evaluator
            .process(&telemetry("st-1", T0 + 2, json!({"pm25": 130.0})))
            .is_empty(),
        "jump of 10"
    );
    assert!(
        evaluator
            .process(&telemetry("st-2", T0, json!({"pm25": 500.0})))
            .is_empty(),
        "no twin, no prev"
    );
}

#[test]
fn for_debounces_on_the_engine_clock() {
    let s = setup();
    s.engine
        .put_rule(rule(
            json!({"trigger": {"type": "message"}, "condition": "msg.values.pm25 > 100.0",
            "for": "10m", "actions": publish()}),
        ))
        .unwrap();
    let mut evaluator = s.engine.evaluator();
    let mut send = |pm25: f64| {
        let firings = evaluator.process(&telemetry("st-1", s.clock.now(), json!({"pm25": pm25})));
        s.clock.advance(60_000);
        firings.len()
    };
    // Holds for 9 minutes, then a break: nothing.
    let fired: usize = (0..10).map(|_| send(150.0)).sum();
    assert_eq!(fired, 0, "9 minutes is not enough");
    assert_eq!(send(50.0), 0);
    // Holds 10 minutes without a break: fires once, at the evaluation when 10 minutes passed.
    let counts: Vec<usize> = (0..14).map(|_| send(150.0)).collect();
    assert_eq!(counts, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
    // Without a clear condition it re-arms once the condition breaks.
    assert_eq!(send(10.0), 0);
    let counts: Vec<usize> = (0..11).map(|_| send(150.0)).collect();
    assert_eq!(counts.iter().sum::<usize>(), 1);
    let metrics = s.engine.metrics("t1", "r1").unwrap();
    assert_eq!(
        (metrics.evaluations, metrics.firings, metrics.actions),
        (37, 2, 2)
    );
}

trait Now {
    fn now(&self) -> i64;
}

impl Now for wanwu_rules::ManualClock {
    fn now(&self) -> i64 {
        wanwu_rules::Clock::now_ms(self)
    }
}

#[test]
fn clear_condition_gives_hysteresis_and_runs_clear_actions() {
    let s = setup();
    s.engine
        .put_rule(rule(json!({"trigger": {"type": "message"}, "condition": "msg.values.pm25 > 100.0",
            "clear": {"condition": "msg.values.pm25 < 80.0",
                      "actions": [{"type": "clear_alarm", "alarm": "high_pm25"}]},
            "actions": [{"type": "raise_alarm", "alarm": "high_pm25", "severity": "major",
                         "details": {"pm25": "${values.pm25}", "text": "${device_name}: ${values.pm25}"}}]})))
        .unwrap();
    let mut evaluator = s.engine.evaluator();
    let mut kinds = Vec::new();
    for (i, pm25) in [50.0, 120.0, 130.0, 95.0, 85.0, 110.0, 79.0, 90.0, 101.0]
        .into_iter()
        .enumerate()
    {
        for firing in evaluator.process(&telemetry("st-1", T0 + i as i64, json!({"pm25": pm25}))) {
            kinds.push((pm25, firing.cleared));
            match (&firing.actions[..], firing.cleared) {
                (
                    [
                        PlannedAction::RaiseAlarm {
                            details, severity, ..
                        },
                    ],
                    false,
                ) => {
                    assert_eq!(*severity, AlarmSeverity::Major);
                    assert_eq!(details["pm25"], json!(pm25));
                    assert_eq!(
                        details["text"],
                        json!(format!("Station st-1: {}", json!(pm25)))
                    );
                }
                ([PlannedAction::ClearAlarm { alarm, device, .. }], true) => {
                    assert_eq!((alarm.as_str(), device.as_str()), ("high_pm25", "st-1"));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(kinds, [(120.0, false), (79.0, true), (101.0, false)]);
}

#[test]
fn windowed_aggregates_over_recent_history() {
    let s = setup();
    s.engine
        .put_rule(rule(json!({"trigger": {"type": "message"},
            "condition": "avg('pm25', '5m') > 100.0 && count('pm25', '5m') >= 3 && max('pm25', '5m') < 200.0 \
                && min('pm25', '5m') > 50.0 && rate('pm25', '5m') > 0.0",
            "actions": publish()})))
        .unwrap();
    let mut evaluator = s.engine.evaluator();
    let points = [
        (0, 60.0),
        (60, 90.0),
        (120, 150.0),
        (180, 160.0),
        (240, 30.0),
        (600, 150.0),
    ];
    let fired: Vec<i64> = points
        .iter()
        .filter(|(secs, pm25)| {
            !evaluator
                .process(&telemetry("st-1", T0 + secs * 1000, json!({"pm25": pm25})))
                .is_empty()
        })
        .map(|(secs, _)| *secs)
        .collect();
    // At 120 s: avg(60, 90, 150) = 100, not above. At 180 s: avg 115, min 60, rate > 0.
    // At 240 s: min 30. At 600 s: one point in the window, count 1.
    assert_eq!(fired, [180]);
    // Another device's history is its own.
    assert!(
        evaluator
            .process(&telemetry("st-2", T0 + 180_000, json!({"pm25": 150.0})))
            .is_empty()
    );
    assert_eq!(
        s.engine.metrics("t1", "r1").unwrap().errors,
        0,
        "missing data is not an error"
    );
}

#[test]
fn every_action_kind_is_planned_with_templates() {
    let s = setup();
    s.engine
        .put_rule(rule(json!({"trigger": {"type": "message", "devices": {"product": "aq"}},
            "condition": "has(msg.values.v) && has(msg.values.i)",
            "actions": [
                {"type": "derive", "key": "power", "expr": "msg.values.v * msg.values.i"},
                {"type": "set_desired", "values": {"fan": 3, "reason": "power ${derived.power}"}},
                {"type": "command", "devices": ["m-1", "st-2"], "name": "reset", "params": {"from": "${device}"}},
                {"type": "raise_alarm", "alarm": "overload", "severity": "critical", "device": "${device}"},
                {"type": "clear_alarm", "alarm": "underload"},
                {"type": "publish", "topic": "power/${tags.district}/${device}", "payload": {"w": "${derived.power}"}, "qos": 1, "retain": true},
                {"type": "webhook", "url": "http://127.0.0.1:9/hook/${device}", "headers": {"x-key": "k"},
                 "body": {"w": "${derived.power}", "ts": "${ts}"}, "timeout": "2s", "retries": 1, "backoff": "10ms"}
            ]})))
        .unwrap();
    let mut evaluator = s.engine.evaluator();
    let mut input = telemetry("st-1", T0, json!({"v": 220.0, "i": 2.5}));
    input.hops = 1;
    let firings = evaluator.process(&input);
    assert_eq!(firings.len(), 1);
    let actions = serde_json::to_value(&firings[0].actions).unwrap();
    assert_eq!(
        actions,
        json!([
            {"type": "write_telemetry", "tenant": "t1", "device": "st-1", "ts": T0, "values": {"power": 550.0}, "hops": 2},
            {"type": "set_desired", "tenant": "t1", "device": "st-1", "values": {"fan": 3, "reason": "power 550.0"}, "hops": 2},
            {"type": "command", "tenant": "t1", "device": "m-1", "name": "reset", "params": {"from": "st-1"}, "hops": 2},
            {"type": "command", "tenant": "t1", "device": "st-2", "name": "reset", "params": {"from": "st-1"}, "hops": 2},
            {"type": "raise_alarm", "tenant": "t1", "device": "st-1", "alarm": "overload", "severity": "critical",
             "details": null, "ts": T0, "hops": 2},
            {"type": "clear_alarm", "tenant": "t1", "device": "st-1", "alarm": "underload", "ts": T0, "hops": 2},
            {"type": "publish", "tenant": "t1", "topic": "power/xuhui/st-1", "payload": {"w": 550.0}, "qos": 1, "retain": true},
            {"type": "webhook", "url": "http://127.0.0.1:9/hook/st-1", "headers": {"x-key": "k"},
             "body": {"w": 550.0, "ts": T0}, "timeout": "2s", "retries": 1, "backoff": "10ms"}
        ])
    );
}

#[test]
fn derived_values_written_back_are_bounded_by_hops() {
    let s = setup();
    // Every telemetry message of st-1 derives a key, which (written back) is telemetry again.
    s.engine
        .put_rule(rule(
            json!({"trigger": {"type": "message", "devices": {"ids": ["st-1"]}},
            "actions": [{"type": "derive", "key": "twice", "expr": "2"}]}),
        ))
        .unwrap();
    let mut evaluator = s.engine.evaluator();
    let mut input = telemetry("st-1", T0, json!({"pm25": 1.0}));
    let mut rounds = 0;
    loop {
        let firings = evaluator.process(&input);
        let Some(PlannedAction::WriteTelemetry {
            tenant,
            device,
            ts,
            values,
            hops,
        }) = firings.into_iter().flat_map(|f| f.actions).next()
        else {
            break;
        };
        rounds += 1;
        assert!(rounds <= 10, "the loop must end");
        input = wanwu_rules::Input::telemetry(tenant, device, ts, values);
        input.hops = hops;
    }
    assert_eq!(
        rounds, 4,
        "max_hops is 4: inputs of hop 0..=3 are evaluated"
    );
}

#[test]
fn a_failing_rule_records_its_error_and_the_others_go_on() {
    let s = setup();
    s.engine
        .put_rule(rule(json!({"id": "broken", "trigger": {"type": "message"},
            "condition": "msg.values.pm25 / 0 > 1", "actions": publish()})))
        .unwrap();
    s.engine
        .put_rule(rule(json!({"id": "not-bool", "trigger": {"type": "message"}, "condition": "msg.values.pm25", "actions": publish()})))
        .unwrap();
    s.engine
        .put_rule(rule(json!({"id": "fine", "trigger": {"type": "message"}, "condition": "msg.values.pm25 > 1.0", "actions": publish()})))
        .unwrap();
    let mut evaluator = s.engine.evaluator();
    for i in 0..3 {
        let firings = evaluator.process(&telemetry("st-1", T0 + i, json!({"pm25": 5.0})));
        assert_eq!(
            firings.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>(),
            ["fine"]
        );
    }
    let broken = s.engine.metrics("t1", "broken").unwrap();
    assert_eq!(
        (broken.evaluations, broken.errors, broken.firings),
        (3, 3, 0)
    );
    let last = broken.last_error.unwrap();
    assert_eq!(last.device.as_deref(), Some("st-1"));
    assert!(last.message.contains("div"), "{}", last.message);
    assert!(
        s.engine
            .metrics("t1", "not-bool")
            .unwrap()
            .last_error
            .unwrap()
            .message
            .contains("bool")
    );
    let fine = s.engine.metrics("t1", "fine").unwrap();
    assert_eq!(
        (fine.evaluations, fine.matches, fine.firings, fine.errors),
        (3, 3, 3, 0)
    );
}

#[test]
fn replacing_and_removing_rules_takes_effect_in_running_evaluators() {
    let s = setup();
    s.engine
        .put_rule(rule(json!({"trigger": {"type": "message"}, "condition": "msg.values.pm25 > 100.0", "actions": publish()})))
        .unwrap();
    let mut evaluator = s.engine.evaluator();
    assert_eq!(
        evaluator
            .process(&telemetry("st-1", T0, json!({"pm25": 150.0})))
            .len(),
        1
    );
    s.engine
        .put_rule(rule(json!({"trigger": {"type": "message"}, "condition": "msg.values.pm25 > 200.0", "actions": publish()})))
        .unwrap();
    assert!(
        evaluator
            .process(&telemetry("st-1", T0, json!({"pm25": 150.0})))
            .is_empty()
    );
    assert!(
        s.engine
            .put_rule(rule(
                json!({"trigger": {"type": "message"}, "condition": "(", "actions": publish()})
            ))
            .is_err()
    );
    assert_eq!(
        evaluator
            .process(&telemetry("st-1", T0, json!({"pm25": 250.0})))
            .len(),
        1,
        "a bad rule changes nothing"
    );
    assert!(s.engine.remove_rule("t1", "r1"));
    assert!(
        evaluator
            .process(&telemetry("st-1", T0, json!({"pm25": 250.0})))
            .is_empty()
    );
    assert!(!s.engine.remove_rule("t1", "r1"));
}

#[test]
fn dry_run_tells_what_would_happen_without_keeping_state() {
    let s = setup();
    let def = rule(
        json!({"trigger": {"type": "message", "devices": {"product": "aq"}},
        "condition": "avg('pm25', '5m') > 100.0 && msg.values.pm25 > prev.pm25", "for": "1m",
        "actions": [{"type": "publish", "topic": "a/${device}", "payload": "${values.pm25}"}]}),
    );
    let context: TestContext = serde_json::from_value(json!({
        "prev": {"pm25": 100.0},
        "history": [{"ts": T0 - 60_000, "values": {"pm25": 90.0}}]
    }))
    .unwrap();
    let outcome = s
        .engine
        .test(
            def.clone(),
            &telemetry("st-1", T0, json!({"pm25": 130.0})),
            &context,
        )
        .unwrap();
    assert!(outcome.trigger_matched);
    assert_eq!(outcome.condition, Some(true), "avg(90, 130) = 110");
    assert!(!outcome.fires, "it must hold for 1m first");
    assert_eq!(outcome.hold_ms, 60_000);
    assert_eq!(
        outcome.actions,
        [PlannedAction::Publish {
            tenant: "t1".into(),
            topic: "a/st-1".into(),
            payload: json!(130.0),
            qos: 0,
            retain: false
        }]
    );
    let outcome = s
        .engine
        .test(
            def.clone(),
            &telemetry("m-1", T0, json!({"pm25": 130.0})),
            &context,
        )
        .unwrap();
    assert!(!outcome.trigger_matched, "meter is not of product aq");
    let outcome = s
        .engine
        .test(def, &telemetry("st-1", T0, json!({"pm25": 95.0})), &context)
        .unwrap();
    assert_eq!(outcome.condition, Some(false));
    assert!(outcome.actions.is_empty());
    assert!(
        s.engine.rules().rules().is_empty(),
        "a dry run adds no rule"
    );
}

#[test]
fn a_device_that_changes_is_matched_anew() {
    let s = setup();
    s.engine
        .put_rule(rule(json!({"trigger": {"type": "message", "devices": {"tags": {"district": "xuhui"}}}, "actions": publish()})))
        .unwrap();
    let mut evaluator = s.engine.evaluator();
    assert_eq!(
        evaluator
            .process(&telemetry("st-1", T0, json!({"pm25": 1.0})))
            .len(),
        1
    );
    let mut moved = (*wanwu_rules::Directory::device(&*s.directory, "t1", "st-1").unwrap()).clone();
    moved.tags.insert("district".into(), "minhang".into());
    s.directory.put_device(moved);
    assert!(
        evaluator
            .process(&telemetry("st-1", T0 + 1, json!({"pm25": 1.0})))
            .is_empty()
    );
}
