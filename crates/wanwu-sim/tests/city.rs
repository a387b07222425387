//! The demo city and fleet plans are valid inputs of the platform's API.

use std::collections::HashSet;
use wanwu_model::{NewAsset, NewDevice};
use wanwu_sim::{CityPlan, Scenario, demo_city, fleet_plan};

/// Every asset and device of `plan` is accepted by the API's input types and their checks;
/// ids are unique, parents come first, devices point at existing assets.
fn check_plan(plan: &CityPlan) {
    let mut assets = HashSet::new();
    for asset in &plan.assets {
        let input: NewAsset = serde_json::from_value(serde_json::to_value(asset).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", asset.id));
        input
            .validate()
            .unwrap_or_else(|e| panic!("{}: {e}", asset.id));
        if let Some(parent) = &asset.parent {
            assert!(
                assets.contains(parent.as_str()),
                "{} before its parent",
                asset.id
            );
        }
        assert!(
            assets.insert(asset.id.as_str()),
            "duplicate asset {}",
            asset.id
        );
    }
    let mut ids = HashSet::new();
    for device in &plan.devices {
        let input: NewDevice = serde_json::from_value(serde_json::to_value(device).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", device.id));
        input
            .validate_at("")
            .unwrap_or_else(|e| panic!("{}: {e}", device.id));
        assert_eq!(input.product, device.scenario.product().id);
        assert!(
            ids.insert(device.id.as_str()),
            "duplicate device {}",
            device.id
        );
        if let Some(asset) = &device.asset {
            assert!(
                assets.contains(asset.as_str()),
                "{} in unknown asset {asset}",
                device.id
            );
        }
        let near =
            (device.location.lat - 31.2).abs() < 0.15 && (device.location.lon - 121.5).abs() < 0.15;
        assert!(near, "{} at {:?}", device.id, device.location);
    }
}

#[test]
fn the_demo_city_is_a_valid_tree_with_a_few_hundred_devices_of_every_scenario() {
    let plan = demo_city(7);
    check_plan(&plan);
    assert_eq!(plan.scenarios(), Scenario::ALL.to_vec());
    assert_eq!(plan.products().len(), 6);
    assert!(
        (200..=400).contains(&plan.devices.len()),
        "{}",
        plan.devices.len()
    );
    let kinds: HashSet<_> = plan.assets.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, HashSet::from(["city", "district", "site", "street"]));
    assert_eq!(
        plan.assets.iter().filter(|a| a.parent.is_none()).count(),
        1,
        "one city"
    );
    assert!(
        plan.devices
            .iter()
            .all(|d| d.asset.is_some() && d.tags.contains_key("district"))
    );
    for scenario in Scenario::ALL {
        let indexes: Vec<_> = plan
            .devices
            .iter()
            .filter(|d| d.scenario == scenario)
            .map(|d| d.index)
            .collect();
        assert_eq!(
            indexes,
            (0..indexes.len() as u64).collect::<Vec<_>>(),
            "{scenario} numbered from 0"
        );
    }
}

#[test]
fn the_demo_city_depends_on_the_seed_only() {
    assert_eq!(demo_city(7), demo_city(7));
    let (a, b) = (demo_city(7), demo_city(8));
    assert_eq!(a.assets, b.assets, "the map is the same city");
    assert_ne!(a.devices, b.devices, "devices are placed by the seed");
}

#[test]
fn fleet_plans_share_devices_among_scenarios() {
    let plan = fleet_plan(3, &[Scenario::AirQuality, Scenario::Fleet], 7, "load-");
    check_plan(&plan);
    assert_eq!(plan.devices.len(), 7);
    assert!(plan.assets.is_empty());
    let ids: Vec<_> = plan.devices.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids[..3],
        ["load-aq-00000", "load-vh-00000", "load-aq-00001"]
    );
    assert_eq!(
        plan.devices
            .iter()
            .filter(|d| d.scenario == Scenario::AirQuality)
            .count(),
        4
    );
    assert_eq!(
        fleet_plan(3, &[Scenario::Fleet], 5, "x"),
        fleet_plan(3, &[Scenario::Fleet], 5, "x")
    );
    assert!(fleet_plan(3, &[], 5, "x").devices.is_empty());
}

#[test]
fn a_smaller_demo_city_keeps_every_scenario_and_the_same_devices_for_a_seed() {
    let full = demo_city(7);
    let small = demo_city(7).at_most(20);
    check_plan(&small);
    assert_eq!(small.devices.len(), 20);
    assert_eq!(small.assets, full.assets);
    assert_eq!(small.scenarios(), Scenario::ALL.to_vec());
    for device in &small.devices {
        assert!(
            full.devices.contains(device),
            "{} not in the city",
            device.id
        );
    }
    // Each scenario contributes its first devices, in turn.
    let first_air = full
        .devices
        .iter()
        .find(|d| d.scenario == Scenario::AirQuality)
        .unwrap();
    assert_eq!(&small.devices[0], first_air);
    assert_eq!(small, demo_city(7).at_most(20));
    assert_eq!(demo_city(7).at_most(10_000), full);
    assert!(demo_city(7).at_most(0).devices.is_empty());
}
