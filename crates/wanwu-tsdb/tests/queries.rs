//! Queries: calendar aggregation in real time zones, aggregation across series, retention,
//! type errors, bad ranges, streaming export while ingesting.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::{all_points, ms, series, small_options, write_points};
use wanwu_tsdb::{
    Agg, Batch, Bucket, Engine, Error, GeoPoint, Interval, Options, Order, Retention, SeriesKey,
    Value, time_zone,
};

fn hourly(from: &str, hours: i64) -> Vec<(i64, Value)> {
    (0..hours)
        .map(|h| (ms(from) + h * 3_600_000, Value::F64(h as f64)))
        .collect()
}

/// Aggregates `key` over an RFC 3339 range; (bucket start, value) pairs.
fn agg(
    engine: &Engine,
    key: &SeriesKey,
    (from, to): (&str, &str),
    interval: Interval,
    agg: Agg,
    tz: &wanwu_tsdb::TimeZone,
) -> Vec<(i64, Value)> {
    starts_and_values(
        &engine
            .query_agg(key, ms(from), ms(to), interval, agg, tz)
            .unwrap(),
    )
}

fn starts_and_values(buckets: &[Bucket]) -> Vec<(i64, Value)> {
    buckets.iter().map(|b| (b.start, b.value.clone())).collect()
}

#[tokio::test]
async fn berlin_days_around_dst_have_23_and_25_hours() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Options::default()).await.unwrap();
    let key = series("d", "t");
    let tz = time_zone("Europe/Berlin").unwrap();
    // One point per hour from 2026-03-28 00:00 to 2026-03-31 00:00 Berlin time (CET, +01:00).
    write_points(&engine, &key, &hourly("2026-03-27T23:00:00Z", 71))
        .await
        .unwrap();
    let counts = agg(
        &engine,
        &key,
        ("2026-03-27T23:00:00Z", "2026-03-30T21:59:59Z"),
        Interval::Days(1),
        Agg::Count,
        &tz,
    );
    assert_eq!(
        counts,
        vec![
            (ms("2026-03-27T23:00:00Z"), Value::I64(24)),
            (ms("2026-03-28T23:00:00Z"), Value::I64(23)), // 29 March: clocks jump 02:00 -> 03:00
            (ms("2026-03-29T22:00:00Z"), Value::I64(24)),
        ]
    );
    // Averages of the hour numbers 0..23, 24..46, 47..70.
    let avgs = agg(
        &engine,
        &key,
        ("2026-03-27T23:00:00Z", "2026-03-30T21:59:59Z"),
        Interval::Days(1),
        Agg::Avg,
        &tz,
    );
    let values: Vec<f64> = avgs.iter().map(|(_, v)| v.as_f64().unwrap()).collect();
    assert_eq!(values, vec![11.5, 35.0, 58.5]);

    write_points(&engine, &key, &hourly("2026-10-24T22:00:00Z", 25))
        .await
        .unwrap();
    engine.flush().await.unwrap();
    let counts = agg(
        &engine,
        &key,
        ("2026-10-24T22:00:00Z", "2026-10-25T22:59:59Z"),
        Interval::Days(1),
        Agg::Count,
        &tz,
    );
    assert_eq!(counts, vec![(ms("2026-10-24T22:00:00Z"), Value::I64(25))]); // 25 October: 03:00 -> 02:00
}

