//! The simulated city's geometry: its centre and a grid of roads every 0.01° (about 1 km)
//! in both directions, on which vehicles drive and along which sites are placed.

use wanwu_model::GeoPoint;

/// Centre of the simulated city.
pub const CENTRE: GeoPoint = GeoPoint {
    lat: 31.2,
    lon: 121.5,
};
/// Distance between neighbouring roads, in degrees.
pub const ROAD_SPACING_DEG: f64 = 0.01;
/// Roads run from `-GRID_HALF_SIZE` to `GRID_HALF_SIZE` road spacings around the centre.
pub const GRID_HALF_SIZE: i32 = 10;

/// Kilometres per degree of latitude.
const KM_PER_DEG_LAT: f64 = 110.57;

/// Kilometres per degree of longitude at the city's latitude.
fn km_per_deg_lon() -> f64 {
    111.32 * CENTRE.lat.to_radians().cos()
}

/// The position `x` road spacings east and `y` north of the centre.
pub fn grid_point(x: f64, y: f64) -> GeoPoint {
    GeoPoint {
        lat: CENTRE.lat + y * ROAD_SPACING_DEG,
        lon: CENTRE.lon + x * ROAD_SPACING_DEG,
    }
}

/// Length in km of a straight stretch of `dx` spacings east and `dy` north.
pub fn grid_km(dx: f64, dy: f64) -> f64 {
    let east = dx * ROAD_SPACING_DEG * km_per_deg_lon();
    let north = dy * ROAD_SPACING_DEG * KM_PER_DEG_LAT;
    (east * east + north * north).sqrt()
}

/// Rounds a position to 6 decimals (about 0.1 m), as a GPS receiver reports it.
pub fn gps(point: GeoPoint) -> GeoPoint {
    let r = |x: f64| (x * 1e6).round() / 1e6;
    GeoPoint {
        lat: r(point.lat),
        lon: r(point.lon),
    }
}
