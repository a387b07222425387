//! A device's recent numeric values, for the windowed aggregates of conditions.
//!
//! Bounds: only keys that some rule of the tenant aggregates are kept; each key keeps the
//! points of its longest window used (at most 24h) and never more than
//! [`WindowLimits::max_points_per_key`] of them (the oldest go first; a window then covers
//! only the newest points, and [`History::truncated`] counts it). Memory per device is at most
//! keys x max points x 16 bytes.

use crate::expr::{Aggregate, AggregateCall};
use std::collections::{HashMap, VecDeque};
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

/// Recent values of one device, by key.
#[derive(Debug, Default)]
pub struct History {
    series: HashMap<String, VecDeque<(i64, f64)>>,
    truncated: u64,
}

impl History {
    /// Records the numeric values of `values` at `ts` whose key is in `tracked` (key -> the
    /// longest window in ms), and forgets what fell out of that window.
    pub fn record<'a>(
        &mut self,
        ts: i64,
        values: impl Iterator<Item = (&'a String, &'a Value)>,
        tracked: &HashMap<String, u64>,
        limits: WindowLimits,
    ) {
        for (key, value) in values {
            let (Some(window), Some(x)) = (tracked.get(key), value.as_f64()) else {
                continue;
            };
            let points = match self.series.get_mut(key) {
                Some(points) => points,
                None => self.series.entry(key.clone()).or_default(),
            };
            let newest = points.back().map_or(ts, |last| last.0.max(ts));
            points.push_back((ts, x));
            let horizon = newest.saturating_sub(i64::try_from(*window).unwrap_or(i64::MAX));
            while points.front().is_some_and(|p| p.0 <= horizon) {
                points.pop_front();
            }
            while points.len() > limits.max_points_per_key.max(1) {
                points.pop_front();
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
        let mut points = self
            .series
            .get(&call.key)?
            .iter()
            .filter(|(ts, _)| *ts > start && *ts <= end)
            .peekable();
        points.peek()?;
        Some(match call.aggregate {
            Aggregate::Count => cel::Value::Int(points.count() as i64),
            Aggregate::Avg => {
                let (sum, n) = points.fold((0.0, 0u64), |(s, n), p| (s + p.1, n + 1));
                cel::Value::Float(sum / n as f64)
            }
            Aggregate::Min => cel::Value::Float(points.map(|p| p.1).fold(f64::INFINITY, f64::min)),
            Aggregate::Max => {
                cel::Value::Float(points.map(|p| p.1).fold(f64::NEG_INFINITY, f64::max))
            }
            Aggregate::Rate => {
                let (mut first, mut last) = (None::<(i64, f64)>, None::<(i64, f64)>);
                for &p in points {
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
        let tracked = HashMap::from([("pm25".to_string(), 300_000u64)]);
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
}
