//! A device's recent numeric values, for the windowed aggregates of conditions.
//!
//! Bounds: only keys that some rule of the tenant aggregates are kept; each key keeps the
//! points of its longest window used (at most 24h) and never more than
//! [`WindowLimits::max_points_per_key`] of them (the oldest go first; a window then covers
//! only the newest points, and [`History::truncated`] counts it). Memory per device is at most
//! keys x max points x 24 bytes (time, value and running sum).

use crate::expr::{Aggregate, AggregateCall};
use std::collections::VecDeque;
use wanwu_model::Value;

/// Limits of the per-device history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowLimits {
    /// Most points kept per key of a device.
    pub max_points_per_key: usize,
}

impl Default for WindowLimits {
    fn default() -> Self {
        WindowLimits {
            max_points_per_key: 1024,
        }
    }
}

/// Keys tracked for aggregates, with the longest window asked of each (ms).
pub type Tracked = foldhash::HashMap<String, u64>;

/// Recent values of one device, by key.
#[derive(Debug, Default)]
pub struct History {
    series: foldhash::HashMap<String, Series>,
    truncated: u64,
}

/// One key's recent points, in arrival order, each with the running sum up to it: while
/// their times are in order (the usual case), an aggregate finds its window by binary
/// search and a sum or count without visiting the points.
#[derive(Debug, Default)]
struct Series {
    points: VecDeque<Point>,
    /// The running sum of the points already forgotten.
    forgotten: f64,
    /// Neighbouring points whose times are out of order: while none, the binary search holds.
    inversions: usize,
    /// Points added since the running sums were last restarted from the oldest point.
    since_rebase: usize,
}

#[derive(Clone, Copy, Debug)]
struct Point {
    ts: i64,
    x: f64,
    /// Sum of x of every point up to this one (since the last rebase).
    running: f64,
}

impl Series {
    fn push(&mut self, ts: i64, x: f64) {
        match self.points.back() {
            None => (self.forgotten, self.inversions) = (0.0, 0),
            Some(last) if ts < last.ts => self.inversions += 1,
            Some(_) => {}
        }
        let before = self.points.back().map_or(self.forgotten, |p| p.running);
        self.points.push_back(Point {
            ts,
            x,
            running: before + x,
        });
        self.since_rebase += 1;
        // Keeps the running sums as small as the window's, so that their differences keep
        // the precision of a plain sum.
        if self.since_rebase >= self.points.len().max(64) {
            let base = self.forgotten;
            self.points.iter_mut().for_each(|p| p.running -= base);
            (self.forgotten, self.since_rebase) = (0.0, 0);
        }
    }

    fn forget_oldest(&mut self) {
        if let Some(oldest) = self.points.pop_front() {
            self.forgotten = oldest.running;
            if self.points.front().is_some_and(|next| next.ts < oldest.ts) {
                self.inversions -= 1;
            }
        }
    }

    /// Sum of the points at indexes `lo..hi` (`lo < hi`).
    fn sum(&self, lo: usize, hi: usize) -> f64 {
        let before = match lo {
            0 => self.forgotten,
            _ => self.points[lo - 1].running,
        };
        self.points[hi - 1].running - before
    }
}

