//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use std::time::Duration;

use wanwu_tsdb::{Batch, Engine, FsyncPolicy, Options, Order, Point, SeriesKey, Value};

/// Small partitions and blocks so that tests cross many of them.
pub fn small_options() -> Options {
    Options {
        fsync: FsyncPolicy::Never,
        partition: Duration::from_secs(1),
        block_points: 4,
        head_max_points: 16,
        maintenance_interval: Duration::from_millis(20),
        ..Options::default()
    }
}

pub fn series(device: &str, key: &str) -> SeriesKey {
    SeriesKey::new("t1", device, key)
}

pub async fn write_points(engine: &Engine, key: &SeriesKey, points: &[(i64, Value)]) -> wanwu_tsdb::Result<()> {
    let mut batch = Batch::new();
    for (ts, v) in points {
        batch.push(key, *ts, v.clone());
    }
    engine.write(batch).await
}

pub fn all_points(engine: &Engine, key: &SeriesKey) -> Vec<Point> {
    engine.query_raw(key, i64::MIN, i64::MAX, None, Order::Asc).unwrap()
}

pub fn ms(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}
