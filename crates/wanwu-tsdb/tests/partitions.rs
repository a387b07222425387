//! Partition widths follow the data rate: closed partitions of sparse series are merged into
//! wider ones (long blocks instead of a block and an index entry per day), dense ones are not;
//! reads, late writes, deletes, restarts and retention work across the merged partitions.

mod common;

use std::time::Duration;

use common::{all_points, series, write_points};
use wanwu_tsdb::{Agg, Engine, FsyncPolicy, Interval, Options, Retention, TimeZone, Value};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// 2020-01-01T00:00:00Z: closed long ago, as coarsening requires.
const START: i64 = 1_577_836_800_000;

fn options() -> Options {
    Options {
        fsync: FsyncPolicy::Never,
        background_compaction: false,
        // Retention is judged here at chosen instants, never at the real time.
        maintenance_interval: Duration::from_secs(3600),
        ..Options::default()
    }
}

/// Hourly readings with one decimal for `days` days.
fn hourly(days: i64, offset: f64) -> Vec<(i64, Value)> {
    (0..days * 24)
        .map(|h| {
            let tenths = ((h * 7919) % 200) as f64;
            (START + h * HOUR, Value::F64(offset + tenths / 10.0))
        })
        .collect()
}

#[tokio::test]
async fn sparse_series_get_wide_partitions_and_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (series("st-1", "temp"), series("st-2", "temp"));
    let (data_a, data_b) = (hourly(400, 10.0), hourly(400, -5.0));
    let engine = Engine::open(dir.path(), options()).await.unwrap();
    write_points(&engine, &a, &data_a).await.unwrap();
    write_points(&engine, &b, &data_b).await.unwrap();
    engine.compact().await.unwrap();
    let segments = engine.stats().segments;
    assert!(
        segments <= 12,
        "400 days of hourly readings in {segments} segments"
    );
    let expect = |data: &[(i64, Value)]| -> Vec<(i64, Value)> { data.to_vec() };
    let got = |engine: &Engine, key| -> Vec<(i64, Value)> {
        all_points(engine, key)
            .into_iter()
            .map(|p| (p.ts, p.value))
            .collect()
    };
    assert_eq!(got(&engine, &a), expect(&data_a));
    assert_eq!(got(&engine, &b), expect(&data_b));
    let days = engine
        .query_agg(
            &a,
            START,
            START + 400 * DAY - 1,
            Interval::Days(1),
            Agg::Count,
            &TimeZone::UTC,
        )
        .unwrap();
    assert_eq!(days.len(), 400);
    assert!(days.iter().all(|d| d.value == Value::I64(24)));

    // A late reading of a day inside a merged partition, and a delete across partitions.
    let late = (START + 100 * DAY + 30 * 60_000, Value::F64(99.5));
    write_points(&engine, &a, std::slice::from_ref(&late))
        .await
        .unwrap();
    engine
        .delete(&b, START + 50 * DAY, START + 250 * DAY - 1)
        .await
        .unwrap();
    engine.compact().await.unwrap();
    let mut with_late = data_a.clone();
    with_late.push(late);
    with_late.sort_by_key(|(ts, _)| *ts);
    let without_deleted: Vec<(i64, Value)> = data_b
        .iter()
        .filter(|(ts, _)| *ts < START + 50 * DAY || *ts >= START + 250 * DAY)
        .cloned()
        .collect();
    assert_eq!(got(&engine, &a), with_late);
    assert_eq!(got(&engine, &b), without_deleted);
    assert!(engine.stats().segments <= segments + 1);

    engine.close().await.unwrap();
    let engine = Engine::open(dir.path(), options()).await.unwrap();
    assert_eq!(got(&engine, &a), with_late);
    assert_eq!(got(&engine, &b), without_deleted);
    engine.close().await.unwrap();
}

#[tokio::test]
async fn dense_series_keep_their_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let key = series("fast", "temp");
    let minutes: Vec<(i64, Value)> = (0..6 * 1440)
        .map(|m| (START + m * 60_000, Value::F64((m % 300) as f64 / 10.0)))
        .collect();
    let engine = Engine::open(
        dir.path(),
        Options {
            block_points: 2048,
            ..options()
        },
    )
    .await
    .unwrap();
    write_points(&engine, &key, &minutes).await.unwrap();
    engine.compact().await.unwrap();
    assert_eq!(engine.stats().segments, 6, "one partition per day");
    assert_eq!(all_points(&engine, &key).len(), minutes.len());
    engine.close().await.unwrap();
}

#[tokio::test]
async fn retention_caps_the_width_and_drops_whole_merged_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let key = series("st-1", "temp");
    let data = hourly(64, 20.0);
    let keep = Duration::from_secs(16 * 86_400);
    let engine = Engine::open(dir.path(), options()).await.unwrap();
    // Written and flushed without retention (it would judge the 2020 points by today's date),
    // then merged with it.
    write_points(&engine, &key, &data).await.unwrap();
    engine.flush().await.unwrap();
    engine.set_retention(Retention {
        default: Some(keep),
        ..Retention::default()
    });
    engine.compact().await.unwrap();
    // Partitions of at most a quarter of the retention: 4 days, aligned to 4-day spans since
    // 1970 (2020-01-01 lies 2 days into one), so the 64 days lie in 17 of them; the last span
    // reaches past the newest point, so its 2 days keep their daily partitions.
    assert_eq!(engine.stats().segments, 18);
    let now = START + 64 * DAY;
    let dropped = engine.enforce_retention(now).await.unwrap();
    assert_eq!(dropped, 12, "the partitions that ended 16 days before now");
    let left = all_points(&engine, &key);
    assert_eq!(left.first().map(|p| p.ts), Some(START + 46 * DAY));
    assert_eq!(left.len(), 18 * 24);
    engine.close().await.unwrap();
}
