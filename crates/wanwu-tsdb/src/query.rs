//! Reading a series: gathering its pieces (blocks and heads), merging overlaps with
//! last-write-wins, applying tombstones, streaming raw points and aggregating into buckets.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::agg::{Agg, Bucket, Summary};
use crate::column::Run;
use crate::error::Result;
use crate::head::SeriesId;
use crate::interval::Buckets;
use crate::record::Tombstone;
use crate::rollup;
use crate::segment::{BlockMeta, Segment};
use crate::state::State;
use crate::types::{Order, Point, ValueType};

/// Generation of the active head: newer than everything, never hit by a tombstone.
const ACTIVE_GEN: u64 = u64::MAX;

enum PieceData {
    Block(Arc<Segment>, usize),
    Head(Run),
}

/// A sorted, deduplicated run of one source, before tombstones and cross-source merging.
struct Piece {
    min: i64,
    max: i64,
    generation: u64,
    tomb_seq: u64,
    data: PieceData,
}

impl Piece {
    fn block(&self) -> Option<&BlockMeta> {
        match &self.data {
            PieceData::Block(segment, i) => Some(&segment.blocks[*i]),
            PieceData::Head(_) => None,
        }
    }

    fn hit_by(&self, t: &Tombstone) -> bool {
        t.gen_limit > self.generation
            && t.seq > self.tomb_seq
            && t.from <= self.max
            && t.to >= self.min
    }

    fn into_run(self) -> Result<Run> {
        match self.data {
            PieceData::Block(segment, i) => segment.read_block(&segment.blocks[i]),
            PieceData::Head(run) => Ok(run),
        }
    }
}

/// Pieces whose time ranges overlap, transitively; clusters are disjoint in time.
struct Cluster {
    min: i64,
    max: i64,
    pieces: Vec<Piece>,
}

impl Cluster {
    /// The block when the cluster is one block untouched by tombstones: its stored summary
    /// and rollups describe exactly the cluster's points.
    fn untouched_block(&self, tombstones: &[Tombstone]) -> Option<&BlockMeta> {
        match &self.pieces[..] {
            [piece] if !tombstones.iter().any(|t| piece.hit_by(t)) => piece.block(),
            _ => None,
        }
    }

    /// The stored summary when the cluster is one untouched block (no decoding needed).
    fn summary(&self, tombstones: &[Tombstone]) -> Option<&Summary> {
        self.untouched_block(tombstones).map(|b| &b.summary)
    }

    /// Decodes and merges the pieces: newer generations win on equal timestamps.
    fn decode(mut self, ty: ValueType, tombstones: &[Tombstone]) -> Result<Run> {
        self.pieces.sort_by_key(|p| p.generation);
        let mut merged = Run::empty(ty);
        for piece in self.pieces {
            let hits: Vec<&Tombstone> = tombstones.iter().filter(|t| piece.hit_by(t)).collect();
            let mut run = piece.into_run()?;
            for t in hits {
                run.remove_range(t.from, t.to);
            }
            merged = merged.merge_newer(run);
        }
        Ok(merged)
    }
}

/// Everything needed to read one series over a range, detached from the engine's lock.
pub(crate) struct SeriesView {
    pub(crate) ty: ValueType,
    clusters: VecDeque<Cluster>,
    tombstones: Vec<Tombstone>,
}

