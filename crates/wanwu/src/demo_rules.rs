//! The example rules of `wanwu demo`, as the stored-rules API takes them: the air-quality
//! index derived from PM2.5 and PM10, a PM2.5 alarm that waits for the level to hold, water
//! leaks, transformer overloads, and the street lights' evening and morning schedule.

use serde_json::{Value as Json, json};
use wanwu_sim::{CityPlan, Scenario};

/// Id of the rule that derives `aqi`: its firing writes telemetry that can be seen.
pub const AQI_RULE: &str = "aqi";

/// Time zone of the city's calendar (the schedule of its street lights).
const CITY_TZ: &str = "Asia/Shanghai";

/// Breakpoints of one pollutant's individual index (HJ 633-2012, hourly concentrations
/// in µg/m³): from concentration `c_lo..c_hi` the index runs `i_lo..i_hi`.
type Breakpoints = [(f64, f64, f64, f64); 7];

const PM25_BREAKPOINTS: Breakpoints = [
    (0.0, 35.0, 0.0, 50.0),
    (35.0, 75.0, 50.0, 100.0),
    (75.0, 115.0, 100.0, 150.0),
    (115.0, 150.0, 150.0, 200.0),
    (150.0, 250.0, 200.0, 300.0),
    (250.0, 350.0, 300.0, 400.0),
    (350.0, 500.0, 400.0, 500.0),
];

const PM10_BREAKPOINTS: Breakpoints = [
    (0.0, 50.0, 0.0, 50.0),
    (50.0, 150.0, 50.0, 100.0),
    (150.0, 250.0, 100.0, 150.0),
    (250.0, 350.0, 150.0, 200.0),
    (350.0, 420.0, 200.0, 300.0),
    (420.0, 500.0, 300.0, 400.0),
    (500.0, 600.0, 400.0, 500.0),
];

/// The rules for `plan`: the schedule names the plan's street lights.
pub fn city_rules(plan: &CityPlan) -> Vec<Json> {
    let product = |scenario: Scenario| scenario.product().id;
    let telemetry_of = |scenario| json!({"type": "message", "kinds": ["telemetry"], "devices": {"product": product(scenario)}});
    let lights: Vec<&str> = plan
        .devices
        .iter()
        .filter(|d| d.scenario == Scenario::StreetLights)
        .map(|d| d.id.as_str())
        .collect();
    let pm25 = individual_index("msg.values.pm25", &PM25_BREAKPOINTS);
    let pm10 = individual_index("msg.values.pm10", &PM10_BREAKPOINTS);
    let mut rules = vec![
        json!({
            "id": AQI_RULE,
            "name": "Air quality index from PM2.5 and PM10",
            "trigger": telemetry_of(Scenario::AirQuality),
            "condition": "has(msg.values.pm25) && has(msg.values.pm10)",
            "actions": [{
                "type": "derive",
                "key": "aqi",
                "expr": format!("int(({pm25}) > ({pm10}) ? ({pm25}) : ({pm10}))"),
            }],
        }),
        json!({
            "id": "pm25-high",
            "name": "PM2.5 above 75 ug/m3 for ten minutes",
            "trigger": telemetry_of(Scenario::AirQuality),
            "condition": "avg('pm25', '10m') > 75.0",
            "for": "10m",
            "clear": {
                "condition": "avg('pm25', '10m') < 50.0",
                "actions": [{"type": "clear_alarm", "alarm": "pm25_high"}],
            },
            "actions": [{
                "type": "raise_alarm", "alarm": "pm25_high", "severity": "major",
                "details": {"pm25": "${values.pm25}"},
            }],
        }),
        json!({
            "id": "water-leak",
            "name": "Water leak: close the valve",
            "trigger": {"type": "message", "kinds": ["event"],
                        "devices": {"product": product(Scenario::WaterMeters)}},
            "condition": "msg.event == 'leak_detected'",
            "actions": [
                {"type": "raise_alarm", "alarm": "water_leak", "severity": "minor",
                 "details": {"flow": "${values.flow}"}},
                {"type": "set_desired", "values": {"valve": "closed"}},
            ],
        }),
        json!({
            "id": "transformer-overload",
            "name": "Transformer above its rating for five minutes",
            "trigger": telemetry_of(Scenario::PowerGrid),
            "condition": "msg.values.load > 100.0",
            "for": "5m",
            "clear": {
                "condition": "msg.values.load < 90.0",
                "actions": [{"type": "clear_alarm", "alarm": "transformer_overload"}],
            },
            "actions": [{
                "type": "raise_alarm", "alarm": "transformer_overload", "severity": "critical",
                "details": {"load": "${values.load}", "oil_temperature": "${values.oil_temperature}"},
            }],
        }),
    ];
    if !lights.is_empty() {
        let schedule = |id: &str, name: &str, cron: &str, on: bool, level: u8| {
            json!({
                "id": id,
                "name": name,
                "trigger": {"type": "schedule", "cron": cron, "tz": CITY_TZ},
                "actions": [{"type": "set_desired", "devices": lights,
                             "values": {"on": on, "level": level}}],
            })
        };
        rules.push(schedule(
            "street-lights-evening",
            "Street lights on at dusk",
            "30 18 * * *",
            true,
            100,
        ));
        rules.push(schedule(
            "street-lights-night",
            "Street lights dimmed after midnight",
            "0 0 * * *",
            true,
            40,
        ));
        rules.push(schedule(
            "street-lights-morning",
            "Street lights off at dawn",
            "0 6 * * *",
            false,
            0,
        ));
    }
    rules
}

