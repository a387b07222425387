//! Typed value columns and sorted runs of points, the in-memory form of every query.

use crate::types::{GeoPoint, Point, Value, ValueType};

/// Values of one type, stored column-wise.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Column {
    F64(Vec<f64>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
    Str(Vec<String>),
    Geo(Vec<GeoPoint>),
}

impl Column {
    /// An empty column of type `ty` with room for `cap` values.
    pub(crate) fn with_capacity(ty: ValueType, cap: usize) -> Self {
        match ty {
            ValueType::F64 => Column::F64(Vec::with_capacity(cap)),
            ValueType::I64 => Column::I64(Vec::with_capacity(cap)),
            ValueType::Bool => Column::Bool(Vec::with_capacity(cap)),
            ValueType::Str => Column::Str(Vec::with_capacity(cap)),
            ValueType::Geo => Column::Geo(Vec::with_capacity(cap)),
        }
    }

    pub(crate) fn value_type(&self) -> ValueType {
        match self {
            Column::F64(_) => ValueType::F64,
            Column::I64(_) => ValueType::I64,
            Column::Bool(_) => ValueType::Bool,
            Column::Str(_) => ValueType::Str,
            Column::Geo(_) => ValueType::Geo,
        }
    }

    /// Appends `value`; the caller has checked its type.
    pub(crate) fn push(&mut self, value: Value) {
        match (self, value) {
            (Column::F64(c), Value::F64(v)) => c.push(v),
            (Column::I64(c), Value::I64(v)) => c.push(v),
            (Column::Bool(c), Value::Bool(v)) => c.push(v),
            (Column::Str(c), Value::Str(v)) => c.push(v),
            (Column::Geo(c), Value::Geo(v)) => c.push(v),
            (c, v) => unreachable!("type checked before push: {:?} into {}", v, c.value_type()),
        }
    }

    /// Appends a copy of `other[i]`; both columns have the same type.
    pub(crate) fn push_from(&mut self, other: &Column, i: usize) {
        match (self, other) {
            (Column::F64(c), Column::F64(o)) => c.push(o[i]),
            (Column::I64(c), Column::I64(o)) => c.push(o[i]),
            (Column::Bool(c), Column::Bool(o)) => c.push(o[i]),
            (Column::Str(c), Column::Str(o)) => c.push(o[i].clone()),
            (Column::Geo(c), Column::Geo(o)) => c.push(o[i]),
            (c, o) => unreachable!(
                "columns of one series share a type: {} vs {}",
                c.value_type(),
                o.value_type()
            ),
        }
    }

    /// The value at `i`.
    pub(crate) fn get(&self, i: usize) -> Value {
        match self {
            Column::F64(v) => Value::F64(v[i]),
            Column::I64(v) => Value::I64(v[i]),
            Column::Bool(v) => Value::Bool(v[i]),
            Column::Str(v) => Value::Str(v[i].clone()),
            Column::Geo(v) => Value::Geo(v[i]),
        }
    }

    /// Keeps the values whose index passes `keep`.
    pub(crate) fn retain_indices(&mut self, keep: &[bool]) {
        fn filter<T>(v: &mut Vec<T>, keep: &[bool]) {
            let mut i = 0;
            v.retain(|_| {
                i += 1;
                keep[i - 1]
            });
        }
        match self {
            Column::F64(v) => filter(v, keep),
            Column::I64(v) => filter(v, keep),
            Column::Bool(v) => filter(v, keep),
            Column::Str(v) => filter(v, keep),
            Column::Geo(v) => filter(v, keep),
        }
    }
}

/// Points of one series sorted by timestamp with unique timestamps.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Run {
    pub(crate) ts: Vec<i64>,
    pub(crate) values: Column,
}

impl Run {
    pub(crate) fn empty(ty: ValueType) -> Self {
        Self {
            ts: Vec::new(),
            values: Column::with_capacity(ty, 0),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.ts.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Builds a run from points in write order: sorts by time, and on equal timestamps the
    /// later write wins.
    pub(crate) fn from_unsorted(ts: &[i64], values: &Column) -> Self {
        let mut order: Vec<u32> = (0..ts.len() as u32).collect();
        // Stable sort keeps write order among equal timestamps; the last one is kept.
        order.sort_by_key(|&i| ts[i as usize]);
        let mut run = Run {
            ts: Vec::with_capacity(ts.len()),
            values: Column::with_capacity(values.value_type(), ts.len()),
        };
        for (k, &i) in order.iter().enumerate() {
            let i = i as usize;
            let is_last_of_ts = order.get(k + 1).is_none_or(|&n| ts[n as usize] != ts[i]);
            if is_last_of_ts {
                run.ts.push(ts[i]);
                run.values.push_from(values, i);
            }
        }
        run
    }

    /// The index range of points with `from <= ts <= to`.
    pub(crate) fn range_indices(&self, from: i64, to: i64) -> std::ops::Range<usize> {
        let start = self.ts.partition_point(|&t| t < from);
        let end = self.ts.partition_point(|&t| t <= to);
        start..end.max(start)
    }

    /// A copy of the points with `from <= ts <= to`.
    pub(crate) fn clip(&self, from: i64, to: i64) -> Run {
        let range = self.range_indices(from, to);
        if range.len() == self.len() {
            return self.clone();
        }
        Run::copy_of(&self.ts, &self.values, range)
    }

    /// A run of `ts[range]` and `values[range]` (sorted, unique timestamps).
    pub(crate) fn copy_of(ts: &[i64], values: &Column, range: std::ops::Range<usize>) -> Run {
        let mut out = Run {
            ts: ts[range.clone()].to_vec(),
            values: Column::with_capacity(values.value_type(), range.len()),
        };
        for i in range {
            out.values.push_from(values, i);
        }
        out
    }

    /// Removes the points with `from <= ts <= to`.
    pub(crate) fn remove_range(&mut self, from: i64, to: i64) {
        let keep: Vec<bool> = self.ts.iter().map(|&t| t < from || t > to).collect();
        if keep.iter().all(|&k| k) {
            return;
        }
        self.values.retain_indices(&keep);
        self.ts.retain(|&t| t < from || t > to);
    }

    /// Merges `newer` over `self`: on equal timestamps the newer value wins.
    pub(crate) fn merge_newer(self, newer: Run) -> Run {
        if newer.is_empty() {
            return self;
        }
        if self.is_empty() {
            return newer;
        }
        let mut out = Run {
            ts: Vec::with_capacity(self.len() + newer.len()),
            values: Column::with_capacity(self.values.value_type(), self.len() + newer.len()),
        };
        let (mut i, mut j) = (0, 0);
        while i < self.len() || j < newer.len() {
            let take_newer = match (self.ts.get(i), newer.ts.get(j)) {
                (Some(&a), Some(&b)) => {
                    if a == b {
                        i += 1;
                    }
                    b <= a
                }
                (None, Some(_)) => true,
                _ => false,
            };
            if take_newer {
                out.ts.push(newer.ts[j]);
                out.values.push_from(&newer.values, j);
                j += 1;
            } else {
                out.ts.push(self.ts[i]);
                out.values.push_from(&self.values, i);
                i += 1;
            }
        }
        out
    }

    /// The point at `i`.
    pub(crate) fn point(&self, i: usize) -> Point {
        Point {
            ts: self.ts[i],
            value: self.values.get(i),
        }
    }
}
