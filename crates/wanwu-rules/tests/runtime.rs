//! The runtime: per-device order across workers, overflow counted never blocking, and
//! isolation of failing rules and panics.

mod common;

use common::{T0, rule, setup, telemetry};
use serde_json::json;
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};
use wanwu_rules::{Firing, PlannedAction, Runtime, RuntimeConfig};

fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn config(workers: usize, queue_capacity: usize) -> RuntimeConfig {
    RuntimeConfig {
        workers,
        queue_capacity,
        schedule_tick: None,
    }
}

#[test]
fn each_devices_inputs_are_evaluated_in_order() {
    let s = setup();
    s.engine
        .put_rule(rule(json!({"trigger": {"type": "message"},
            "actions": [{"type": "publish", "topic": "seq/${device}", "payload": "${values.seq}"}]})))
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::<(String, i64)>::new()));
    let sink = {
        let seen = seen.clone();
        move |firing: Firing| {
            if let [PlannedAction::Publish { topic, payload, .. }] = &firing.actions[..] {
                seen.lock()
                    .unwrap()
                    .push((topic.clone(), payload.as_i64().unwrap()));
            }
        }
    };
    let runtime = Runtime::start(s.engine.clone(), config(3, 10_000), Arc::new(sink));
    let devices = ["st-1", "st-2", "st-3", "m-1"];
    for seq in 0..500 {
        for device in devices {
            assert!(runtime.submit(telemetry(device, T0 + seq, json!({"seq": seq}))));
        }
    }
    wait_until("2000 inputs", || runtime.stats().processed == 2000);
    let stats = runtime.stats();
    assert_eq!(
        (stats.accepted, stats.dropped, stats.firings, stats.panics),
        (2000, 0, 2000, 0)
    );
    let seen = seen.lock().unwrap();
    for device in devices {
        let order: Vec<i64> = seen
            .iter()
            .filter(|(t, _)| t.ends_with(device))
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(order, (0..500).collect::<Vec<_>>(), "{device}");
    }
}

#[test]
fn a_full_queue_drops_and_counts_without_blocking() {
    let s = setup();
    s.engine
        .put_rule(rule(json!({"trigger": {"type": "message"}, "actions": [{"type": "publish", "topic": "x", "payload": 1}]})))
        .unwrap();
    // The sink holds the only worker on its first firing until the test lets it go.
    let gate = Arc::new(Barrier::new(2));
    let (entered, wait_entered) = mpsc::channel();
    let sink = {
        let gate = gate.clone();
        move |_: Firing| {
            let _ = entered.send(());
            gate.wait();
        }
    };
    let runtime = Runtime::start(s.engine.clone(), config(1, 4), Arc::new(sink));
    assert!(runtime.submit(telemetry("st-1", T0, json!({"pm25": 1}))));
    wait_entered.recv_timeout(Duration::from_secs(10)).unwrap();
    let started = Instant::now();
    let accepted = (0..100)
        .filter(|i| runtime.submit(telemetry("st-1", T0 + i, json!({"pm25": 1}))))
        .count();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "submit never blocks"
    );
    assert_eq!(accepted, 4, "the queue holds 4");
    assert_eq!(runtime.stats().dropped, 96);
    // Let the worker go; the queued ones are evaluated.
    gate.wait();
    for _ in 0..4 {
        wait_entered.recv_timeout(Duration::from_secs(10)).unwrap();
        gate.wait();
    }
    wait_until("5 processed", || runtime.stats().processed == 5);
    assert_eq!(runtime.stats().accepted, 5);
}

#[test]
fn failing_rules_do_not_stop_the_others_in_the_runtime() {
    let s = setup();
    s.engine
        .put_rule(rule(json!({"id": "broken", "trigger": {"type": "message"}, "condition": "msg.values.pm25 + 'x' > 1",
            "actions": [{"type": "publish", "topic": "x", "payload": 1}]})))
        .unwrap();
    s.engine
        .put_rule(rule(
            json!({"id": "fine", "trigger": {"type": "message"}, "condition": "msg.values.pm25 > 1",
            "actions": [{"type": "publish", "topic": "y", "payload": 1}]}),
        ))
        .unwrap();
    let fired = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let fired = fired.clone();
        move |f: Firing| fired.lock().unwrap().push(f.rule)
    };
    let runtime = Runtime::start(s.engine.clone(), config(2, 100), Arc::new(sink));
    for i in 0..10 {
        runtime.submit(telemetry(["st-1", "st-2"][i % 2], T0, json!({"pm25": 5})));
    }
    wait_until("10 processed", || runtime.stats().processed == 10);
    runtime.shutdown();
    assert_eq!(*fired.lock().unwrap(), vec!["fine".to_string(); 10]);
    let broken = s.engine.metrics("t1", "broken").unwrap();
    assert_eq!((broken.evaluations, broken.errors), (10, 10));
}

#[test]
fn the_schedule_thread_fires_on_the_engine_clock() {
    let s = setup();
    s.engine
        .put_rule(rule(
            json!({"trigger": {"type": "schedule", "cron": "0 * * * *", "tz": "Asia/Shanghai"},
            "actions": [{"type": "command", "devices": ["m-1"], "name": "read"}]}),
        ))
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let sink = move |f: Firing| {
        let _ = tx.send(f);
    };
    let runtime = Runtime::start(
        s.engine.clone(),
        RuntimeConfig {
            workers: 1,
            queue_capacity: 10,
            schedule_tick: Some(Duration::from_millis(10)),
        },
        Arc::new(sink),
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(rx.try_recv().is_err(), "not yet the hour");
    s.clock.advance(3_600_000);
    let firing = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(firing.ts, T0 + 3_600_000);
    runtime.shutdown();
}

#[test]
fn a_shared_runtime_closes_after_evaluating_what_it_holds() {
    let s = setup();
    s.engine
        .put_rule(rule(
            json!({"id": "any", "trigger": {"type": "message"}, "condition": "msg.values.pm25 > 1",
            "actions": [{"type": "publish", "topic": "y", "payload": 1}]}),
        ))
        .unwrap();
    let fired = Arc::new(Mutex::new(0));
    let sink = {
        let fired = fired.clone();
        move |_: Firing| *fired.lock().unwrap() += 1
    };
    let runtime = Arc::new(Runtime::start(
        s.engine.clone(),
        config(2, 100),
        Arc::new(sink),
    ));
    for i in 0..50 {
        assert!(runtime.submit(telemetry(["st-1", "st-2"][i % 2], T0, json!({"pm25": 5}))));
    }
    let closing = runtime.clone();
    let closed = std::thread::spawn(move || closing.close());
    closed.join().unwrap();
    assert_eq!(
        runtime.stats().processed,
        50,
        "queued inputs were evaluated"
    );
    assert_eq!(*fired.lock().unwrap(), 50);
    assert!(
        !runtime.submit(telemetry("st-1", T0, json!({"pm25": 5}))),
        "a closed runtime takes no input"
    );
    assert_eq!(runtime.stats().dropped, 1);
}
