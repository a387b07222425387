//! The demo city, Haixin: six districts around 31.2° N, 121.5° E, each with air stations,
//! homes with water meters, a substation, a main street of lights; a factory in the
//! industrial zone and a cold-chain depot at the harbour. About 260 devices in all.

use crate::geo::CENTRE;
use crate::noise::{tag, uniform};
use crate::plan::{AssetPlan, CityPlan, DevicePlan, round6};
use crate::scenario::Scenario;
use wanwu_model::GeoPoint;

/// Id of the city, the root asset.
pub const CITY_ID: &str = "haixin";

/// A district: id, name, and offset from the centre in degrees (north, east).
const DISTRICTS: [(&str, &str, f64, f64); 6] = [
    ("old-town", "Old Town", 0.0, 0.0),
    ("riverside", "Riverside", 0.04, -0.05),
    ("harbour", "Harbour", -0.05, 0.06),
    ("tech-park", "Tech Park", 0.06, 0.05),
    ("garden", "Garden District", -0.04, -0.06),
    ("industrial", "Industrial Zone", -0.07, 0.0),
];

/// Devices of each kind per district (air stations, water meters, transformers, lights).
const AIR_PER_DISTRICT: u64 = 2;
const METERS_PER_DISTRICT: u64 = 20;
const TRANSFORMERS_PER_DISTRICT: u64 = 3;
const LIGHTS_PER_DISTRICT: u64 = 12;
/// Machines in the industrial zone's works and vans at the harbour depot.
const MACHINES: u64 = 16;
const VANS: u64 = 20;

/// Distance between neighbouring street lights, in degrees of longitude (about 48 m).
const LIGHT_SPACING_DEG: f64 = 0.0005;

/// The demo city of run `seed`: assets city -> districts -> sites, and the devices of
/// every scenario with their locations and assets.
pub fn demo_city(seed: u64) -> CityPlan {
    let mut plan = CityPlan {
        seed,
        assets: vec![AssetPlan {
            id: CITY_ID.into(),
            parent: None,
            name: "Haixin".into(),
            kind: "city".into(),
            location: CENTRE,
        }],
        devices: vec![],
    };
    let mut counters = [0u64; Scenario::ALL.len()];
    let mut city = Builder {
        seed,
        plan: &mut plan,
        counters: &mut counters,
    };
    for (id, name, north, east) in DISTRICTS {
        let centre = GeoPoint {
            lat: CENTRE.lat + north,
            lon: CENTRE.lon + east,
        };
        city.asset(id, CITY_ID, name, "district", centre);
        for n in 0..AIR_PER_DISTRICT {
            let site = city.site(
                id,
                &format!("air-{}", n + 1),
                &format!("{name} air station {}", n + 1),
                centre,
                n as f64 * 0.012 - 0.006,
                0.004,
            );
            city.devices(Scenario::AirQuality, 1, &site, id, 0.0);
        }
        let homes = city.site(
            id,
            "homes",
            &format!("{name} residences"),
            centre,
            0.008,
            -0.006,
        );
        city.devices(
            Scenario::WaterMeters,
            METERS_PER_DISTRICT,
            &homes,
            id,
            0.002,
        );
        let substation = city.site(
            id,
            "substation",
            &format!("{name} substation"),
            centre,
            -0.006,
            -0.004,
        );
        city.devices(
            Scenario::PowerGrid,
            TRANSFORMERS_PER_DISTRICT,
            &substation,
            id,
            0.004,
        );
        let street = city.site(
            id,
            "main-street",
            &format!("{name} main street"),
            centre,
            0.0,
            0.0,
        );
        city.street_lights(&street, id);
        if id == "industrial" {
            let works = city.site(id, "works", "Haixin machine works", centre, -0.01, 0.008);
            city.devices(Scenario::Factory, MACHINES, &works, id, 0.0008);
        }
        if id == "harbour" {
            let depot = city.site(id, "depot", "Harbour cold-chain depot", centre, 0.004, 0.01);
            city.devices(Scenario::Fleet, VANS, &depot, id, 0.0003);
        }
    }
    plan
}

struct Builder<'a> {
    seed: u64,
    plan: &'a mut CityPlan,
    counters: &'a mut [u64; Scenario::ALL.len()],
}

impl Builder<'_> {
    fn asset(
        &mut self,
        id: &str,
        parent: &str,
        name: &str,
        kind: &str,
        location: GeoPoint,
    ) -> AssetPlan {
        let asset = AssetPlan {
            id: id.into(),
            parent: Some(parent.into()),
            name: name.into(),
            kind: kind.into(),
            location: GeoPoint {
                lat: round6(location.lat),
                lon: round6(location.lon),
            },
        };
        self.plan.assets.push(asset.clone());
        asset
    }

    /// Adds site `{district}-{suffix}` at `(north, east)` degrees from the district centre.
    fn site(
        &mut self,
        district: &str,
        suffix: &str,
        name: &str,
        centre: GeoPoint,
        north: f64,
        east: f64,
    ) -> AssetPlan {
        let id = format!("{district}-{suffix}");
        let kind = if suffix == "main-street" {
            "street"
        } else {
            "site"
        };
        let location = GeoPoint {
            lat: centre.lat + north,
            lon: centre.lon + east,
        };
        self.asset(&id, district, name, kind, location)
    }

    fn next_index(&mut self, scenario: Scenario) -> u64 {
        let slot = Scenario::ALL
            .iter()
            .position(|s| *s == scenario)
            .unwrap_or_default();
        let index = self.counters[slot];
        self.counters[slot] += 1;
        index
    }

    fn push(&mut self, scenario: Scenario, site: &AssetPlan, district: &str, location: GeoPoint) {
        let index = self.next_index(scenario);
        let mut device = DevicePlan::new(scenario, index, "", location);
        device.asset = Some(site.id.clone());
        device.tags.insert("district".into(), district.into());
        self.plan.devices.push(device);
    }

    /// `count` devices of `scenario` within `spread` degrees of `site`.
    fn devices(
        &mut self,
        scenario: Scenario,
        count: u64,
        site: &AssetPlan,
        district: &str,
        spread: f64,
    ) {
        for n in 0..count {
            let jitter =
                |axis: &str| uniform(self.seed, &[tag(&site.id), n, tag(axis)], -spread, spread);
            let location = GeoPoint {
                lat: round6(site.location.lat + jitter("lat")),
                lon: round6(site.location.lon + jitter("lon")),
            };
            self.push(scenario, site, district, location);
        }
    }

    /// Lights in a row along the street, eastwards from its start.
    fn street_lights(&mut self, street: &AssetPlan, district: &str) {
        for n in 0..LIGHTS_PER_DISTRICT {
            let location = GeoPoint {
                lat: street.location.lat,
                lon: round6(street.location.lon + n as f64 * LIGHT_SPACING_DEG),
            };
            self.push(Scenario::StreetLights, street, district, location);
        }
    }
}