#[tokio::test]
async fn shanghai_days_weeks_and_months() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Options::default()).await.unwrap();
    let key = series("d", "pm25");
    let tz = time_zone("Asia/Shanghai").unwrap();
    let points = vec![
        (ms("2026-01-31T15:59:59Z"), Value::F64(10.0)), // 23:59:59 on 31 Jan in Shanghai
        (ms("2026-01-31T16:00:00Z"), Value::F64(20.0)), // 00:00 on 1 Feb
        (ms("2026-02-01T03:00:00Z"), Value::F64(40.0)), // 11:00 on 1 Feb
        (ms("2026-02-28T15:00:00Z"), Value::F64(90.0)), // 23:00 on 28 Feb
        (ms("2026-02-28T16:00:00Z"), Value::F64(5.0)),  // 00:00 on 1 Mar
    ];
    write_points(&engine, &key, &points).await.unwrap();
    let (from, to) = (ms("2026-01-01T00:00:00Z"), ms("2026-03-31T00:00:00Z"));

    let daily = engine
        .query_agg(&key, from, to, Interval::Days(1), Agg::Avg, &tz)
        .unwrap();
    assert_eq!(
        starts_and_values(&daily),
        vec![
            (ms("2026-01-30T16:00:00Z"), Value::F64(10.0)),
            (ms("2026-01-31T16:00:00Z"), Value::F64(30.0)),
            (ms("2026-02-27T16:00:00Z"), Value::F64(90.0)),
            (ms("2026-02-28T16:00:00Z"), Value::F64(5.0)),
        ]
    );
    engine.flush().await.unwrap();
    let monthly = engine
        .query_agg(&key, from, to, "1mo".parse().unwrap(), Agg::Sum, &tz)
        .unwrap();
    assert_eq!(
        starts_and_values(&monthly),
        vec![
            (ms("2025-12-31T16:00:00Z"), Value::F64(10.0)),
            (ms("2026-01-31T16:00:00Z"), Value::F64(150.0)),
            (ms("2026-02-28T16:00:00Z"), Value::F64(5.0)),
        ]
    );
    let weekly = engine
        .query_agg(&key, from, to, Interval::Weeks(1), Agg::Max, &tz)
        .unwrap();
    // Mondays in Shanghai: 26 Jan, 23 Feb.
    assert_eq!(
        starts_and_values(&weekly),
        vec![
            (ms("2026-01-25T16:00:00Z"), Value::F64(40.0)),
            (ms("2026-02-22T16:00:00Z"), Value::F64(90.0))
        ]
    );
    let first_last: Vec<Value> = [Agg::First, Agg::Last, Agg::Min]
        .iter()
        .map(|&agg| {
            engine
                .query_agg(&key, from, to, "1mo".parse().unwrap(), agg, &tz)
                .unwrap()[1]
                .value
                .clone()
        })
        .collect();
    assert_eq!(
        first_last,
        vec![Value::F64(20.0), Value::F64(90.0), Value::F64(20.0)]
    );
}

#[tokio::test]
async fn coarse_aggregates_use_block_summaries_and_match_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        block_points: 60,
        partition: Duration::from_secs(86_400),
        ..Options::default()
    };
    let engine = Engine::open(dir.path(), opts).await.unwrap();
    let key = series("d", "t");
    let start = ms("2026-05-01T00:00:00Z");
    let points: Vec<(i64, Value)> = (0..10 * 1440)
        .map(|m| (start + m * 60_000, Value::F64((m % 97) as f64 / 10.0)))
        .collect();
    write_points(&engine, &key, &points).await.unwrap();
    let daily_avg = |engine: &Engine| {
        let (utc, day) = (wanwu_tsdb::TimeZone::UTC, Interval::Days(1));
        engine
            .query_agg(&key, start, start + 10 * 86_400_000, day, Agg::Avg, &utc)
            .unwrap()
    };
    let before = daily_avg(&engine);
    engine.flush().await.unwrap();
    let after = daily_avg(&engine);
    assert_eq!(before.len(), 10);
    for (a, b) in before.iter().zip(&after) {
        assert_eq!(a.start, b.start);
        assert!((a.value.as_f64().unwrap() - b.value.as_f64().unwrap()).abs() < 1e-9);
    }
}