impl History {
    /// Records the numeric values of `values` at `ts` whose key is in `tracked` (key -> the
    /// longest window in ms), and forgets what fell out of that window.
    pub fn record<'a>(
        &mut self,
        ts: i64,
        values: impl Iterator<Item = (&'a String, &'a Value)>,
        tracked: &Tracked,
        limits: WindowLimits,
    ) {
        for (key, value) in values {
            let (Some(window), Some(x)) = (tracked.get(key), value.as_f64()) else {
                continue;
            };
            let series = match self.series.get_mut(key) {
                Some(series) => series,
                None => self.series.entry(key.clone()).or_default(),
            };
            let newest = series.points.back().map_or(ts, |last| last.ts.max(ts));
            series.push(ts, x);
            let horizon = newest.saturating_sub(i64::try_from(*window).unwrap_or(i64::MAX));
            while series.points.front().is_some_and(|p| p.ts <= horizon) {
                series.forget_oldest();
            }
            while series.points.len() > limits.max_points_per_key.max(1) {
                series.forget_oldest();
                self.truncated += 1;
            }
        }
    }

    /// Points dropped because a key had more than its limit within its window.
    pub fn truncated(&self) -> u64 {
        self.truncated
    }

    /// The aggregate over the points in `(end - window, end]`, or `None` without points
    /// (`rate` needs two at different times).
    pub fn aggregate(&self, call: &AggregateCall, end: i64) -> Option<cel::Value> {
        let start = end.saturating_sub(i64::try_from(call.window_ms).unwrap_or(i64::MAX));
        let series = self.series.get(&call.key)?;
        if series.inversions > 0 {
            let points = series.points.iter().filter(|p| p.ts > start && p.ts <= end);
            return aggregate_of(call.aggregate, points.map(|p| (p.ts, p.x)));
        }
        let lo = series.points.partition_point(|p| p.ts <= start);
        let hi = series.points.partition_point(|p| p.ts <= end);
        if lo >= hi {
            return None;
        }
        match call.aggregate {
            Aggregate::Count => Some(cel::Value::Int((hi - lo) as i64)),
            Aggregate::Avg => Some(cel::Value::Float(series.sum(lo, hi) / (hi - lo) as f64)),
            other => aggregate_of(other, series.points.range(lo..hi).map(|p| (p.ts, p.x))),
        }
    }
}

