//! The in-memory head: points written since the last flush, per series, in write order.

use std::collections::HashMap;

use crate::column::{Column, Run};
use crate::types::{Value, ValueType};

/// Id of a series inside one engine (dense, assigned on first write).
pub(crate) type SeriesId = u32;

/// Recent points of one series in write order.
#[derive(Debug)]
pub(crate) struct HeadSeries {
    ts: Vec<i64>,
    values: Column,
    /// True while timestamps are strictly increasing (no sort needed to read).
    sorted: bool,
}

impl HeadSeries {
    fn new(ty: ValueType) -> Self {
        Self {
            ts: Vec::new(),
            values: Column::with_capacity(ty, 0),
            sorted: true,
        }
    }

    fn push(&mut self, ts: i64, value: Value) {
        if self.ts.last().is_some_and(|&last| ts <= last) {
            self.sorted = false;
        }
        self.ts.push(ts);
        self.values.push(value);
    }

    pub(crate) fn len(&self) -> usize {
        self.ts.len()
    }

    /// The series' points as a sorted run (last write wins on equal timestamps).
    pub(crate) fn run(&self) -> Run {
        if self.sorted {
            Run {
                ts: self.ts.clone(),
                values: self.values.clone(),
            }
        } else {
            Run::from_unsorted(&self.ts, &self.values)
        }
    }

    /// The sorted points with `from <= ts <= to`, copying only those.
    pub(crate) fn run_in(&self, from: i64, to: i64) -> Run {
        if !self.sorted {
            return Run::from_unsorted(&self.ts, &self.values).clip(from, to);
        }
        let start = self.ts.partition_point(|&t| t < from);
        let end = self.ts.partition_point(|&t| t <= to).max(start);
        Run::copy_of(&self.ts, &self.values, start..end)
    }

    fn remove_range(&mut self, from: i64, to: i64) -> usize {
        let keep: Vec<bool> = self.ts.iter().map(|&t| t < from || t > to).collect();
        let removed = keep.iter().filter(|k| !**k).count();
        if removed > 0 {
            self.values.retain_indices(&keep);
            self.ts.retain(|&t| t < from || t > to);
        }
        removed
    }
}

/// Points of all series written since the head was created.
#[derive(Debug, Default)]
pub(crate) struct Head {
    pub(crate) series: HashMap<SeriesId, HeadSeries>,
    pub(crate) points: usize,
}

impl Head {
    /// Appends points of series `id` (of type `ty`; values already checked).
    pub(crate) fn append(
        &mut self,
        id: SeriesId,
        ty: ValueType,
        points: impl IntoIterator<Item = (i64, Value)>,
    ) {
        let series = self.series.entry(id).or_insert_with(|| HeadSeries::new(ty));
        let before = series.len();
        for (ts, value) in points {
            series.push(ts, value);
        }
        self.points += series.len() - before;
    }

    /// Removes points of series `id` with `from <= ts <= to`.
    pub(crate) fn remove_range(&mut self, id: SeriesId, from: i64, to: i64) {
        if let Some(series) = self.series.get_mut(&id) {
            self.points -= series.remove_range(from, to);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.points == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_and_duplicates_resolve_to_last_write() {
        let mut head = Head::default();
        head.append(
            0,
            ValueType::I64,
            [
                (5, Value::I64(1)),
                (3, Value::I64(2)),
                (5, Value::I64(3)),
                (4, Value::I64(4)),
            ],
        );
        let run = head.series[&0].run();
        assert_eq!(run.ts, vec![3, 4, 5]);
        assert_eq!(run.values, Column::I64(vec![2, 4, 3]));
        head.remove_range(0, 4, 10);
        assert_eq!(head.points, 1);
        assert_eq!(head.series[&0].run().ts, vec![3]);
    }
}
