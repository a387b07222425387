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

/// A series of tenant `t1`.
pub fn series(device: &str, key: &str) -> SeriesKey {
    SeriesKey::new("t1", device, key)
}

/// Writes `points` of one series as one batch.
pub async fn write_points(
    engine: &Engine,
    key: &SeriesKey,
    points: &[(i64, Value)],
) -> wanwu_tsdb::Result<()> {
    let mut batch = Batch::new();
    for (ts, v) in points {
        batch.push(key, *ts, v.clone());
    }
    engine.write(batch).await
}

/// Every point of a series, oldest first.
pub fn all_points(engine: &Engine, key: &SeriesKey) -> Vec<Point> {
    engine
        .query_raw(key, i64::MIN, i64::MAX, None, Order::Asc)
        .unwrap()
}

/// Milliseconds of an RFC 3339 instant.
pub fn ms(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}