#[tokio::test]
async fn aggregation_across_many_series_pools_points() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Options::default()).await.unwrap();
    let devices: Vec<SeriesKey> = (0..5).map(|i| series(&format!("st-{i}"), "pm25")).collect();
    for (i, key) in devices.iter().enumerate() {
        write_points(
            &engine,
            key,
            &[
                (0, Value::F64(i as f64)),
                (3_600_000, Value::F64(10.0 * i as f64)),
            ],
        )
        .await
        .unwrap();
    }
    let tz = wanwu_tsdb::TimeZone::UTC;
    let avg = engine
        .query_agg_many(&devices, 0, 7_199_999, Interval::Hours(1), Agg::Avg, &tz)
        .unwrap();
    assert_eq!(
        starts_and_values(&avg),
        vec![(0, Value::F64(2.0)), (3_600_000, Value::F64(20.0))]
    );
    let count = engine
        .query_agg_many(&devices, 0, 7_199_999, Interval::Hours(1), Agg::Count, &tz)
        .unwrap();
    assert_eq!(count[0].value, Value::I64(5));
}

#[tokio::test]
async fn every_value_type_round_trips_through_disk() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), small_options()).await.unwrap();
    let cases = [
        (series("d", "f"), Value::F64(21.5)),
        (series("d", "i"), Value::I64(-42)),
        (series("d", "b"), Value::Bool(true)),
        (series("d", "s"), Value::Str("running".into())),
        (
            series("d", "g"),
            Value::Geo(GeoPoint {
                lat: 31.2304,
                lon: 121.4737,
            }),
        ),
    ];
    for (key, value) in &cases {
        write_points(&engine, key, &[(1, value.clone()), (2_500, value.clone())])
            .await
            .unwrap();
    }
    engine.close().await.unwrap();
    let engine = Engine::open(dir.path(), small_options()).await.unwrap();
    for (key, value) in &cases {
        let points = all_points(&engine, key);
        assert_eq!(
            points
                .iter()
                .map(|p| (p.ts, p.value.clone()))
                .collect::<Vec<_>>(),
            vec![(1, value.clone()), (2_500, value.clone())]
        );
        assert_eq!(engine.series_type(key), Some(value.value_type()));
    }
    let err = engine
        .query_agg(
            &cases[3].0,
            0,
            10_000,
            Interval::Seconds(10),
            Agg::Avg,
            &wanwu_tsdb::TimeZone::UTC,
        )
        .unwrap_err();
    assert!(matches!(err, Error::UnsupportedAggregation { .. }), "{err}");
    let last = engine
        .query_agg(
            &cases[4].0,
            0,
            10_000,
            Interval::Seconds(10),
            Agg::Last,
            &wanwu_tsdb::TimeZone::UTC,
        )
        .unwrap();
    assert_eq!(last[0].value, cases[4].1);
}

#[tokio::test]
async fn type_mismatch_rejects_the_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Options::default()).await.unwrap();
    let temp = series("d", "temp");
    write_points(&engine, &temp, &[(1, Value::F64(1.0))])
        .await
        .unwrap();
    let other = series("d", "other");
    let mut batch = Batch::new();
    batch.push(&other, 5, Value::I64(5));
    batch.push(&temp, 2, Value::F64(2.0));
    batch.push(&temp, 3, Value::I64(3));
    let err = engine.write(batch).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::TypeMismatch {
                expected: wanwu_tsdb::ValueType::F64,
                got: wanwu_tsdb::ValueType::I64,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("t1/d/temp"));
    assert_eq!(all_points(&engine, &temp).len(), 1);
    assert_eq!(engine.series_type(&other), None);
}