/// The aggregate of `points` (time, value), in arrival order, or `None` without points.
fn aggregate_of(
    aggregate: Aggregate,
    points: impl Iterator<Item = (i64, f64)>,
) -> Option<cel::Value> {
    let mut points = points.peekable();
    points.peek()?;
    Some(match aggregate {
        Aggregate::Count => cel::Value::Int(points.count() as i64),
        Aggregate::Avg => {
            let (sum, n) = points.fold((0.0, 0u64), |(s, n), p| (s + p.1, n + 1));
            cel::Value::Float(sum / n as f64)
        }
        Aggregate::Min => cel::Value::Float(points.map(|p| p.1).fold(f64::INFINITY, f64::min)),
        Aggregate::Max => cel::Value::Float(points.map(|p| p.1).fold(f64::NEG_INFINITY, f64::max)),
        Aggregate::Rate => {
            let (mut first, mut last) = (None::<(i64, f64)>, None::<(i64, f64)>);
            for p in points {
                first = Some(first.map_or(p, |f| if p.0 < f.0 { p } else { f }));
                last = Some(last.map_or(p, |l| if p.0 >= l.0 { p } else { l }));
            }
            let (first, last) = (first?, last?);
            if last.0 == first.0 {
                return None;
            }
            cel::Value::Float((last.1 - first.1) * 1000.0 / (last.0 - first.0) as f64)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

    fn call(aggregate: Aggregate, window: &str) -> AggregateCall {
        AggregateCall {
            aggregate,
            key: "pm25".into(),
            window_text: window.into(),
            window_ms: Span::parse(window).unwrap().as_millis(),
        }
    }

    fn history(points: &[(i64, f64)], limits: WindowLimits) -> History {
        let tracked = Tracked::from_iter([("pm25".to_string(), 300_000u64)]);
        let mut history = History::default();
        for (ts, x) in points {
            let values = [
                ("pm25".to_string(), Value::Float(*x)),
                ("other".into(), Value::Float(1.0)),
            ];
            history.record(*ts, values.iter().map(|(k, v)| (k, v)), &tracked, limits);
        }
        history
    }

    #[test]
    fn aggregates_cover_their_window_only() {
        let h = history(
            &[(0, 100.0), (60_000, 10.0), (120_000, 20.0), (180_000, 30.0)],
            WindowLimits::default(),
        );
        let at = |a, w| h.aggregate(&call(a, w), 180_000);
        assert_eq!(at(Aggregate::Avg, "2m"), Some(cel::Value::Float(25.0)));
        assert_eq!(at(Aggregate::Avg, "5m"), Some(cel::Value::Float(40.0)));
        assert_eq!(at(Aggregate::Min, "3m"), Some(cel::Value::Float(10.0)));
        assert_eq!(at(Aggregate::Max, "1m"), Some(cel::Value::Float(30.0)));
        assert_eq!(at(Aggregate::Count, "5m"), Some(cel::Value::Int(4)));
        assert_eq!(
            at(Aggregate::Rate, "3m"),
            Some(cel::Value::Float(20.0 / 120.0))
        );
        assert_eq!(at(Aggregate::Rate, "1m"), None, "one point has no rate");
        assert_eq!(h.aggregate(&call(Aggregate::Avg, "1m"), 1_000_000), None);
    }

    #[test]
    fn history_is_bounded_by_window_and_points() {
        let h = history(&[(0, 1.0), (400_000, 2.0)], WindowLimits::default());
        assert_eq!(
            h.aggregate(&call(Aggregate::Count, "24h"), 400_000),
            Some(cel::Value::Int(1))
        );
        let many: Vec<_> = (0..100).map(|i| (i * 10, i as f64)).collect();
        let h = history(
            &many,
            WindowLimits {
                max_points_per_key: 8,
            },
        );
        assert_eq!(
            h.aggregate(&call(Aggregate::Count, "5m"), 990),
            Some(cel::Value::Int(8))
        );
        assert_eq!(h.truncated(), 92);
        assert!(
            !h.series.contains_key("other"),
            "untracked keys are not kept"
        );
    }

    #[test]
    fn a_late_point_leaves_the_fast_path_until_it_is_forgotten() {
        let h = history(
            &[(0, 1.0), (60_000, 2.0), (30_000, 3.0)],
            WindowLimits::default(),
        );
        assert_eq!(h.series["pm25"].inversions, 1);
        let h = history(
            &[(0, 1.0), (60_000, 2.0), (30_000, 3.0), (40_000, 4.0)],
            WindowLimits {
                max_points_per_key: 2,
            },
        );
        assert_eq!(h.series["pm25"].inversions, 0, "the late point is gone");
        assert_eq!(
            h.aggregate(&call(Aggregate::Avg, "5m"), 40_000),
            Some(cel::Value::Float(3.5))
        );
    }

    proptest::proptest! {
        /// With points in order or not, a binary search and running sums give what a scan of
        /// every point gives.
        #[test]
        fn running_sums_agree_with_a_scan(
            steps in proptest::collection::vec((-20_000i64..60_000, -1e6..1e6f64), 1..300),
            windows in proptest::collection::vec(1u64..400_000, 1..4),
            limit in 1usize..200,
        ) {
            let tracked = Tracked::from_iter([("pm25".to_string(), 300_000u64)]);
            let limits = WindowLimits { max_points_per_key: limit };
            let mut history = History::default();
            let mut ts = 0i64;
            for (step, x) in steps {
                ts += step;
                let values = [("pm25".to_string(), Value::Float(x))];
                history.record(ts, values.iter().map(|(k, v)| (k, v)), &tracked, limits);
                let series = &history.series["pm25"];
                for &window_ms in &windows {
                    for aggregate in [Aggregate::Avg, Aggregate::Count, Aggregate::Min, Aggregate::Max, Aggregate::Rate] {
                        let call = AggregateCall { aggregate, key: "pm25".into(), window_text: String::new(), window_ms };
                        let start = ts - window_ms as i64;
                        let scanned = aggregate_of(aggregate, series.points.iter()
                            .filter(|p| p.ts > start && p.ts <= ts).map(|p| (p.ts, p.x)));
                        let found = history.aggregate(&call, ts);
                        match (found, scanned) {
                            (Some(cel::Value::Float(a)), Some(cel::Value::Float(b))) => {
                                proptest::prop_assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "{aggregate:?}: {a} vs {b}");
                            }
                            (a, b) => proptest::prop_assert_eq!(a, b),
                        }
                    }
                }
            }
        }
    }
}
