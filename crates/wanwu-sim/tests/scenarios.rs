//! Every scenario's data fits its own product, through wanwu-model's validation, and the
//! same seed gives the same data.

use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use wanwu_model::value::validate_value;
use wanwu_model::{Param, Product, parse_telemetry};
use wanwu_sim::{Scenario, SimDevice, Tick};

const START: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z, a Monday.
const TEN_MINUTES: i64 = 600_000;

fn device(scenario: Scenario, seed: u64, index: u64, step_ms: i64) -> SimDevice {
    SimDevice::new(
        format!("{}-{index}", scenario.device_prefix()),
        scenario,
        seed,
        index,
        START,
        step_ms,
    )
}

/// Checks `params` against the declared `spec`: every key declared and valid, every
/// declared parameter present.
fn check_params(spec: &[Param], params: &Json, what: &str) {
    let params = params
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object"));
    for (key, value) in params {
        let param = spec
            .iter()
            .find(|p| &p.id == key)
            .unwrap_or_else(|| panic!("{what}: undeclared parameter {key}"));
        validate_value(key, param.spec(), value).unwrap_or_else(|e| panic!("{what}: {e}"));
    }
    for param in spec {
        assert!(
            params.contains_key(&param.id),
            "{what}: missing {}",
            param.id
        );
    }
}

/// Validates one tick's telemetry and events against the device's product; returns the
/// names of the events.
fn check_tick(scenario: Scenario, product: &Product, tick: &Tick) -> Vec<&'static str> {
    let payload = tick.telemetry_payload();
    let points = parse_telemetry(product, &payload, 0).unwrap_or_else(|e| {
        panic!(
            "{}: {e} in {}",
            product.id,
            String::from_utf8_lossy(&payload)
        )
    });
    assert_eq!(points[0].ts, tick.ts);
    let derived = scenario.derived_properties();
    assert_eq!(
        points[0].values.len(),
        product.properties.len() - derived.len(),
        "every measured property is reported"
    );
    for key in derived {
        assert!(product.property(key).is_some(), "{key} is a property");
        assert!(
            !points[0].values.contains_key(*key),
            "{key} is not measured"
        );
    }
    tick.events
        .iter()
        .map(|event| {
            let spec = product
                .event(event.name)
                .unwrap_or_else(|| panic!("{}: undeclared event {}", product.id, event.name));
            let payload: Json = serde_json::from_slice(&tick.event_payload(event)).unwrap();
            assert_eq!(payload["ts"], json!(tick.ts));
            check_params(&spec.params, &payload["params"], event.name);
            event.name
        })
        .collect()
}

#[test]
fn products_pass_validation_and_survive_json() {
    for scenario in Scenario::ALL {
        let product = scenario.product();
        product
            .validate()
            .unwrap_or_else(|e| panic!("{scenario}: {e}"));
        let json = serde_json::to_value(&product).unwrap();
        let back: Product = serde_json::from_value(json).unwrap();
        assert_eq!(back, product, "{scenario}");
        assert_eq!(scenario.name().parse::<Scenario>().unwrap(), scenario);
    }
    assert!("nope".parse::<Scenario>().is_err());
}

#[test]
fn telemetry_events_and_reports_fit_the_products_over_many_devices_and_steps() {
    for scenario in Scenario::ALL {
        let product = scenario.product();
        let mut events: BTreeMap<&str, usize> = BTreeMap::new();
        let mut anomalies: BTreeMap<&str, usize> = BTreeMap::new();
        for index in 0..60 {
            let mut sim = device(scenario, 7, index, 2 * TEN_MINUTES);
            if let Some(anomaly) = sim.anomaly() {
                *anomalies.entry(anomaly).or_default() += 1;
            }
            for _ in 0..600 {
                let tick = sim.tick();
                for name in check_tick(scenario, &product, &tick) {
                    *events.entry(name).or_default() += 1;
                }
            }
            let reported = Json::Object(sim.reported()).to_string();
            if reported != "{}" {
                parse_telemetry(&product, reported.as_bytes(), 0)
                    .unwrap_or_else(|e| panic!("{scenario} report: {e}"));
            }
        }
        assert!(!anomalies.is_empty(), "{scenario}: some devices misbehave");
        for event in &product.events {
            assert!(
                events.get(event.id.as_str()).copied().unwrap_or(0) > 0,
                "{scenario}: event {} happens in 60 devices x 600 steps: {events:?}",
                event.id
            );
        }
    }
}

/// PM2.5 series of the first air station (of 400) with `anomaly`, over `steps` steps.
fn pm25_of_faulty_station(anomaly: &str, steps: usize) -> Vec<f64> {
    let product = Scenario::AirQuality.product();
    let mut sim = (0..400)
        .map(|i| device(Scenario::AirQuality, 3, i, TEN_MINUTES))
        .find(|d| d.anomaly() == Some(anomaly))
        .unwrap_or_else(|| panic!("no station with {anomaly}"));
    (0..steps)
        .map(|_| {
            let tick = sim.tick();
            check_tick(Scenario::AirQuality, &product, &tick);
            tick.values["pm25"].as_f64().unwrap()
        })
        .collect()
}

#[test]
fn faulty_air_sensors_misbehave_but_stay_type_valid() {
    let stuck = pm25_of_faulty_station("stuck_sensor", 1000);
    let tail = &stuck[600..];
    assert!(
        tail.iter().all(|v| *v == tail[0]),
        "a stuck sensor repeats itself"
    );

    let spiking = pm25_of_faulty_station("spiking_sensor", 1000);
    assert!(
        spiking.iter().filter(|v| **v >= 400.0).count() >= 5,
        "spikes happen"
    );

    let drifting = pm25_of_faulty_station("drifting_sensor", 2000);
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    assert!(
        mean(&drifting[1800..]) > mean(&drifting[200..400]) + 100.0,
        "drift grows"
    );
}

#[test]
fn healthy_air_stations_follow_traffic_and_weather() {
    // Average over healthy stations: rush hour NO2 above the small hours on weekdays.
    let mut rush = 0.0;
    let mut night = 0.0;
    for index in 0..40 {
        let mut sim = device(Scenario::AirQuality, 11, index, 3_600_000);
        if sim.anomaly().is_some() {
            continue;
        }
        for step in 0..(24 * 5) {
            let tick = sim.tick();
            let no2 = tick.values["no2"].as_f64().unwrap();
            match step % 24 {
                0 => rush += no2,   // 08:00 local
                20 => night += no2, // 04:00 local
                _ => {}
            }
        }
    }
    assert!(rush > 1.5 * night, "rush {rush} night {night}");
}

fn series(scenario: Scenario, seed: u64, index: u64, steps: usize) -> Vec<Tick> {
    let mut sim = device(scenario, seed, index, TEN_MINUTES);
    (0..steps).map(|_| sim.tick()).collect()
}

#[test]
fn the_same_seed_gives_the_same_data_and_another_seed_other_data() {
    for scenario in Scenario::ALL {
        for index in [0, 5, 99] {
            let a = series(scenario, 42, index, 500);
            assert!(
                a == series(scenario, 42, index, 500),
                "{scenario} {index} repeats"
            );
            assert!(
                a != series(scenario, 43, index, 500),
                "{scenario} {index} seeds differ"
            );
            assert!(
                a != series(scenario, 42, index + 1, 500),
                "{scenario} devices differ"
            );
        }
    }
}
