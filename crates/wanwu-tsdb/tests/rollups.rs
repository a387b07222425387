//! Property test: aggregations answered from block summaries and hourly rollups equal the
//! aggregations of the points themselves, in time zones with whole-hour offsets and DST.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{ms, series};
use proptest::prelude::*;
use wanwu_tsdb::{Agg, Batch, Engine, Interval, Options, Value, time_zone};

const HOUR: i64 = 3_600_000;

fn expected(model: &BTreeMap<i64, f64>, starts: &[i64], end: i64, agg: Agg) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    for (k, &start) in starts.iter().enumerate() {
        let stop = starts.get(k + 1).copied().unwrap_or(end);
        let values: Vec<f64> = model.range(start..stop).map(|(_, v)| *v).collect();
        if values.is_empty() {
            continue;
        }
        let v = match agg {
            Agg::Avg => values.iter().sum::<f64>() / values.len() as f64,
            Agg::Sum => values.iter().sum(),
            Agg::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
            Agg::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Agg::Count => values.len() as f64,
            Agg::First | Agg::Last => unreachable!("not generated"),
        };
        out.push((start, v));
    }
    out
}

/// Bucket boundaries covering `[from, to]`: fixed steps phased like the engine's first bucket
/// (alignment itself is checked in the calendar tests), or local calendar days.
fn bucket_starts(
    from: i64,
    to: i64,
    interval: Interval,
    tz: &wanwu_tsdb::TimeZone,
    first: Option<i64>,
) -> (Vec<i64>, i64) {
    let mut starts = Vec::new();
    if let Interval::Hours(n) = interval {
        let step = i64::from(n) * HOUR;
        let mut s = first.unwrap_or(from);
        while s > from {
            s -= step;
        }
        while s <= to {
            starts.push(s);
            s += step;
        }
        return (starts, s);
    }
    let mut day = tz
        .to_datetime(jiff::Timestamp::from_millisecond(from).unwrap())
        .date();
    loop {
        let s = day
            .to_zoned(tz.clone())
            .unwrap()
            .timestamp()
            .as_millisecond();
        if s > to {
            return (starts, s);
        }
        starts.push(s);
        day = day.tomorrow().unwrap();
    }
}

async fn check(
    points: Vec<(i64, i64)>,
    decimal: bool,
    delete: Option<(i64, i64)>,
    late: Vec<(i64, i64)>,
) {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        block_points: 500,
        maintenance_interval: Duration::from_secs(3600),
        ..Options::default()
    };
    let engine = Engine::open(dir.path(), opts).await.unwrap();
    let key = series("d", "t");
    let base = ms("2026-03-27T00:00:00Z");
    let value = |v: i64| {
        if decimal {
            v as f64 / 10.0
        } else {
            v as f64 / 7.0
        }
    };
    let mut model = BTreeMap::new();
    let mut batch = Batch::new();
    for &(t, v) in &points {
        batch.push(&key, base + t, Value::F64(value(v)));
        model.insert(base + t, value(v));
    }
    engine.write(batch).await.unwrap();
    engine.flush().await.unwrap();
    if let Some((from, len)) = delete {
        engine
            .delete(&key, base + from, base + from + len)
            .await
            .unwrap();
        model.retain(|&t, _| t < base + from || t > base + from + len);
    }
    let mut batch = Batch::new();
    for &(t, v) in &late {
        batch.push(&key, base + t, Value::F64(value(v)));
        model.insert(base + t, value(v));
    }
    engine.write(batch).await.unwrap();
    for round in 0..2 {
        for zone in ["Europe/Berlin", "Asia/Shanghai", "UTC"] {
            let tz = time_zone(zone).unwrap();
            for interval in [Interval::Hours(1), Interval::Days(1), Interval::Hours(3)] {
                for agg in [Agg::Avg, Agg::Sum, Agg::Min, Agg::Max, Agg::Count] {
                    let (from, to) = (base, base + 4 * 24 * HOUR);
                    let got = engine
                        .query_agg(&key, from, to, interval, agg, &tz)
                        .unwrap();
                    let got: Vec<(i64, f64)> = got
                        .iter()
                        .map(|b| (b.start, b.value.as_f64().unwrap()))
                        .collect();
                    let first_start = engine
                        .query_agg(&key, from, to, interval, Agg::Count, &tz)
                        .unwrap()
                        .first()
                        .map(|b| b.start);
                    let (all_starts, end) = bucket_starts(from, to, interval, &tz, first_start);
                    let want = expected(&model, &all_starts, end, agg);
                    assert_eq!(
                        got.len(),
                        want.len(),
                        "{zone} {interval:?} {agg:?} round {round}"
                    );
                    for ((gs, gv), (ws, wv)) in got.iter().zip(&want) {
                        assert_eq!(gs, ws, "{zone} {interval:?} {agg:?}");
                        assert!(
                            (gv - wv).abs() <= 1e-9 * wv.abs().max(1.0),
                            "{zone} {interval:?} {agg:?}: {gv} vs {wv}"
                        );
                    }
                }
            }
        }
        engine.compact().await.unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn summaries_and_rollups_match_points(
        points in prop::collection::vec((0i64..4 * 24 * HOUR, -500i64..500), 1..400),
        decimal in any::<bool>(),
        delete in prop::option::of((0i64..4 * 24 * HOUR, 0i64..12 * HOUR)),
        late in prop::collection::vec((0i64..4 * 24 * HOUR, -500i64..500), 0..20),
    ) {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(check(points, decimal, delete, late));
    }
}
