//! Background work: fsync on an interval, flushing frozen heads into segments, compaction,
//! retention.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::column::Run;
use crate::error::{Error, Result};
use crate::fsutil::RecordFile;
use crate::head::SeriesId;
use crate::options::FsyncPolicy;
use crate::record::{Tombstone, encode_define, encode_delete};
use crate::segment::{PartitionKey, Segment, SeriesBlocks};
use crate::shared::{Shared, lock};
use crate::wal;

/// The background thread's loop; ends when the engine stops.
pub(crate) fn run(shared: Arc<Shared>) {
    let maintenance = shared.opts.maintenance_interval;
    let tick = match shared.opts.fsync {
        FsyncPolicy::Interval(d) => d.min(maintenance),
        _ => maintenance,
    }
    .max(Duration::from_millis(1));
    let mut last_maintenance = Instant::now();
    loop {
        {
            let mut signal = lock(&shared.signal);
            if !signal.stop && !signal.work {
                signal = shared.wait(signal, tick);
            }
            if signal.stop {
                return;
            }
            signal.work = false;
        }
        if matches!(shared.opts.fsync, FsyncPolicy::Interval(_))
            && let Err(e) = lock(&shared.current_wal).clone().sync_if_dirty()
        {
            tracing::error!(error = %e, "log fsync failed");
        }
        let flushed = flush_frozen(&shared).unwrap_or_else(|e| {
            tracing::error!(error = %e, "flush failed; will retry");
            0
        });
        let due = last_maintenance.elapsed() >= maintenance;
        if shared.opts.background_compaction
            && (due || flushed > 0)
            && let Err(e) = compact(&shared)
        {
            tracing::error!(error = %e, "compaction failed; will retry");
        }
        if due {
            last_maintenance = Instant::now();
            enforce_retention(&shared, jiff::Timestamp::now().as_millisecond());
        }
    }
}

/// Flushes every frozen head, oldest first; returns how many were flushed.
pub(crate) fn flush_frozen(shared: &Shared) -> Result<usize> {
    let _guard = lock(&shared.flush_lock);
    let mut flushed = 0;
    let result = loop {
        match flush_oldest(shared) {
            Ok(true) => flushed += 1,
            Ok(false) => break Ok(flushed),
            Err(e) => break Err(e),
        }
    };
    lock(&shared.signal).flush_failed = result
        .as_ref()
        .err()
        .map(|e| matches!(e, Error::DiskFull(_)));
    shared.cond.notify_all();
    result
}

fn flush_oldest(shared: &Shared) -> Result<bool> {
    let (generation, head, boundary, defs) = {
        let state = shared.read();
        let Some(frozen) = state.frozen.first() else {
            return Ok(false);
        };
        let defs: BTreeMap<SeriesId, _> = frozen
            .head
            .series
            .keys()
            .map(|&id| (id, state.series[id as usize].def.clone()))
            .collect();
        (
            frozen.generation,
            frozen.head.clone(),
            frozen.wal_boundary,
            defs,
        )
    };
    let runs: Vec<(SeriesId, Run)> = defs
        .keys()
        .map(|&id| (id, head.series[&id].run()))
        .filter(|(_, r)| !r.is_empty())
        .collect();
    let partition_ms = shared.opts.partition_ms();
    let retention = shared.retention();
    let now = jiff::Timestamp::now().as_millisecond();
    let mut partitions: BTreeMap<PartitionKey, Vec<SeriesBlocks<'_>>> = BTreeMap::new();
    {
        // Points go to the partition holding them (perhaps a coarsened, wider one) or to a
        // new one of the configured width. Coarsening commits under the flush lock, which
        // this flush holds, so the partitions seen here stay as they are until it is done.
        let state = shared.read();
        for (id, run) in &runs {
            let def = &defs[id];
            let mut i = 0;
            while i < run.len() {
                let ts = run.ts[i];
                let key = state
                    .partition_holding(&def.key.tenant, &def.group, ts)
                    .unwrap_or_else(|| PartitionKey {
                        tenant: def.key.tenant.clone(),
                        group: def.group.clone(),
                        start: ts.div_euclid(partition_ms) * partition_ms,
                        width: partition_ms,
                    });
                let end = i + run.ts[i..].partition_point(|&t| t < key.end());
                let expired = retention
                    .of(&def.key.tenant, &def.group)
                    .is_some_and(|d| key.end() <= now - d.as_millis() as i64);
                if !expired {
                    partitions.entry(key).or_default().push(SeriesBlocks {
                        series: *id,
                        run,
                        range: i..end,
                    });
                }
                i = end;
            }
        }
    }
    let mut written = Vec::with_capacity(partitions.len());
    for (key, series) in partitions {
        match Segment::write(
            &shared.data_dir,
            key,
            (generation, generation, 0),
            &series,
            shared.opts.block_points,
            shared.opts.write_fault.as_ref(),
        ) {
            Ok(segment) => written.push(Arc::new(segment)),
            Err(e) => {
                for segment in &written {
                    segment.mark_obsolete();
                }
                return Err(e);
            }
        }
    }
    {
        let mut state = shared.write();
        for segment in written {
            state.add_segment(segment);
        }
        state.frozen.remove(0);
    }
    checkpoint(shared)?;
    wal::remove_segments_below(&shared.wal_dir, boundary)?;
    metrics::counter!("wanwu_tsdb_flushes_total").increment(1);
    Ok(true)
}

