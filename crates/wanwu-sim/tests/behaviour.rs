//! Devices answer commands and desired state: a command in, the reply and the change of
//! state out, checked against the product.

use serde_json::{Value as Json, json};
use wanwu_model::value::validate_value;
use wanwu_model::{Param, PropertyType};
use wanwu_sim::{Scenario, SimDevice};

const START: i64 = 1_704_067_200_000; // 2024-01-01T08:00 local, a Monday.
const MINUTE: i64 = 60_000;

fn device(scenario: Scenario, index: u64) -> SimDevice {
    SimDevice::new("d1", scenario, 9, index, START, MINUTE)
}

/// A valid value for every parameter, from its declared type and range.
fn valid_params(params: &[Param]) -> Json {
    let mut out = serde_json::Map::new();
    for p in params {
        let mid = match (p.min, p.max) {
            (Some(min), Some(max)) => (min + max) / 2.0,
            _ => 1.0,
        };
        let value = match p.kind {
            PropertyType::Bool => json!(true),
            PropertyType::Int => json!(mid.round() as i64),
            PropertyType::Float => json!(mid),
            PropertyType::String => json!("x"),
            PropertyType::Enum => json!(p.values.as_ref().unwrap()[0]),
            PropertyType::Geo => json!({"lat": 31.2, "lon": 121.5}),
        };
        out.insert(p.id.clone(), value);
    }
    Json::Object(out)
}

fn command(device: &mut SimDevice, name: &str, params: Json) -> Json {
    let payload = json!({"id": "cmd-7", "params": params}).to_string();
    let reply = device
        .handle_command(name, payload.as_bytes())
        .expect("a reply");
    assert_eq!(reply.command_id, "cmd-7");
    reply.body
}

#[test]
fn every_command_with_valid_params_succeeds_with_a_response_that_fits() {
    for scenario in Scenario::ALL {
        let product = scenario.product();
        for spec in &product.commands {
            for index in 0..20 {
                let mut sim = device(scenario, index);
                sim.tick();
                let body = command(&mut sim, &spec.id, valid_params(&spec.params));
                assert_eq!(body["status"], "ok", "{scenario} {}: {body}", spec.id);
                let result = body["result"].as_object().unwrap();
                for param in &spec.response {
                    let value = result
                        .get(&param.id)
                        .unwrap_or_else(|| panic!("{}: no {}", spec.id, param.id));
                    validate_value(&param.id, param.spec(), value).unwrap();
                }
                assert_eq!(result.len(), spec.response.len());
                let tick = sim.tick();
                wanwu_model::parse_telemetry(&product, &tick.telemetry_payload(), 0).unwrap();
            }
        }
    }
}

