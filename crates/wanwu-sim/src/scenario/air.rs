//! Air-quality stations: particulates and gases follow traffic (rush hours, quieter
//! weekends) and the weather (still, humid spells trap pollution; sunshine makes ozone).
//! A few stations have a faulty PM sensor: stuck at one value, spiking, or drifting upward
//! (the `calibrate` command removes a drift).

use crate::clock::Instant;
use crate::device::{Behavior, Reading, Values, object};
use crate::fields::{Field, reading};
use crate::noise::{normal, tag, uniform, unit};
use crate::weather::weather;
use serde_json::json;
use wanwu_model::{Command, Product};

const PM25_MAX: f64 = 1000.0;
const PM10_MAX: f64 = 2000.0;

/// Properties of the `air_station` product that stations do not measure: a rule derives
/// them from the readings (the demo's AQI rule).
pub const DERIVED: &[&str] = &["aqi"];

/// The `air_station` product.
pub fn product() -> Product {
    Product {
        id: "air_station".into(),
        name: "Air-quality station".into(),
        description: Some("Roadside and urban background air monitoring station.".into()),
        properties: vec![
            Field::float("pm25", "PM2.5", "ug/m3", 0.0, PM25_MAX).read(),
            Field::float("pm10", "PM10", "ug/m3", 0.0, PM10_MAX).read(),
            Field::float("no2", "NO2", "ug/m3", 0.0, 2000.0).read(),
            Field::float("o3", "O3", "ug/m3", 0.0, 1000.0).read(),
            Field::float("temperature", "Temperature", "°C", -50.0, 60.0).read(),
            Field::float("humidity", "Relative humidity", "%", 0.0, 100.0).read(),
            Field::int("aqi", "Air quality index", "", 0, 500).read(),
        ],
        events: vec![],
        commands: vec![Command {
            id: "calibrate".into(),
            name: Some("Calibrate".into()),
            description: Some("Zero-point calibration of the particulate sensor.".into()),
            params: vec![],
            response: vec![
                Field::float("offset", "Offset removed", "ug/m3", -PM25_MAX, PM25_MAX).param(),
            ],
        }],
    }
}

/// How a station's particulate sensor misbehaves.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    Stuck,
    Spikes,
    Drift,
}

/// One station.
pub struct AirStation {
    run_seed: u64,
    seed: u64,
    /// Urban background level of PM2.5, µg/m³.
    background: f64,
    /// How much traffic adds, 0.3 (park) to 1.2 (arterial road).
    traffic_exposure: f64,
    /// PM10/PM2.5 ratio.
    coarse_ratio: f64,
    fault: Option<Fault>,
    /// Step at which the fault begins.
    fault_onset: u64,
    stuck: Option<(f64, f64)>,
    drift: f64,
}

impl AirStation {
    /// Station of run `run_seed` with its own `seed`.
    pub fn new(run_seed: u64, seed: u64) -> AirStation {
        let u = unit(seed, &[tag("fault")]);
        let fault = match u {
            u if u < 0.03 => Some(Fault::Stuck),
            u if u < 0.06 => Some(Fault::Spikes),
            u if u < 0.09 => Some(Fault::Drift),
            _ => None,
        };
        AirStation {
            run_seed,
            seed,
            background: uniform(seed, &[tag("background")], 18.0, 40.0),
            traffic_exposure: uniform(seed, &[tag("traffic")], 0.3, 1.2),
            coarse_ratio: uniform(seed, &[tag("coarse")], 1.3, 1.9),
            fault,
            fault_onset: (uniform(seed, &[tag("onset")], 10.0, 200.0)) as u64,
            stuck: None,
            drift: 0.0,
        }
    }
}

/// Traffic intensity, about 0.2 at night to 1 at rush hour.
fn traffic(at: &Instant) -> f64 {
    let h = at.hour();
    let bump = |centre: f64, width: f64| (-((h - centre) / width).powi(2)).exp();
    if at.is_weekend() {
        0.2 + 0.5 * bump(14.0, 4.0)
    } else {
        0.2 + 0.8 * bump(8.0, 1.3) + 0.75 * bump(18.0, 1.6) + 0.3 * bump(13.0, 3.0)
    }
}

impl Behavior for AirStation {
    fn step(&mut self, at: &Instant) -> Reading {
        let w = weather(self.run_seed, at);
        let n = |name: &str| normal(self.seed, &[tag(name), at.step]);
        let traffic = traffic(at);
        let humid = 1.0 + 0.3 * ((w.humidity - 60.0) / 40.0).max(0.0);
        let mut pm25 = (self.background * w.stagnation * humid
            + 25.0 * self.traffic_exposure * traffic)
            * (1.0 + 0.08 * n("pm25"));
        let mut pm10 = pm25 * self.coarse_ratio + 8.0 * traffic + 3.0 * n("pm10").abs();
        let no2 = (12.0 + 55.0 * self.traffic_exposure * traffic) * (0.7 + 0.3 * w.stagnation)
            + 4.0 * n("no2");
        let o3 =
            25.0 + 110.0 * w.sun * (w.temperature / 30.0).max(0.1) - 0.35 * no2 + 5.0 * n("o3");

        if let Some(fault) = self.fault
            && at.step >= self.fault_onset
        {
            match fault {
                Fault::Stuck => (pm25, pm10) = *self.stuck.get_or_insert((pm25, pm10)),
                Fault::Spikes => {
                    if unit(self.seed, &[tag("spike"), at.step]) < 0.05 {
                        pm25 = uniform(self.seed, &[tag("spike-size"), at.step], 400.0, PM25_MAX);
                        pm10 = pm25 * 1.2;
                    }
                }
                Fault::Drift => {
                    self.drift += 0.8 * at.step_hours();
                    pm25 += self.drift;
                    pm10 += self.drift;
                }
            }
        }
        let values = json!({
            "pm25": reading(pm25, 1, 0.0, PM25_MAX),
            "pm10": reading(pm10, 1, 0.0, PM10_MAX),
            "no2": reading(no2, 1, 0.0, 2000.0),
            "o3": reading(o3, 1, 0.0, 1000.0),
            "temperature": reading(w.temperature + 0.8 * self.traffic_exposure + 0.2 * n("t"), 2, -50.0, 60.0),
            "humidity": reading(w.humidity + 1.5 * n("rh"), 1, 0.0, 100.0),
        });
        Reading {
            values: object(values),
            events: vec![],
        }
    }

    fn command(&mut self, name: &str, _params: &Values) -> Result<Values, String> {
        match name {
            "calibrate" => {
                let offset = reading(self.drift, 2, -PM25_MAX, PM25_MAX);
                self.drift = 0.0;
                Ok(object(json!({"offset": offset})))
            }
            other => Err(format!("unknown command {other:?}")),
        }
    }

    fn anomaly(&self) -> Option<&'static str> {
        self.fault.map(|f| match f {
            Fault::Stuck => "stuck_sensor",
            Fault::Spikes => "spiking_sensor",
            Fault::Drift => "drifting_sensor",
        })
    }
}