/// Appends new catalog entries and tombstones to their files, so the log segments holding them
/// can be removed.
fn checkpoint(shared: &Shared) -> Result<()> {
    let (defs, tombstones, series_len) = {
        let state = shared.read();
        let defs: Vec<Vec<u8>> = state.series[state.persisted_series..]
            .iter()
            .map(|e| {
                let mut out = Vec::new();
                encode_define(&mut out, &e.def);
                out
            })
            .collect();
        (
            defs,
            state.unpersisted_tombstones.clone(),
            state.series.len(),
        )
    };
    let encoded: Vec<Vec<u8>> = tombstones
        .iter()
        .map(|t| {
            let mut out = Vec::new();
            encode_delete(&mut out, t);
            out
        })
        .collect();
    let fault = shared.opts.write_fault.as_ref();
    RecordFile::append(&shared.catalog_path, &defs, fault)?;
    RecordFile::append(&shared.tombstone_path, &encoded, fault)?;
    let mut state = shared.write();
    state.persisted_series = series_len;
    state.unpersisted_tombstones.drain(..tombstones.len());
    Ok(())
}

/// Merges each partition's segments into one, applying tombstones; returns partitions compacted.
pub(crate) fn compact(shared: &Shared) -> Result<usize> {
    let _guard = lock(&shared.compaction_lock);
    let candidates: Vec<(PartitionKey, Vec<Arc<Segment>>)> = {
        let state = shared.read();
        state
            .partitions
            .values()
            .flat_map(|map| map.values())
            .filter(|segments| {
                segments.len() > 1
                    || segments
                        .iter()
                        .any(|s| has_pending_tombstones(s, &state.tombstones))
            })
            .map(|segments| (segments[0].partition.clone(), segments.clone()))
            .collect()
    };
    let mut compacted = 0;
    for (key, inputs) in candidates {
        compact_partition(shared, key, inputs)?;
        compacted += 1;
    }
    if compacted > 0 {
        metrics::counter!("wanwu_tsdb_compactions_total").increment(compacted as u64);
    }
    let coarsened = coarsen(shared, jiff::Timestamp::now().as_millisecond())?;
    if coarsened > 0 {
        metrics::counter!("wanwu_tsdb_partitions_coarsened_total").increment(coarsened as u64);
    }
    Ok(compacted + coarsened)
}

/// Partitions are merged into ones of twice the width at most this many times: up to 256 times
/// the configured width.
pub(crate) const MAX_COARSENING: u32 = 8;