impl SeriesView {
    /// Snapshots series `id` over `[from, to]`. Called under the state's read lock; copies only
    /// the head's points in range.
    pub(crate) fn capture(
        state: &State,
        id: SeriesId,
        from: i64,
        to: i64,
        partition_ms: i64,
    ) -> Self {
        let def = &state.series[id as usize].def;
        let mut pieces = Vec::new();
        for segment in state.segments_for(def, from, to, partition_ms) {
            let first = segment.blocks.partition_point(|b| b.series < id);
            for (i, b) in segment.blocks_of(id).iter().enumerate() {
                if b.max_ts >= from && b.min_ts <= to {
                    pieces.push(Piece {
                        min: b.min_ts,
                        max: b.max_ts,
                        generation: segment.gen_hi,
                        tomb_seq: segment.tomb_seq,
                        data: PieceData::Block(segment.clone(), first + i),
                    });
                }
            }
        }
        let heads = state
            .frozen
            .iter()
            .map(|f| (f.generation, &*f.head))
            .chain([(ACTIVE_GEN, &state.head)]);
        for (generation, head) in heads {
            if let Some(series) = head.series.get(&id) {
                let run = series.run_in(from, to);
                if let (Some(&min), Some(&max)) = (run.ts.first(), run.ts.last()) {
                    pieces.push(Piece {
                        min,
                        max,
                        generation,
                        tomb_seq: 0,
                        data: PieceData::Head(run),
                    });
                }
            }
        }
        let tombstones = state
            .tombstones
            .get(&id)
            .map(|ts| {
                ts.iter()
                    .filter(|t| t.from <= to && t.to >= from)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        Self {
            ty: def.ty,
            clusters: clusters(pieces),
            tombstones,
        }
    }

    /// A view of a series that does not exist: no points.
    pub(crate) fn empty() -> Self {
        Self {
            ty: ValueType::F64,
            clusters: VecDeque::new(),
            tombstones: Vec::new(),
        }
    }

    /// Streams the points in `[from, to]` in `order`.
    pub(crate) fn into_iter(self, from: i64, to: i64, order: Order) -> RawIter {
        RawIter {
            view: self,
            from,
            to,
            order,
            current: None,
        }
    }

    /// Adds this series' points in `[from, to]` to the bucket summaries `acc`.
    pub(crate) fn aggregate_into(
        self,
        from: i64,
        to: i64,
        buckets: &Buckets,
        agg: Agg,
        acc: &mut [Summary],
    ) -> Result<()> {
        let numbers = matches!(agg, Agg::Avg | Agg::Min | Agg::Max | Agg::Sum);
        for cluster in self.clusters {
            if cluster.min >= from && cluster.max <= to {
                let k = buckets.index_of(cluster.min);
                if k.is_some()
                    && k == buckets.index_of(cluster.max)
                    && let Some(summary) = cluster.summary(&self.tombstones)
                {
                    acc[k.expect("checked")].merge(summary);
                    continue;
                }
            }
            if numbers_or_count(agg)
                && let Some(block) = cluster.untouched_block(&self.tombstones)
                && add_rollups(block, from, to, buckets, agg, acc)
            {
                continue;
            }
            let run = cluster.decode(self.ty, &self.tombstones)?;
            let range = run.range_indices(from, to);
            let mut i = range.start;
            while i < range.end {
                let Some(k) = buckets.index_of(run.ts[i]) else {
                    break;
                };
                let end_ts = buckets.end_of(k);
                let j = i + run.ts[i..range.end].partition_point(|&t| t < end_ts);
                acc[k].add_run(&run, i..j, numbers);
                i = j;
            }
        }
        Ok(())
    }

    /// The newest point, reading at most the newest cluster.
    pub(crate) fn newest(mut self) -> Result<Option<Point>> {
        while let Some(cluster) = self.clusters.pop_back() {
            if let Some(summary) = cluster.summary(&self.tombstones) {
                return Ok(summary.last.clone().map(|(ts, value)| Point { ts, value }));
            }
            let run = cluster.decode(self.ty, &self.tombstones)?;
            if !run.is_empty() {
                return Ok(Some(run.point(run.len() - 1)));
            }
        }
        Ok(None)
    }
}

fn numbers_or_count(agg: Agg) -> bool {
    !matches!(agg, Agg::First | Agg::Last)
}

/// Adds a block's hourly rollups when each hour lies within `[from, to]` and within one
/// bucket and the rollups hold what `agg` needs; returns false (adding nothing) otherwise.
fn add_rollups(
    block: &BlockMeta,
    from: i64,
    to: i64,
    buckets: &Buckets,
    agg: Agg,
    acc: &mut [Summary],
) -> bool {
    if block.rollup.is_empty() {
        return false;
    }
    let Ok(hours) = rollup::decode(&block.rollup, block.min_ts, block.format) else {
        return false;
    };
    let needs_extremes = matches!(agg, Agg::Min | Agg::Max);
    if needs_extremes && hours.iter().any(|h| h.extremes.is_none()) {
        return false;
    }
    let mut targets = Vec::with_capacity(hours.len());
    for h in &hours {
        let lo = h.start.max(block.min_ts);
        let hi = (h.start + rollup::HOUR - 1).min(block.max_ts);
        let k = buckets.index_of(lo);
        if lo < from || hi > to || k.is_none() || k != buckets.index_of(hi) {
            return false;
        }
        targets.push(k.expect("checked"));
    }
    for (h, k) in hours.into_iter().zip(targets) {
        let (min, max) = h.extremes.unwrap_or((f64::INFINITY, f64::NEG_INFINITY));
        acc[k].merge(&Summary {
            count: h.count,
            sum: h.sum,
            min,
            max,
            first: None,
            last: None,
        });
    }
    true
}

fn clusters(mut pieces: Vec<Piece>) -> VecDeque<Cluster> {
    pieces.sort_by_key(|p| p.min);
    let mut out: VecDeque<Cluster> = VecDeque::new();
    for piece in pieces {
        match out.back_mut() {
            Some(c) if piece.min <= c.max => {
                c.max = c.max.max(piece.max);
                c.pieces.push(piece);
            }
            _ => out.push_back(Cluster {
                min: piece.min,
                max: piece.max,
                pieces: vec![piece],
            }),
        }
    }
    out
}

/// Raw points of one series, decoded one cluster at a time. Holds no lock: ingestion goes on
/// while an export streams, and the iterator sees the data as of its creation.
pub struct RawIter {
    view: SeriesView,
    from: i64,
    to: i64,
    order: Order,
    current: Option<(Run, usize)>,
}

impl Iterator for RawIter {
    type Item = Result<Point>;

    fn next(&mut self) -> Option<Result<Point>> {
        loop {
            if let Some((run, pos)) = &mut self.current {
                match self.order {
                    Order::Asc if *pos < run.len() => {
                        *pos += 1;
                        return Some(Ok(run.point(*pos - 1)));
                    }
                    Order::Desc if *pos > 0 => {
                        *pos -= 1;
                        return Some(Ok(run.point(*pos)));
                    }
                    _ => self.current = None,
                }
            }
            let cluster = match self.order {
                Order::Asc => self.view.clusters.pop_front()?,
                Order::Desc => self.view.clusters.pop_back()?,
            };
            match cluster.decode(self.view.ty, &self.view.tombstones) {
                Ok(run) => {
                    let run = run.clip(self.from, self.to);
                    let pos = if self.order == Order::Asc {
                        0
                    } else {
                        run.len()
                    };
                    self.current = Some((run, pos));
                }
                Err(e) => {
                    self.view.clusters.clear();
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Turns bucket summaries into the non-empty buckets' results.
pub(crate) fn finish(buckets: &Buckets, acc: &[Summary], agg: Agg) -> Vec<Bucket> {
    acc.iter()
        .enumerate()
        .filter_map(|(k, s)| {
            s.result(agg).map(|value| Bucket {
                start: buckets.starts[k],
                value,
            })
        })
        .collect()
}
