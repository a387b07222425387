//! The engine's shared state: series catalog, head, frozen heads, segments, tombstones.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::head::{Head, SeriesId};
use crate::maintenance::MAX_COARSENING;
use crate::record::{SeriesDef, Tombstone};
use crate::segment::{PartitionKey, Segment};
use crate::types::{Point, SeriesKey, Value};

/// What is known about a series' newest point.
#[derive(Clone, Debug)]
pub(crate) enum Latest {
    /// Not computed since open or since a delete touched it.
    Unknown,
    /// The newest point (by timestamp), or none.
    Known(Option<Point>),
}

#[derive(Debug)]
pub(crate) struct SeriesEntry {
    pub(crate) def: Arc<SeriesDef>,
    pub(crate) latest: Latest,
    /// Bumped on every write or delete, to validate a latest value computed without the lock.
    pub(crate) version: u64,
}

/// A head that no longer takes writes and waits to be flushed.
#[derive(Debug)]
pub(crate) struct Frozen {
    pub(crate) generation: u64,
    pub(crate) head: Arc<Head>,
    /// Log segments with ids below this hold only this head's (and older) data.
    pub(crate) wal_boundary: u64,
}

/// Segments of a (tenant, group), by partition start.
pub(crate) type PartitionMap = BTreeMap<i64, Vec<Arc<Segment>>>;

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) series: Vec<SeriesEntry>,
    pub(crate) by_key: HashMap<SeriesKey, SeriesId>,
    pub(crate) head: Head,
    pub(crate) frozen: Vec<Frozen>,
    pub(crate) partitions: BTreeMap<(String, String), PartitionMap>,
    pub(crate) tombstones: HashMap<SeriesId, Vec<Tombstone>>,
    pub(crate) next_gen: u64,
    pub(crate) next_tomb_seq: u64,
    /// Catalog entries and tombstones already in their files.
    pub(crate) persisted_series: usize,
    pub(crate) unpersisted_tombstones: Vec<Tombstone>,
}

impl State {
    /// Adds a series; `may_have_data` when stored points may exist (loaded from disk), so its
    /// newest point must be looked up before it is known.
    pub(crate) fn define(&mut self, def: SeriesDef, may_have_data: bool) {
        debug_assert_eq!(def.id as usize, self.series.len());
        self.by_key.insert(def.key.clone(), def.id);
        let latest = if may_have_data {
            Latest::Unknown
        } else {
            Latest::Known(None)
        };
        self.series.push(SeriesEntry {
            def: Arc::new(def),
            latest,
            version: 0,
        });
    }

    /// Records that `(ts, value)` was written to series `id`.
    pub(crate) fn note_write(&mut self, id: SeriesId, ts: i64, value: &Value) {
        let entry = &mut self.series[id as usize];
        entry.version += 1;
        if let Latest::Known(latest) = &mut entry.latest
            && latest.as_ref().is_none_or(|p| ts >= p.ts)
        {
            *latest = Some(Point {
                ts,
                value: value.clone(),
            });
        }
    }

    /// Adds a tombstone and applies it to the active head.
    pub(crate) fn add_tombstone(&mut self, t: Tombstone, persisted: bool) {
        self.head.remove_range(t.series, t.from, t.to);
        let entry = &mut self.series[t.series as usize];
        entry.version += 1;
        if let Latest::Known(Some(p)) = &entry.latest
            && (t.from..=t.to).contains(&p.ts)
        {
            entry.latest = Latest::Unknown;
        }
        self.next_tomb_seq = self.next_tomb_seq.max(t.seq + 1);
        self.next_gen = self.next_gen.max(t.gen_limit);
        if !persisted {
            self.unpersisted_tombstones.push(t.clone());
        }
        self.tombstones.entry(t.series).or_default().push(t);
    }

    pub(crate) fn add_segment(&mut self, segment: Arc<Segment>) {
        let PartitionKey {
            tenant,
            group,
            start,
            ..
        } = segment.partition.clone();
        self.next_gen = self.next_gen.max(segment.gen_hi + 1);
        self.partitions
            .entry((tenant, group))
            .or_default()
            .entry(start)
            .or_default()
            .push(segment);
    }

    /// Segments of series `def` in partitions that may hold points in `[from, to]`
    /// (`partition_ms` is the configured width; coarsened partitions are wider).
    pub(crate) fn segments_for(
        &self,
        def: &SeriesDef,
        from: i64,
        to: i64,
        partition_ms: i64,
    ) -> Vec<Arc<Segment>> {
        let Some(map) = self
            .partitions
            .get(&(def.key.tenant.clone(), def.group.clone()))
        else {
            return Vec::new();
        };
        let widest = partition_ms.saturating_mul(1 << MAX_COARSENING);
        map.range(from.saturating_sub(widest)..=to)
            .filter(|(_, segs)| segs.first().is_some_and(|s| s.partition.end() > from))
            .flat_map(|(_, segs)| segs.iter().cloned())
            .collect()
    }

    /// The partition of (`tenant`, `group`) holding `ts`, if one exists.
    pub(crate) fn partition_holding(
        &self,
        tenant: &str,
        group: &str,
        ts: i64,
    ) -> Option<PartitionKey> {
        let map = self
            .partitions
            .get(&(tenant.to_owned(), group.to_owned()))?;
        let (_, segments) = map.range(..=ts).next_back()?;
        let key = &segments.first()?.partition;
        (key.end() > ts).then(|| key.clone())
    }
}