/// Merges closed partitions of sparse series into wider ones, so that series with few points
/// per partition (hourly readings in daily partitions) get long blocks instead of a block, an
/// index entry and a summary per day. The partitions within an aligned span of twice their
/// width become one partition of that span when each is one compacted segment, every series
/// still fits one block there, the span ended at least one configured width before now and
/// before the group's newest stored point (late points still arrive; they are written into
/// the wider partition) and it is at most a quarter of the group's retention (retention drops
/// whole partitions). Returns the merges made.
pub(crate) fn coarsen(shared: &Shared, now: i64) -> Result<usize> {
    let mut merged = 0;
    while let Some((key, inputs)) = next_coarsening(shared, now) {
        let output = merge_segments(shared, &key, inputs.clone())?;
        let _no_flush = lock(&shared.flush_lock);
        let mut state = shared.write();
        let map = state
            .partitions
            .get_mut(&(key.tenant.clone(), key.group.clone()));
        let unchanged = map.as_ref().is_some_and(|map| {
            inputs.iter().all(|input| {
                map.get(&input.partition.start)
                    .is_some_and(|s| s.len() == 1 && Arc::ptr_eq(&s[0], input))
            })
        });
        let Some(map) = map.filter(|_| unchanged) else {
            // Changed meanwhile (a flush added a segment, retention dropped one): the span is
            // no candidate until compacted again; look for others.
            if let Some(output) = output {
                output.mark_obsolete();
            }
            continue;
        };
        for input in &inputs {
            map.remove(&input.partition.start);
            input.mark_obsolete();
        }
        if let Some(output) = output {
            map.insert(key.start, vec![output]);
        }
        merged += 1;
    }
    Ok(merged)
}

/// The next span to coarsen and the segments within it, if any.
fn next_coarsening(shared: &Shared, now: i64) -> Option<(PartitionKey, Vec<Arc<Segment>>)> {
    let base = shared.opts.partition_ms();
    let widest = base.saturating_mul(1 << MAX_COARSENING);
    let retention = shared.retention();
    let state = shared.read();
    for ((tenant, group), map) in &state.partitions {
        let cap = retention
            .of(tenant, group)
            .map(|d| d.as_millis() as i64 / 4);
        // Closed: over by the clock and by the group's newest stored point, so that a backfill
        // of old data in time order does not widen a partition before its days are written.
        let newest = map
            .values()
            .next_back()
            .and_then(|segments| {
                segments
                    .iter()
                    .flat_map(|s| &s.blocks)
                    .map(|b| b.max_ts)
                    .max()
            })
            .unwrap_or(i64::MIN);
        let closed_before = now.saturating_sub(base).min(newest);
        for segments in map.values() {
            let [segment] = &segments[..] else { continue };
            let width = segment.partition.width;
            let span = PartitionKey {
                tenant: tenant.clone(),
                group: group.clone(),
                start: segment.partition.start.div_euclid(width * 2) * width * 2,
                width: width * 2,
            };
            if span.width > widest
                || cap.is_some_and(|cap| span.width > cap)
                || span.end() > closed_before
            {
                continue;
            }
            let inside: Vec<&Vec<Arc<Segment>>> =
                map.range(span.start..span.end()).map(|(_, s)| s).collect();
            if !inside
                .iter()
                .all(|s| s.len() == 1 && s[0].partition.width == width)
            {
                continue;
            }
            let mut points: HashMap<SeriesId, u64> = HashMap::new();
            for block in inside.iter().flat_map(|s| &s[0].blocks) {
                *points.entry(block.series).or_default() += block.summary.count;
            }
            if points
                .values()
                .all(|&n| n <= shared.opts.block_points as u64)
            {
                return Some((span, inside.iter().map(|s| s[0].clone()).collect()));
            }
        }
    }
    None
}

fn tombstone_hits(t: &Tombstone, segment: &Segment, min: i64, max: i64) -> bool {
    t.gen_limit > segment.gen_hi && t.seq > segment.tomb_seq && t.from <= max && t.to >= min
}

fn has_pending_tombstones(
    segment: &Segment,
    tombstones: &std::collections::HashMap<SeriesId, Vec<Tombstone>>,
) -> bool {
    segment.blocks.iter().any(|b| {
        tombstones.get(&b.series).is_some_and(|ts| {
            ts.iter()
                .any(|t| tombstone_hits(t, segment, b.min_ts, b.max_ts))
        })
    })
}