#[test]
fn bad_commands_get_an_error_reply_and_change_nothing() {
    let mut light = device(Scenario::StreetLights, 0);
    let before = light.reported();
    for (name, params) in [
        ("explode", json!({})),
        ("set_power", json!({"on": "yes"})),
        ("set_power", json!({"on": true, "level": 101})),
        ("set_power", json!({"on": true, "colour": "red"})),
        ("set_power", json!({})),
        ("blink", json!({"times": 0})),
        ("set_power", json!([1, 2])),
    ] {
        let body = command(&mut light, name, params.clone());
        assert_eq!(body["status"], "error", "{name} {params}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    assert_eq!(light.reported(), before);
    assert_eq!(light.handle_command("blink", b"not json"), None);
    assert_eq!(
        light.handle_command("blink", br#"{"params": {}}"#),
        None,
        "no id to answer"
    );
}

#[test]
fn street_light_obeys_set_power_and_blink() {
    let mut light = device(Scenario::StreetLights, 3);
    let tick = light.tick();
    assert_eq!(tick.values["on"], false, "08:00: the schedule keeps it off");
    let body = command(&mut light, "set_power", json!({"on": true, "level": 40}));
    assert_eq!(body["result"], json!({"on": true, "level": 40}));
    assert_eq!(light.reported()["mode"], "manual");
    let tick = light.tick();
    assert_eq!(tick.values["on"], true, "manual control beats the schedule");
    assert_eq!(tick.values["level"], 40);
    if tick.values["lamp_ok"] == true {
        assert!(tick.values["power"].as_f64().unwrap() > 5.0);
    }
    let body = command(&mut light, "blink", json!({"times": 3}));
    assert_eq!(body["result"], json!({"times": 3}));
    assert_eq!(
        light.tick().values["on"],
        true,
        "blinking leaves it as it was"
    );
}

#[test]
fn street_light_takes_desired_state_and_refuses_what_it_cannot_take() {
    let mut light = device(Scenario::StreetLights, 4);
    light.tick();
    let outcome = light
        .apply_desired(br#"{"on": true, "level": 70, "power": 5, "lamp_ok": false, "bogus": 1}"#);
    assert_eq!(outcome.applied, ["level", "on"]);
    let refused: Vec<_> = outcome.refused.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        refused,
        ["bogus", "lamp_ok", "power"],
        "read-only and unknown keys"
    );
    assert_eq!(
        light.reported(),
        json!({"on": true, "level": 70, "mode": "manual"})
            .as_object()
            .unwrap()
            .clone()
    );
    assert_eq!(light.tick().values["on"], true);

    // The platform's delta may come wrapped, with its version.
    let outcome =
        light.apply_desired(br#"{"delta": {"mode": "auto", "level": 500}, "version": 4}"#);
    assert_eq!(outcome.applied, ["mode"]);
    assert_eq!(outcome.refused[0].0, "level", "out of range");
    assert_eq!(
        light.tick().values["on"],
        false,
        "back on schedule: daytime, off"
    );

    let outcome = light.apply_desired(b"[1]");
    assert!(outcome.applied.is_empty() && outcome.refused.len() == 1);
}

#[test]
fn closing_a_water_valve_stops_the_flow() {
    let mut meter = device(Scenario::WaterMeters, 1);
    meter.tick();
    let body = command(&mut meter, "valve", json!({"state": "closed"}));
    assert_eq!(body["result"], json!({"state": "closed"}));
    let volume = meter.tick().values["volume"].clone();
    for _ in 0..120 {
        let tick = meter.tick();
        assert_eq!(tick.values["flow"], 0.0);
        assert_eq!(tick.values["volume"], volume);
        assert_eq!(tick.values["valve"], "closed");
    }
    let outcome = meter.apply_desired(br#"{"valve": "open"}"#);
    assert_eq!(outcome.applied, ["valve"]);
    assert_eq!(meter.reported()["valve"], "open");
}

#[test]
fn transformer_tap_raises_the_voltage() {
    let mut low = device(Scenario::PowerGrid, 2);
    let mut high = device(Scenario::PowerGrid, 2);
    command(&mut high, "set_tap", json!({"position": 2}));
    let (a, b) = (low.tick(), high.tick());
    assert_eq!(b.values["tap"], 2);
    let v = |t: &wanwu_sim::Tick| t.values["voltage_a"].as_f64().unwrap();
    assert!(v(&b) > v(&a) + 8.0, "{} vs {}", v(&b), v(&a));
}

#[test]
fn a_failed_machine_stops_until_reset() {
    let mut machine = (0..100)
        .map(|i| SimDevice::new("m", Scenario::Factory, 9, i, START, 20 * MINUTE))
        .find(|d| d.anomaly() == Some("degrading"))
        .unwrap();
    let mut failed = false;
    for _ in 0..5000 {
        let tick = machine.tick();
        if tick.events.iter().any(|e| e.name == "machine_fault") {
            failed = true;
            break;
        }
    }
    assert!(failed, "a degrading machine fails within 5000 steps");
    for _ in 0..50 {
        let tick = machine.tick();
        assert_eq!(tick.values["state"], "fault");
        assert_eq!(tick.values["spindle_speed"], 0);
    }
    let body = command(&mut machine, "reset", json!({}));
    assert_eq!(body["result"], json!({"state": "idle"}));
    let states: Vec<_> = (0..200)
        .map(|_| machine.tick().values["state"].clone())
        .collect();
    assert!(!states.contains(&json!("fault")));
    assert!(
        states.contains(&json!("running")),
        "runs again in its shifts"
    );
}

#[test]
fn a_van_takes_a_new_setpoint_by_command_and_desired_state() {
    let mut van = device(Scenario::Fleet, 5);
    van.tick();
    let body = command(&mut van, "set_setpoint", json!({"celsius": 2.5}));
    assert_eq!(body["result"], json!({"setpoint": 2.5}));
    assert_eq!(van.tick().values["setpoint"], 2.5);
    assert_eq!(
        van.apply_desired(br#"{"setpoint": -20}"#).applied,
        ["setpoint"]
    );
    assert_eq!(van.reported()["setpoint"], -20.0);
    let body = command(&mut van, "set_setpoint", json!({"celsius": 50}));
    assert_eq!(body["status"], "error");
}

#[test]
fn vans_drive_along_roads() {
    let mut van = device(Scenario::Fleet, 6);
    let mut moved = 0;
    let mut last = None;
    for _ in 0..600 {
        let tick = van.tick();
        let loc = &tick.values["location"];
        let (lat, lon) = (loc["lat"].as_f64().unwrap(), loc["lon"].as_f64().unwrap());
        // On a road: one coordinate sits on the 0.01° grid.
        let on_grid = |x: f64| ((x * 100.0) - (x * 100.0).round()).abs() < 1e-3;
        assert!(on_grid(lat) || on_grid(lon), "off road at {lat},{lon}");
        assert!((lat - 31.2).abs() <= 0.1 + 1e-9 && (lon - 121.5).abs() <= 0.1 + 1e-9);
        if last.is_some_and(|l| l != (lat, lon)) {
            moved += 1;
        }
        last = Some((lat, lon));
    }
    assert!(moved > 100, "it drives: {moved}");
}
