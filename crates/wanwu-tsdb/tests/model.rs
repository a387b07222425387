//! Model-based property test: the engine returns exactly what a BTreeMap model says, across
//! out-of-order writes, duplicates, deletes, flushes, compactions and restarts.

mod common;

use std::collections::BTreeMap;

use common::{series, small_options};
use proptest::prelude::*;
use wanwu_tsdb::{Agg, Batch, Engine, Interval, Order, Point, SeriesKey, TimeZone, Value};

#[derive(Clone, Debug)]
enum Op {
    Write(Vec<(usize, i64, i64)>),
    Delete(usize, i64, i64),
    Flush,
    Compact,
    Reopen { graceful: bool },
}

const SERIES: usize = 3;

fn key(i: usize) -> SeriesKey {
    series(&format!("d{i}"), if i == 2 { "state" } else { "temp" })
}

/// Series 0 and 1 hold floats, series 2 strings.
fn value(i: usize, v: i64) -> Value {
    if i == 2 {
        Value::Str(format!("s{}", v % 5))
    } else {
        Value::F64(v as f64 / 2.0)
    }
}

fn op() -> impl Strategy<Value = Op> {
    let point = (0..SERIES, 0i64..6_000, -100i64..100);
    prop_oneof![
        6 => prop::collection::vec(point, 1..12).prop_map(Op::Write),
        1 => (0..SERIES, 0i64..6_000, 0i64..2_000).prop_map(|(s, from, len)| Op::Delete(s, from, from + len)),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => any::<bool>().prop_map(|graceful| Op::Reopen { graceful }),
    ]
}

type Model = Vec<BTreeMap<i64, Value>>;

fn check(engine: &Engine, model: &Model) {
    for (i, expected) in model.iter().enumerate() {
        let got = engine
            .query_raw(&key(i), i64::MIN, i64::MAX, None, Order::Asc)
            .unwrap();
        let want: Vec<Point> = expected
            .iter()
            .map(|(ts, v)| Point::new(*ts, v.clone()))
            .collect();
        assert_eq!(got, want, "series {i}");
        let desc = engine
            .query_raw(&key(i), 1_000, 4_000, Some(3), Order::Desc)
            .unwrap();
        let want_desc: Vec<Point> = expected
            .range(1_000..=4_000)
            .rev()
            .take(3)
            .map(|(ts, v)| Point::new(*ts, v.clone()))
            .collect();
        assert_eq!(desc, want_desc, "series {i} desc");
        let latest = engine.latest(&key(i)).unwrap();
        assert_eq!(
            latest,
            expected
                .iter()
                .next_back()
                .map(|(ts, v)| Point::new(*ts, v.clone())),
            "latest {i}"
        );
    }
    // Per-second sums and counts of the float series pooled, against the model.
    let floats = [key(0), key(1)];
    let interval = Interval::Seconds(1);
    let sums = engine
        .query_agg_many(&floats, 0, 5_999, interval, Agg::Sum, &TimeZone::UTC)
        .unwrap();
    let counts = engine
        .query_agg_many(&floats, 0, 5_999, interval, Agg::Count, &TimeZone::UTC)
        .unwrap();
    let mut want: BTreeMap<i64, (f64, i64)> = BTreeMap::new();
    for m in &model[..2] {
        for (ts, v) in m.range(0..6_000) {
            let e = want.entry(ts - ts % 1_000).or_default();
            e.0 += v.as_f64().unwrap();
            e.1 += 1;
        }
    }
    let got: Vec<(i64, f64, i64)> = sums
        .iter()
        .zip(&counts)
        .map(|(s, c)| {
            assert_eq!(s.start, c.start);
            let Value::I64(n) = c.value else {
                panic!("count is an integer")
            };
            (s.start, s.value.as_f64().unwrap(), n)
        })
        .collect();
    let want: Vec<(i64, f64, i64)> = want.into_iter().map(|(k, (s, n))| (k, s, n)).collect();
    assert_eq!(got, want);
}

async fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = Engine::open(dir.path(), small_options()).await.unwrap();
    let mut model: Model = vec![BTreeMap::new(); SERIES];
    for op in ops {
        match op {
            Op::Write(points) => {
                let mut batch = Batch::new();
                for &(s, ts, v) in &points {
                    batch.push(&key(s), ts, value(s, v));
                    model[s].insert(ts, value(s, v));
                }
                engine.write(batch).await.unwrap();
            }
            Op::Delete(s, from, to) => {
                engine.delete(&key(s), from, to).await.unwrap();
                let doomed: Vec<i64> = model[s].range(from..=to).map(|(ts, _)| *ts).collect();
                for ts in doomed {
                    model[s].remove(&ts);
                }
            }
            Op::Flush => engine.flush().await.unwrap(),
            Op::Compact => engine.compact().await.unwrap(),
            Op::Reopen { graceful } => {
                if graceful {
                    engine.close().await.unwrap();
                } else {
                    drop(engine);
                }
                engine = Engine::open(dir.path(), small_options()).await.unwrap();
                assert!(
                    engine.recovery_report().damage.is_empty(),
                    "{:?}",
                    engine.recovery_report()
                );
            }
        }
        check(&engine, &model);
    }
    engine.close().await.unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run(ops));
    }
}