#[tokio::test]
async fn bad_queries_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        max_buckets: 1000,
        ..Options::default()
    };
    let engine = Engine::open(dir.path(), opts).await.unwrap();
    let key = series("d", "t");
    let tz = wanwu_tsdb::TimeZone::UTC;
    assert!(matches!(
        engine.query_raw(&key, 10, 5, None, Order::Asc),
        Err(Error::InvalidRange { from: 10, to: 5 })
    ));
    assert!(matches!(
        engine.query_agg(&key, 10, 5, Interval::Hours(1), Agg::Avg, &tz),
        Err(Error::InvalidRange { .. })
    ));
    assert!(matches!(
        engine.delete(&key, 10, 5).await,
        Err(Error::InvalidRange { .. })
    ));
    let err = engine
        .query_agg(&key, 0, 86_400_000, Interval::Seconds(1), Agg::Avg, &tz)
        .unwrap_err();
    assert!(matches!(err, Error::TooManyBuckets { max: 1000 }));
    assert!(err.to_string().contains("1000"));
    assert!(matches!(
        time_zone("Mars/Olympus"),
        Err(Error::UnknownTimeZone(_))
    ));
    assert_eq!(
        engine.query_raw(&key, 0, 10, None, Order::Asc).unwrap(),
        vec![]
    );
    assert_eq!(engine.latest(&key).unwrap(), None);
}

#[tokio::test]
async fn retention_drops_whole_partitions_per_tenant_and_group() {
    let dir = tempfile::tempdir().unwrap();
    let day = 86_400_000i64;
    let opts = Options {
        partition: Duration::from_secs(86_400),
        series_group: Some(Arc::new(|key: &SeriesKey| {
            key.device
                .starts_with("short")
                .then(|| "short-lived".to_owned())
        })),
        ..Options::default()
    };
    let engine = Engine::open(dir.path(), opts.clone()).await.unwrap();
    let kept = series("long-1", "t");
    let short = series("short-1", "t");
    let other_tenant = SeriesKey::new("t2", "x", "t");
    for key in [&kept, &short, &other_tenant] {
        let points: Vec<(i64, Value)> = (0..10).map(|d| (d * day + 1000, Value::I64(d))).collect();
        write_points(&engine, key, &points).await.unwrap();
    }
    engine.flush().await.unwrap();
    let bytes_before = engine.stats().bytes_on_disk;
    engine.set_retention(Retention {
        default: None,
        tenants: HashMap::from([("t1".to_owned(), Duration::from_secs(3 * 86_400))]),
        groups: HashMap::from([(
            ("t1".to_owned(), "short-lived".to_owned()),
            Duration::from_secs(86_400),
        )]),
        ..Retention::default()
    });
    let now = 10 * day;
    let dropped = engine.enforce_retention(now).await.unwrap();
    assert_eq!(dropped, 7 + 9);
    let days = |engine: &Engine, key: &SeriesKey| {
        all_points(engine, key)
            .iter()
            .map(|p| p.ts / day)
            .collect::<Vec<_>>()
    };
    assert_eq!(days(&engine, &kept), vec![7, 8, 9]);
    assert_eq!(days(&engine, &short), vec![9]);
    assert_eq!(
        days(&engine, &other_tenant).len(),
        10,
        "tenant without retention keeps everything"
    );
    assert!(engine.stats().bytes_on_disk < bytes_before);
    engine.close().await.unwrap();
    let engine = Engine::open(dir.path(), opts).await.unwrap();
    assert_eq!(
        days(&engine, &kept),
        vec![7, 8, 9],
        "dropped partitions stay dropped"
    );
}