fn compact_partition(shared: &Shared, key: PartitionKey, inputs: Vec<Arc<Segment>>) -> Result<()> {
    let output = merge_segments(shared, &key, inputs.clone())?;
    let mut state = shared.write();
    let Some(current) = state
        .partitions
        .get_mut(&(key.tenant.clone(), key.group.clone()))
        .and_then(|m| m.get_mut(&key.start))
    else {
        // Dropped by retention meanwhile.
        if let Some(output) = output {
            output.mark_obsolete();
        }
        return Ok(());
    };
    current.retain(|s| !inputs.iter().any(|i| Arc::ptr_eq(i, s)));
    if let Some(output) = output {
        current.push(output);
        current.sort_by_key(|s| s.gen_hi);
    }
    if current.is_empty()
        && let Some(map) = state
            .partitions
            .get_mut(&(key.tenant.clone(), key.group.clone()))
    {
        map.remove(&key.start);
    }
    for input in &inputs {
        input.mark_obsolete();
    }
    Ok(())
}

/// Reads `inputs`, applies the tombstones that hit them, merges each series (newer writes win)
/// and writes the result as one segment of partition `key`; `None` when nothing is left.
fn merge_segments(
    shared: &Shared,
    key: &PartitionKey,
    mut inputs: Vec<Arc<Segment>>,
) -> Result<Option<Arc<Segment>>> {
    inputs.sort_by_key(|s| s.gen_hi);
    let series: BTreeSet<SeriesId> = inputs
        .iter()
        .flat_map(|s| s.blocks.iter().map(|b| b.series))
        .collect();
    let (tombstones, applied_seq) = {
        let state = shared.read();
        let tombstones: std::collections::HashMap<SeriesId, Vec<Tombstone>> = series
            .iter()
            .filter_map(|id| state.tombstones.get(id).map(|t| (*id, t.clone())))
            .collect();
        (tombstones, state.next_tomb_seq.saturating_sub(1))
    };
    let mut runs: Vec<(SeriesId, Run)> = Vec::with_capacity(series.len());
    for &id in &series {
        let mut merged: Option<Run> = None;
        for segment in &inputs {
            for block in segment.blocks_of(id) {
                let mut run = segment.read_block(block)?;
                for t in tombstones.get(&id).into_iter().flatten() {
                    if tombstone_hits(t, segment, block.min_ts, block.max_ts) {
                        run.remove_range(t.from, t.to);
                    }
                }
                merged = Some(match merged {
                    Some(m) => m.merge_newer(run),
                    None => run,
                });
            }
        }
        if let Some(run) = merged.filter(|r| !r.is_empty()) {
            runs.push((id, run));
        }
    }
    let gens = (
        inputs.iter().map(|s| s.gen_lo).min().unwrap_or(0),
        inputs.iter().map(|s| s.gen_hi).max().unwrap_or(0),
        applied_seq,
    );
    if runs.is_empty() {
        return Ok(None);
    }
    let blocks: Vec<SeriesBlocks<'_>> = runs
        .iter()
        .map(|(id, run)| SeriesBlocks {
            series: *id,
            run,
            range: 0..run.len(),
        })
        .collect();
    Ok(Some(Arc::new(Segment::write(
        &shared.data_dir,
        key.clone(),
        gens,
        &blocks,
        shared.opts.block_points,
        shared.opts.write_fault.as_ref(),
    )?)))
}

/// Drops partitions older than their retention at `now` (ms); returns how many were dropped.
pub(crate) fn enforce_retention(shared: &Shared, now: i64) -> usize {
    let retention = shared.retention();
    let mut dropped = 0;
    let mut state = shared.write();
    for ((tenant, group), map) in &mut state.partitions {
        let Some(keep) = retention.of(tenant, group) else {
            continue;
        };
        let cutoff = now.saturating_sub(keep.as_millis() as i64);
        map.retain(|_, segments| {
            let expired = segments
                .first()
                .is_some_and(|s| s.partition.end() <= cutoff);
            if expired {
                segments.iter().for_each(|s| s.mark_obsolete());
                dropped += 1;
            }
            !expired
        });
    }
    state.partitions.retain(|_, map| !map.is_empty());
    if dropped > 0 {
        metrics::counter!("wanwu_tsdb_partitions_dropped_total").increment(dropped as u64);
        tracing::info!(dropped, "retention dropped partitions");
    }
    dropped
}
