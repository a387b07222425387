//! Schedule triggers: cron in an IANA time zone, driven by an injected clock.

mod common;

use common::{rule, setup};
use serde_json::json;
use wanwu_rules::{PlannedAction, Scheduler};

/// Ms since the epoch of a civil time in Asia/Shanghai.
fn shanghai(civil: &str) -> i64 {
    civil
        .parse::<jiff::civil::DateTime>()
        .unwrap()
        .in_tz("Asia/Shanghai")
        .unwrap()
        .timestamp()
        .as_millisecond()
}

#[test]
fn cron_fires_at_local_times_in_its_zone() {
    let s = setup();
    s.engine
        .put_rule(rule(json!({"trigger": {"type": "schedule", "cron": "0 8 * * 1-5", "tz": "Asia/Shanghai"},
            "actions": [{"type": "set_desired", "devices": ["st-1", "st-2"], "values": {"mode": "day", "at": "${ts}"}}]})))
        .unwrap();
    let mut scheduler = Scheduler::new();
    // Friday 2024-01-05 07:59 in Shanghai (23:59 UTC the day before).
    s.clock.set(shanghai("2024-01-05T07:59:00"));
    assert!(
        scheduler.tick(&s.engine).is_empty(),
        "the first tick only plans"
    );
    s.clock.set(shanghai("2024-01-05T07:59:59"));
    assert!(scheduler.tick(&s.engine).is_empty());
    s.clock.set(shanghai("2024-01-05T08:00:00"));
    let firings = scheduler.tick(&s.engine);
    assert_eq!(firings.len(), 1);
    assert_eq!(
        firings[0].ts, 1_704_412_800_000,
        "08:00 in Shanghai is 00:00 UTC"
    );
    assert_eq!(firings[0].device, None);
    let targets: Vec<_> = firings[0]
        .actions
        .iter()
        .map(|a| match a {
            PlannedAction::SetDesired { device, values, .. } => {
                (device.clone(), values["at"].clone())
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        targets,
        [
            ("st-1".to_string(), json!(1_704_412_800_000i64)),
            ("st-2".to_string(), json!(1_704_412_800_000i64))
        ]
    );
    s.clock.set(shanghai("2024-01-05T12:00:00"));
    assert!(scheduler.tick(&s.engine).is_empty(), "once a day");
    // Saturday and Sunday are skipped; Monday fires.
    for day in ["2024-01-06T08:00:30", "2024-01-07T08:00:30"] {
        s.clock.set(shanghai(day));
        assert!(scheduler.tick(&s.engine).is_empty(), "{day}");
    }
    s.clock.set(shanghai("2024-01-08T08:00:01"));
    assert_eq!(scheduler.tick(&s.engine).len(), 1);
    let metrics = s.engine.metrics("t1", "r1").unwrap();
    assert_eq!((metrics.firings, metrics.actions), (2, 4));
}

#[test]
fn missed_occurrences_fire_once_and_conditions_apply() {
    let s = setup();
    s.engine
        .put_rule(rule(json!({"id": "every-minute", "trigger": {"type": "schedule", "cron": "* * * * *", "tz": "Asia/Shanghai"},
            "actions": [{"type": "publish", "topic": "tick", "payload": "${ts}"}]})))
        .unwrap();
    s.engine
        .put_rule(rule(
            json!({"id": "odd", "trigger": {"type": "schedule", "cron": "* * * * *"},
            "condition": "msg.ts % 120000 == 60000",
            "actions": [{"type": "publish", "topic": "odd", "payload": "${ts}"}]}),
        ))
        .unwrap();
    let mut scheduler = Scheduler::new();
    s.clock.set(shanghai("2024-01-05T10:00:00"));
    scheduler.tick(&s.engine);
    s.clock.set(shanghai("2024-01-05T10:30:00"));
    let rules: Vec<String> = scheduler
        .tick(&s.engine)
        .into_iter()
        .map(|f| f.rule)
        .collect();
    assert_eq!(
        rules,
        ["every-minute"],
        "30 missed minutes fire once; 10:30 is an even minute"
    );
    s.clock.set(shanghai("2024-01-05T10:31:00"));
    let mut rules: Vec<String> = scheduler
        .tick(&s.engine)
        .into_iter()
        .map(|f| f.rule)
        .collect();
    rules.sort();
    assert_eq!(rules, ["every-minute", "odd"]);
}
