//! Shared setup of the integration tests.
#![allow(dead_code)]

use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use wanwu_model::Value;
use wanwu_rules::{DeviceInfo, Engine, EngineConfig, Input, ManualClock, MemoryDirectory, RuleDef};

/// 2024-01-01T00:00:00Z.
pub const T0: i64 = 1_704_067_200_000;

pub struct Setup {
    pub engine: Arc<Engine>,
    pub clock: Arc<ManualClock>,
    pub directory: Arc<MemoryDirectory>,
}

/// Devices: st-1 and st-2 (product aq, district xuhui, asset chain [block-7, xuhui, city]),
/// st-3 (product aq, district minhang, asset chain [minhang, city]), m-1 (product meter).
pub fn setup() -> Setup {
    let directory = Arc::new(MemoryDirectory::default());
    let device = |id: &str, product: &str, district: &str, assets: &[&str]| DeviceInfo {
        id: id.into(),
        tenant: "t1".into(),
        product: product.into(),
        name: format!("Station {id}"),
        tags: BTreeMap::from([("district".to_string(), district.to_string())]),
        attributes: json!({"limit": 100})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        assets: assets.iter().map(|a| a.to_string()).collect(),
    };
    directory.put_device(device("st-1", "aq", "xuhui", &["block-7", "xuhui", "city"]));
    directory.put_device(device("st-2", "aq", "xuhui", &["block-7", "xuhui", "city"]));
    directory.put_device(device("st-3", "aq", "minhang", &["minhang", "city"]));
    directory.put_device(device("m-1", "meter", "xuhui", &[]));
    let clock = Arc::new(ManualClock::new(T0));
    let engine = Engine::new(directory.clone(), clock.clone(), EngineConfig::default());
    Setup {
        engine,
        clock,
        directory,
    }
}

/// A rule of tenant t1 from JSON fields (id and tenant filled in when absent).
pub fn rule(mut json: Json) -> RuleDef {
    let object = json.as_object_mut().expect("a rule is an object");
    object.entry("id").or_insert(json!("r1"));
    object.entry("tenant").or_insert(json!("t1"));
    serde_json::from_value(json).expect("a valid rule")
}

/// Telemetry of tenant t1.
pub fn telemetry(device: &str, ts: i64, values: Json) -> Input {
    Input::telemetry("t1", device, ts, model_values(values))
}

pub fn model_values(values: Json) -> BTreeMap<String, Value> {
    serde_json::from_value(values).expect("values")
}