#[tokio::test]
async fn a_batch_names_the_group_of_its_new_series_for_retention_in_all_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let day = 86_400_000i64;
    let opts = Options {
        partition: Duration::from_secs(86_400),
        ..Options::default()
    };
    let engine = Engine::open(dir.path(), opts).await.unwrap();
    let meter = SeriesKey::new("t1", "m-1", "kwh");
    let meter_t2 = SeriesKey::new("t2", "m-2", "kwh");
    let station = SeriesKey::new("t1", "st-1", "pm25");
    for (key, group) in [
        (&meter, Some("meters")),
        (&meter_t2, Some("meters")),
        (&station, None),
    ] {
        let mut batch = Batch::new();
        for d in 0..10 {
            batch.push(key, d * day + 1000, Value::I64(d));
        }
        let batch = match group {
            Some(group) => batch.in_group(group),
            None => batch,
        };
        engine.write(batch).await.unwrap();
    }
    // A later batch naming another group does not move an existing series.
    let mut late = Batch::new();
    late.push(&meter, 9 * day + 2000, Value::I64(99));
    engine.write(late.in_group("other")).await.unwrap();
    engine.flush().await.unwrap();
    engine.set_retention(Retention {
        default: Some(Duration::from_secs(5 * 86_400)),
        groups_in_all_tenants: HashMap::from([("meters".to_owned(), Duration::from_secs(86_400))]),
        groups: HashMap::from([(
            ("t2".to_owned(), "meters".to_owned()),
            Duration::from_secs(2 * 86_400),
        )]),
        ..Retention::default()
    });
    engine.enforce_retention(10 * day).await.unwrap();
    let days = |key: &SeriesKey| {
        let mut days: Vec<i64> = all_points(&engine, key)
            .iter()
            .map(|p| p.ts / day)
            .collect();
        days.dedup();
        days
    };
    assert_eq!(days(&meter), vec![9], "group in all tenants: 1 day");
    assert_eq!(days(&meter_t2), vec![8, 9], "(tenant, group) wins: 2 days");
    assert_eq!(days(&station), vec![5, 6, 7, 8, 9], "default: 5 days");
    engine.close().await.unwrap();
}

#[tokio::test]
async fn deletes_survive_flush_compaction_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), small_options()).await.unwrap();
    let key = series("d", "k");
    let points: Vec<(i64, Value)> = (0..50).map(|i| (i * 100, Value::I64(i))).collect();
    write_points(&engine, &key, &points).await.unwrap();
    engine.flush().await.unwrap();
    engine.delete(&key, 1_000, 1_999).await.unwrap();
    write_points(&engine, &key, &[(1_500, Value::I64(-1))])
        .await
        .unwrap();
    assert_eq!(all_points(&engine, &key).len(), 50 - 10 + 1);
    assert_eq!(engine.latest(&key).unwrap().unwrap().ts, 4_900);
    engine.delete(&key, 4_500, 10_000).await.unwrap();
    assert_eq!(engine.latest(&key).unwrap().unwrap().ts, 4_400);
    engine.compact().await.unwrap();
    let after_compaction = all_points(&engine, &key);
    assert_eq!(after_compaction.len(), 50 - 10 + 1 - 5);
    assert!(
        after_compaction
            .iter()
            .any(|p| p.ts == 1_500 && p.value == Value::I64(-1))
    );
    engine.close().await.unwrap();
    let engine = Engine::open(dir.path(), small_options()).await.unwrap();
    assert_eq!(all_points(&engine, &key), after_compaction);
    assert!(engine.stats().points <= 36);
}

#[tokio::test]
async fn streaming_export_does_not_stall_ingestion() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        block_points: 100,
        ..Options::default()
    };
    let engine = Engine::open(dir.path(), opts).await.unwrap();
    let key = series("d", "k");
    let points: Vec<(i64, Value)> = (0..10_000).map(|i| (i, Value::F64(i as f64))).collect();
    write_points(&engine, &key, &points).await.unwrap();
    engine.flush().await.unwrap();
    let mut export = engine.raw_iter(&key, 0, i64::MAX, Order::Asc).unwrap();
    let first: Vec<i64> = export.by_ref().take(10).map(|p| p.unwrap().ts).collect();
    assert_eq!(first, (0..10).collect::<Vec<_>>());
    // While the export is half-way, writes and flushes go through.
    tokio::time::timeout(Duration::from_secs(10), async {
        write_points(&engine, &key, &[(20_000, Value::F64(1.0))])
            .await
            .unwrap();
        engine.compact().await.unwrap();
    })
    .await
    .expect("ingestion is not blocked by an open export");
    let rest = export.count();
    assert_eq!(
        rest,
        10_000 - 10,
        "the export sees the data as of its start"
    );
    assert_eq!(engine.stats().series, 1);
}
