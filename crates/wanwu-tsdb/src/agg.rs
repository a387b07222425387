//! Aggregation functions and their accumulators.

use std::str::FromStr;

use crate::column::Run;
use crate::error::{Error, Result};
use crate::types::{Value, ValueType};

/// How the points of a bucket are combined.
///
/// `avg`, `sum`, `min` and `max` need numbers (`bool` counts as 0/1) and answer with
/// [`Value::F64`]; `count` answers with [`Value::I64`]; `first` and `last` answer with the
/// point's own value. Across many series (`query_agg_many`) the points of all series are
/// pooled: `avg` is the mean of every point in the bucket; when several series have a point
/// at the bucket's first (or last) timestamp, which one `first` (`last`) returns is unspecified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agg {
    /// Arithmetic mean.
    Avg,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Sum of values.
    Sum,
    /// Number of points.
    Count,
    /// Value of the earliest point.
    First,
    /// Value of the latest point.
    Last,
}

impl Agg {
    /// The aggregation's name as used in query strings.
    pub fn name(self) -> &'static str {
        match self {
            Agg::Avg => "avg",
            Agg::Min => "min",
            Agg::Max => "max",
            Agg::Sum => "sum",
            Agg::Count => "count",
            Agg::First => "first",
            Agg::Last => "last",
        }
    }

    fn needs_numbers(self) -> bool {
        matches!(self, Agg::Avg | Agg::Min | Agg::Max | Agg::Sum)
    }

    /// Errors when this aggregation is not defined for `ty`.
    pub(crate) fn check(self, ty: ValueType) -> Result<()> {
        if self.needs_numbers() && !ty.is_numeric() {
            return Err(Error::UnsupportedAggregation {
                agg: self.name(),
                ty,
            });
        }
        Ok(())
    }
}

impl FromStr for Agg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "avg" => Agg::Avg,
            "min" => Agg::Min,
            "max" => Agg::Max,
            "sum" => Agg::Sum,
            "count" => Agg::Count,
            "first" => Agg::First,
            "last" => Agg::Last,
            _ => {
                return Err(format!(
                    "unknown aggregation {s:?}: expected avg, min, max, sum, count, first or last"
                ));
            }
        })
    }
}

/// Summary of a set of points: what every aggregation needs. Also stored per block on disk.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Summary {
    pub(crate) count: u64,
    pub(crate) sum: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) first: Option<(i64, Value)>,
    pub(crate) last: Option<(i64, Value)>,
}

impl Default for Summary {
    fn default() -> Self {
        Self {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            first: None,
            last: None,
        }
    }
}

impl Summary {
    /// Summarises `run[range]` (non-empty, sorted).
    pub(crate) fn of(run: &Run, range: std::ops::Range<usize>) -> Self {
        let mut s = Summary::default();
        s.add_run(run, range, true);
        s
    }

    /// Adds the points `run[range]`; numbers only when `numbers` (skips the work otherwise).
    pub(crate) fn add_run(&mut self, run: &Run, range: std::ops::Range<usize>, numbers: bool) {
        if range.is_empty() {
            return;
        }
        self.count += range.len() as u64;
        if numbers {
            fold_numbers(
                run,
                range.clone(),
                &mut self.sum,
                &mut self.min,
                &mut self.max,
            );
        }
        let (first, last) = (range.start, range.end - 1);
        if self.first.as_ref().is_none_or(|(t, _)| run.ts[first] < *t) {
            self.first = Some((run.ts[first], run.values.get(first)));
        }
        if self.last.as_ref().is_none_or(|(t, _)| run.ts[last] >= *t) {
            self.last = Some((run.ts[last], run.values.get(last)));
        }
    }

    /// Adds another summary (of points disjoint from this one's).
    pub(crate) fn merge(&mut self, other: &Summary) {
        if other.count == 0 {
            return;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        if let Some((t, v)) = &other.first
            && self.first.as_ref().is_none_or(|(mine, _)| t < mine)
        {
            self.first = Some((*t, v.clone()));
        }
        if let Some((t, v)) = &other.last
            && self.last.as_ref().is_none_or(|(mine, _)| t >= mine)
        {
            self.last = Some((*t, v.clone()));
        }
    }

    /// The aggregate, or `None` for an empty bucket.
    pub(crate) fn result(&self, agg: Agg) -> Option<Value> {
        if self.count == 0 {
            return None;
        }
        Some(match agg {
            Agg::Avg => Value::F64(self.sum / self.count as f64),
            Agg::Min => Value::F64(self.min),
            Agg::Max => Value::F64(self.max),
            Agg::Sum => Value::F64(self.sum),
            Agg::Count => Value::I64(self.count as i64),
            Agg::First => self.first.as_ref()?.1.clone(),
            Agg::Last => self.last.as_ref()?.1.clone(),
        })
    }
}

fn fold_numbers(
    run: &Run,
    range: std::ops::Range<usize>,
    sum: &mut f64,
    min: &mut f64,
    max: &mut f64,
) {
    use crate::column::Column;
    match &run.values {
        Column::F64(v) => {
            for &x in &v[range] {
                *sum += x;
                *min = min.min(x);
                *max = max.max(x);
            }
        }
        Column::I64(v) => {
            for &x in &v[range] {
                let x = x as f64;
                *sum += x;
                *min = min.min(x);
                *max = max.max(x);
            }
        }
        Column::Bool(v) => {
            for &x in &v[range] {
                let x = f64::from(u8::from(x));
                *sum += x;
                *min = min.min(x);
                *max = max.max(x);
            }
        }
        Column::Str(_) | Column::Geo(_) => {}
    }
}

/// One bucket of an aggregation result.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    /// Start of the bucket (ms since the Unix epoch).
    pub start: i64,
    /// The aggregate of the bucket's points.
    pub value: Value,
}