/// A CEL expression of the individual index of the concentration `value` (a float):
/// linear between breakpoints, 500 above the last.
fn individual_index(value: &str, breakpoints: &Breakpoints) -> String {
    let mut expr = String::from("500.0");
    for (c_lo, c_hi, i_lo, i_hi) in breakpoints.iter().rev() {
        let slope = (i_hi - i_lo) / (c_hi - c_lo);
        expr =
            format!("{value} <= {c_hi:?} ? {i_lo:?} + ({value} - {c_lo:?}) * {slope:?} : {expr}");
    }
    expr
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use wanwu_model::Value;
    use wanwu_rules::{
        DeviceInfo, Engine, EngineConfig, Input, MemoryDirectory, PlannedAction, RuleDef,
        SystemClock,
    };

    fn engine_with_city_rules() -> (Arc<Engine>, CityPlan) {
        let plan = wanwu_sim::demo_city(1);
        let directory = Arc::new(MemoryDirectory::default());
        for device in &plan.devices {
            directory.put_device(DeviceInfo {
                id: device.id.clone(),
                tenant: "default".into(),
                product: device.product.clone(),
                ..Default::default()
            });
        }
        let engine = Engine::new(directory, Arc::new(SystemClock), EngineConfig::default());
        for mut rule in city_rules(&plan) {
            rule["tenant"] = "default".into();
            let def = RuleDef::from_json(rule.to_string().as_bytes())
                .unwrap_or_else(|e| panic!("{}: {e}", rule["id"]));
            engine
                .put_rule(def)
                .unwrap_or_else(|e| panic!("{}: {e}", rule["id"]));
        }
        (engine, plan)
    }

    /// The AQI the rule derives for a station reading `pm25` and `pm10`.
    fn aqi(pm25: f64, pm10: f64) -> Json {
        let (engine, plan) = engine_with_city_rules();
        let station = plan
            .devices
            .iter()
            .find(|d| d.scenario == Scenario::AirQuality)
            .expect("a station");
        let values: BTreeMap<String, Value> = [
            ("pm25".to_owned(), Value::Float(pm25)),
            ("pm10".to_owned(), Value::Float(pm10)),
        ]
        .into();
        let firings = engine.evaluator().process(&Input::telemetry(
            "default",
            &station.id,
            1_700_000_000_000,
            values,
        ));
        let derived: Vec<_> = firings
            .iter()
            .flat_map(|f| &f.actions)
            .filter_map(|a| match a {
                PlannedAction::WriteTelemetry { values, .. } => Some(values.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(derived.len(), 1, "{firings:?}");
        serde_json::to_value(&derived[0]["aqi"]).expect("json")
    }

    #[test]
    fn every_rule_compiles_and_the_aqi_follows_the_breakpoints() {
        assert_eq!(aqi(35.0, 20.0), json!(50));
        assert_eq!(aqi(55.0, 20.0), json!(75));
        assert_eq!(aqi(10.0, 250.0), json!(150));
        assert_eq!(aqi(900.0, 20.0), json!(500));
    }

    #[test]
    fn the_schedule_names_every_street_light() {
        let plan = wanwu_sim::demo_city(1);
        let rules = city_rules(&plan);
        let lights = plan
            .devices
            .iter()
            .filter(|d| d.scenario == Scenario::StreetLights)
            .count();
        let evening = rules
            .iter()
            .find(|r| r["id"] == "street-lights-evening")
            .expect("evening rule");
        assert_eq!(
            evening["actions"][0]["devices"].as_array().map(Vec::len),
            Some(lights)
        );
        let no_lights = plan.clone().at_most(0);
        assert!(
            city_rules(&no_lights)
                .iter()
                .all(|r| r["trigger"]["type"] != "schedule")
        );
    }
}
