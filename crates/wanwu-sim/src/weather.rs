//! The simulated city's weather, shared by every device of a run: a pure function of the
//! seed and the time. Seasons, a daily cycle, multi-day weather systems, and stagnant spells
//! that trap pollution (the pollution episodes of the air-quality grid).

use crate::clock::Instant;
use crate::noise::{smooth, tag};
use std::f64::consts::TAU;

/// Weather at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weather {
    /// Air temperature, °C.
    pub temperature: f64,
    /// Relative humidity, %.
    pub humidity: f64,
    /// How much still air traps pollution: 1 is normal, up to about 4 in an episode.
    pub stagnation: f64,
    /// Sunlight, 0 at night to 1 at a clear noon.
    pub sun: f64,
}

/// The weather of the city of run `seed` at `at`.
pub fn weather(seed: u64, at: &Instant) -> Weather {
    let days = at.days();
    let hour = at.hour();
    // Coldest mid-January, warmest mid-July: 5 °C to 29 °C means.
    let season = -(TAU * (at.day_of_year() - 15.0) / 365.25).cos();
    let systems = smooth(seed, &[tag("weather")], days / 3.0);
    let daily = (TAU * (hour - 9.0) / 24.0).sin();
    let temperature = 17.0 + 12.0 * season + 4.0 * daily + 3.0 * systems;
    let humidity = (72.0 - 14.0 * daily - 12.0 * systems
        + 6.0 * smooth(seed, &[tag("humid")], days))
    .clamp(15.0, 100.0);
    // Episodes: spells where slow noise is high; winter makes them stronger.
    let spell = smooth(seed, &[tag("episode")], days / 2.5);
    let winter = 1.0 - 0.4 * season;
    let stagnation = 1.0 + winter * 3.0 * ((spell - 0.3) / 0.7).max(0.0);
    let sun = ((TAU * (hour - 6.0) / 24.0).sin()).max(0.0)
        * (0.75 + 0.25 * season)
        * (1.0 - 0.4 * systems.max(0.0));
    Weather {
        temperature,
        humidity,
        stagnation,
        sun,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_ranges_and_seasons() {
        let start = 1_704_067_200_000; // 2024-01-01
        let mut january = 0.0;
        let mut july = 0.0;
        let mut episodes = 0;
        for h in 0..(24 * 365) {
            let at = Instant::of(start, 3_600_000, h);
            let w = weather(42, &at);
            assert!((-15.0..45.0).contains(&w.temperature), "{w:?}");
            assert!((15.0..=100.0).contains(&w.humidity));
            assert!((1.0..=5.0).contains(&w.stagnation));
            assert!((0.0..=1.0).contains(&w.sun));
            if h < 24 * 31 {
                january += w.temperature;
            }
            if (24 * 182..24 * 213).contains(&h) {
                july += w.temperature;
            }
            if w.stagnation > 2.0 {
                episodes += 1;
            }
        }
        assert!(july > january + 24.0 * 31.0 * 15.0, "summer is warmer");
        assert!(
            episodes > 24 * 5,
            "some pollution episodes happen: {episodes} h"
        );
    }
}
