//! The public engine handle: open, write, query, delete, retention, stats, close.

use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;

use jiff::tz::TimeZone;
use tokio::sync::{mpsc, oneshot};

use crate::agg::{Agg, Bucket, Summary};
use crate::breakdown::StorageBreakdown;
use crate::error::{Error, Result};
use crate::fsutil::RecordFile;
use crate::head::SeriesId;
use crate::interval::{Buckets, Interval};
use crate::maintenance;
use crate::options::{Options, Retention};
use crate::query::{RawIter, SeriesView, finish};
use crate::record::{self, Record};
use crate::segment;
use crate::shared::{Shared, Signal, lock};
use crate::state::{Latest, State};
use crate::types::{Batch, Order, Point, SeriesKey, ValueType};
use crate::wal::{self, RecoveryReport, WalWriter};
use crate::writer::{self, Request};

/// Counts describing what the engine holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Points stored (in blocks and heads; a point overwritten or deleted but not yet
    /// compacted away still counts).
    pub points: u64,
    /// Bytes on disk: segments, log, catalog and tombstones.
    pub bytes_on_disk: u64,
    /// Number of series.
    pub series: u64,
    /// Segment files.
    pub segments: u64,
    /// Points in memory waiting for a flush.
    pub head_points: u64,
}

/// An embedded time-series engine over one data directory.
///
/// Cheap to clone; all clones share the engine. Writes go through a dedicated log writer
/// thread and return once the batch is in the write-ahead log (fsynced under
/// [`crate::FsyncPolicy::Always`]). Queries run on the calling thread and read compressed
/// blocks with positional reads; from async code, run long-range queries in `spawn_blocking`.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    sender: Mutex<Option<mpsc::Sender<Request>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    background: Mutex<Option<JoinHandle<()>>>,
    recovery: RecoveryReport,
    dir: PathBuf,
    /// Holds the directory's `LOCK` while open; released by `close` even when clones of the
    /// engine are still alive, so the directory can be opened again.
    dir_lock: Mutex<Option<File>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Without `close`: stop the threads, flush nothing (the log has every acknowledged write).
        lock(&self.sender).take();
        if let Some(writer) = lock(&self.writer).take() {
            let _ = writer.join();
        }
        stop_background(&self.shared, &self.background);
    }
}

fn stop_background(shared: &Shared, background: &Mutex<Option<JoinHandle<()>>>) {
    lock(&shared.signal).stop = true;
    shared.cond.notify_all();
    if let Some(handle) = lock(background).take() {
        let _ = handle.join();
    }
}

impl Engine {
    /// Opens (or creates) the engine in `dir`, replaying the write-ahead log. Damage in the log
    /// is not fatal: see [`Engine::recovery_report`].
    pub async fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Engine> {
        let dir = dir.as_ref().to_owned();
        tokio::task::spawn_blocking(move || Engine::open_blocking(dir, opts))
            .await
            .map_err(|_| Error::Closed)?
    }

    fn open_blocking(dir: PathBuf, opts: Options) -> Result<Engine> {
        let data_dir = dir.join("data");
        let wal_dir = dir.join("wal");
        for d in [&dir, &data_dir, &wal_dir] {
            fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
        let lock_path = dir.join("LOCK");
        let lock_file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(Error::Locked(dir)),
            Err(TryLockError::Error(e)) => return Err(Error::io(&lock_path, e)),
        }
        let catalog_path = dir.join("series.cat");
        let tombstone_path = dir.join("tombstones");
        let mut state = State {
            next_gen: 1,
            next_tomb_seq: 1,
            ..State::default()
        };
        load_catalog(&mut state, &catalog_path)?;
        for payload in RecordFile::load(&tombstone_path)? {
            match record::decode(&payload, |_| None) {
                Ok(Record::Delete(t)) if (t.series as usize) < state.series.len() => {
                    state.add_tombstone(t, true)
                }
                _ => {
                    tracing::warn!(file = %tombstone_path.display(), "ignoring an undecodable tombstone")
                }
            }
        }
        for segment in segment::scan(&data_dir, opts.partition_ms())? {
            state.add_segment(Arc::new(segment));
        }
        let wal_ids = wal::list_segments(&wal_dir)?;
        let recovery = wal::replay(&wal_dir, &wal_ids, |payload| {
            replay_record(&mut state, payload)
        })?;
        let next_wal = wal_ids.last().map_or(1, |id| id + 1);
        let wal = WalWriter::create(&wal_dir, next_wal, opts.write_fault.clone())?;
        let retention = RwLock::new(opts.retention.clone());
        let (sender, receiver) = mpsc::channel(opts.write_queue.max(1));
        let shared = Arc::new(Shared {
            data_dir,
            wal_dir,
            catalog_path,
            tombstone_path,
            current_wal: Mutex::new(wal.segment().clone()),
            opts,
            state: RwLock::new(state),
            retention,
            signal: Mutex::new(Signal::default()),
            cond: Condvar::new(),
            flush_lock: Mutex::new(()),
            compaction_lock: Mutex::new(()),
        });
        let writer = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("tsdb-wal".into())
                .spawn(move || writer::run(shared, wal, receiver))
        }
        .map_err(|e| Error::io(&dir, e))?;
        let background = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("tsdb-maint".into())
                .spawn(move || maintenance::run(shared))
        }
        .map_err(|e| Error::io(&dir, e))?;
        Ok(Engine {
            inner: Arc::new(Inner {
                shared,
                sender: Mutex::new(Some(sender)),
                writer: Mutex::new(Some(writer)),
                background: Mutex::new(Some(background)),
                recovery,
                dir,
                dir_lock: Mutex::new(Some(lock_file)),
            }),
        })
    }

    /// What replaying the write-ahead log found when the engine opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.recovery
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    async fn request(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<()>>) -> Request,
    ) -> Result<()> {
        let sender = lock(&self.inner.sender).clone().ok_or(Error::Closed)?;
        let (reply, answer) = oneshot::channel();
        match sender.try_send(make(reply)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(request)) => {
                metrics::counter!("wanwu_tsdb_write_queue_full_total").increment(1);
                sender.send(request).await.map_err(|_| Error::Closed)?;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(Error::Closed),
        }
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Writes a batch atomically. Returns once it is in the write-ahead log (and fsynced when
    /// the policy says so). A value whose type differs from its series' type rejects the whole
    /// batch with [`Error::TypeMismatch`]; a full disk rejects it with [`Error::DiskFull`].
    pub async fn write(&self, batch: Batch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.request(|reply| Request::Write { batch, reply }).await
    }

    /// Deletes the points of `series` with `from <= ts <= to`. Unknown series: nothing to do.
    pub async fn delete(&self, series: &SeriesKey, from: i64, to: i64) -> Result<()> {
        if from > to {
            return Err(Error::InvalidRange { from, to });
        }
        let series = series.clone();
        self.request(|reply| Request::Delete {
            series,
            from,
            to,
            reply,
        })
        .await
    }

    /// The type of `series`, if it exists.
    pub fn series_type(&self, series: &SeriesKey) -> Option<ValueType> {
        let state = self.inner.shared.read();
        state
            .by_key
            .get(series)
            .map(|&id| state.series[id as usize].def.ty)
    }

    fn view(&self, series: &SeriesKey, from: i64, to: i64) -> Option<SeriesView> {
        let state = self.inner.shared.read();
        let &id = state.by_key.get(series)?;
        Some(SeriesView::capture(
            &state,
            id,
            from,
            to,
            self.inner.shared.opts.partition_ms(),
        ))
    }

    /// The newest point (greatest timestamp) of `series`.
    pub fn latest(&self, series: &SeriesKey) -> Result<Option<Point>> {
        let (id, version) = {
            let state = self.inner.shared.read();
            let Some(&id) = state.by_key.get(series) else {
                return Ok(None);
            };
            let entry = &state.series[id as usize];
            if let Latest::Known(p) = &entry.latest {
                return Ok(p.clone());
            }
            (id, entry.version)
        };
        let newest = {
            let state = self.inner.shared.read();
            SeriesView::capture(
                &state,
                id,
                i64::MIN,
                i64::MAX,
                self.inner.shared.opts.partition_ms(),
            )
        }
        .newest()?;
        let mut state = self.inner.shared.write();
        let entry = &mut state.series[id as usize];
        if entry.version == version {
            entry.latest = Latest::Known(newest.clone());
        }
        Ok(newest)
    }

    /// The newest point of each series, in the order given.
    pub fn latest_many(&self, series: &[SeriesKey]) -> Result<Vec<Option<Point>>> {
        let mut out = Vec::with_capacity(series.len());
        let mut unknown = Vec::new();
        {
            let state = self.inner.shared.read();
            for (i, key) in series.iter().enumerate() {
                match state
                    .by_key
                    .get(key)
                    .map(|&id| &state.series[id as usize].latest)
                {
                    None => out.push(None),
                    Some(Latest::Known(p)) => out.push(p.clone()),
                    Some(Latest::Unknown) => {
                        out.push(None);
                        unknown.push(i);
                    }
                }
            }
        }
        for i in unknown {
            out[i] = self.latest(&series[i])?;
        }
        Ok(out)
    }

    /// Raw points of `series` with `from <= ts <= to`, at most `limit`, in `order`.
    pub fn query_raw(
        &self,
        series: &SeriesKey,
        from: i64,
        to: i64,
        limit: Option<usize>,
        order: Order,
    ) -> Result<Vec<Point>> {
        self.raw_iter(series, from, to, order)?
            .take(limit.unwrap_or(usize::MAX))
            .collect()
    }

    /// Streams raw points of `series` with `from <= ts <= to` in `order`, decoding one block
    /// at a time. The iterator holds no lock (ingestion continues) and sees the data as of
    /// this call.
    pub fn raw_iter(
        &self,
        series: &SeriesKey,
        from: i64,
        to: i64,
        order: Order,
    ) -> Result<RawIter> {
        if from > to {
            return Err(Error::InvalidRange { from, to });
        }
        let view = self
            .view(series, from, to)
            .unwrap_or_else(SeriesView::empty);
        Ok(view.into_iter(from, to, order))
    }

    /// Aggregates `series` over `[from, to]` into buckets of `interval` aligned in `tz`.
    /// Only non-empty buckets are returned, oldest first, each stamped with its start.
    pub fn query_agg(
        &self,
        series: &SeriesKey,
        from: i64,
        to: i64,
        interval: Interval,
        agg: Agg,
        tz: &TimeZone,
    ) -> Result<Vec<Bucket>> {
        self.query_agg_many(std::slice::from_ref(series), from, to, interval, agg, tz)
    }

    /// Aggregates a group of series together: every bucket pools the points of all of them
    /// (e.g. the hourly average of PM2.5 across the devices of a district).
    pub fn query_agg_many(
        &self,
        series: &[SeriesKey],
        from: i64,
        to: i64,
        interval: Interval,
        agg: Agg,
        tz: &TimeZone,
    ) -> Result<Vec<Bucket>> {
        let buckets = Buckets::cover(from, to, interval, tz, self.inner.shared.opts.max_buckets)?;
        let views: Vec<SeriesView> = {
            let state = self.inner.shared.read();
            let partition_ms = self.inner.shared.opts.partition_ms();
            series
                .iter()
                .filter_map(|key| state.by_key.get(key))
                .map(|&id| SeriesView::capture(&state, id, from, to, partition_ms))
                .collect()
        };
        for view in &views {
            agg.check(view.ty)?;
        }
        let acc = aggregate_parallel(views, from, to, &buckets, agg)?;
        Ok(finish(&buckets, &acc, agg))
    }

    /// Replaces the retention policy.
    pub fn set_retention(&self, retention: Retention) {
        *self
            .inner
            .shared
            .retention
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = retention;
    }

    /// The retention policy in force.
    pub fn retention(&self) -> Retention {
        self.inner.shared.retention()
    }

    /// Drops the partitions that are past their retention at `now_ms`; returns how many.
    /// The background thread does this every maintenance interval with the current time.
    pub async fn enforce_retention(&self, now_ms: i64) -> Result<usize> {
        let shared = self.inner.shared.clone();
        tokio::task::spawn_blocking(move || maintenance::enforce_retention(&shared, now_ms))
            .await
            .map_err(|_| Error::Closed)
    }

    /// Flushes the head to immutable blocks on disk now.
    pub async fn flush(&self) -> Result<()> {
        self.request(|reply| Request::Freeze { reply }).await?;
        let shared = self.inner.shared.clone();
        tokio::task::spawn_blocking(move || maintenance::flush_frozen(&shared))
            .await
            .map_err(|_| Error::Closed)??;
        Ok(())
    }

    /// Flushes, then merges every partition's segments (applying deletes) now.
    pub async fn compact(&self) -> Result<()> {
        self.flush().await?;
        let shared = self.inner.shared.clone();
        tokio::task::spawn_blocking(move || maintenance::compact(&shared))
            .await
            .map_err(|_| Error::Closed)??;
        Ok(())
    }

    /// Counts of points, bytes on disk and series.
    pub fn stats(&self) -> Stats {
        let state = self.inner.shared.read();
        let mut stats = Stats {
            series: state.series.len() as u64,
            head_points: state.head.points as u64,
            ..Stats::default()
        };
        stats.head_points += state
            .frozen
            .iter()
            .map(|f| f.head.points as u64)
            .sum::<u64>();
        stats.points = stats.head_points;
        for segment in state.partitions.values().flat_map(|m| m.values()).flatten() {
            stats.segments += 1;
            stats.bytes_on_disk += segment.bytes;
            stats.points += segment.blocks.iter().map(|b| b.summary.count).sum::<u64>();
        }
        drop(state);
        let shared = &self.inner.shared;
        let wal_bytes: u64 = fs::read_dir(&shared.wal_dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        let meta_bytes: u64 = [&shared.catalog_path, &shared.tombstone_path]
            .iter()
            .filter_map(|p| fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        stats.bytes_on_disk += wal_bytes + meta_bytes;
        stats
    }

    /// Where the bytes on disk go (reads every block of every segment).
    pub fn storage_breakdown(&self) -> Result<StorageBreakdown> {
        let segments: Vec<Arc<segment::Segment>> = {
            let state = self.inner.shared.read();
            state
                .partitions
                .values()
                .flat_map(|m| m.values())
                .flatten()
                .cloned()
                .collect()
        };
        let mut breakdown = StorageBreakdown::default();
        for segment in &segments {
            breakdown.add_segment(segment)?;
        }
        let stats = self.stats();
        let shared = &self.inner.shared;
        breakdown.catalog = [&shared.catalog_path, &shared.tombstone_path]
            .iter()
            .filter_map(|p| fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        // Segments may change between the two looks (a flush); never below zero.
        let segment_bytes: u64 = segments.iter().map(|s| s.bytes).sum();
        breakdown.log = stats
            .bytes_on_disk
            .saturating_sub(breakdown.catalog + segment_bytes);
        Ok(breakdown)
    }

    /// Shuts down gracefully: waits for queued writes, flushes the head to disk, stops the
    /// background work. Other clones of the handle get [`Error::Closed`] afterwards.
    pub async fn close(self) -> Result<()> {
        let flushed = self.flush().await;
        lock(&self.inner.sender).take();
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            if let Some(writer) = lock(&inner.writer).take() {
                let _ = writer.join();
            }
            stop_background(&inner.shared, &inner.background);
            lock(&inner.dir_lock).take();
        })
        .await
        .map_err(|_| Error::Closed)?;
        flushed
    }
}

/// Series per thread below which an aggregation stays on the calling thread.
const SERIES_PER_THREAD: usize = 64;

/// Aggregates views into bucket summaries, spreading many series over the available cores.
fn aggregate_parallel(
    views: Vec<SeriesView>,
    from: i64,
    to: i64,
    buckets: &Buckets,
    agg: Agg,
) -> Result<Vec<Summary>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (views.len() / SERIES_PER_THREAD).clamp(1, cores);
    let mut groups: Vec<Vec<SeriesView>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, view) in views.into_iter().enumerate() {
        groups[i % threads].push(view);
    }
    let run_group = |group: Vec<SeriesView>| -> Result<Vec<Summary>> {
        let mut acc = vec![Summary::default(); buckets.len()];
        for view in group {
            view.aggregate_into(from, to, buckets, agg, &mut acc)?;
        }
        Ok(acc)
    };
    let mut groups = groups.into_iter();
    let first = groups.next().unwrap_or_default();
    let partials: Vec<Result<Vec<Summary>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .map(|group| scope.spawn(move || run_group(group)))
            .collect();
        let mut partials = vec![run_group(first)];
        partials.extend(handles.into_iter().map(|h| {
            h.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }));
        partials
    });
    let mut partials = partials.into_iter();
    let mut acc = partials
        .next()
        .unwrap_or_else(|| Ok(vec![Summary::default(); buckets.len()]))?;
    for partial in partials {
        for (mine, theirs) in acc.iter_mut().zip(partial?) {
            mine.merge(&theirs);
        }
    }
    Ok(acc)
}

fn load_catalog(state: &mut State, path: &Path) -> Result<()> {
    for payload in RecordFile::load(path)? {
        match record::decode(&payload, |_| None) {
            Ok(Record::Define(def)) if def.id as usize == state.series.len() => {
                state.define(def, true)
            }
            _ => {
                return Err(Error::corrupt(
                    path,
                    format!("catalog entry {} is out of sequence", state.series.len()),
                ));
            }
        }
    }
    state.persisted_series = state.series.len();
    Ok(())
}

fn replay_record(state: &mut State, payload: &[u8]) -> Result<(), String> {
    let record = record::decode(payload, |id| {
        state.series.get(id as usize).map(|e| e.def.ty)
    })
    .map_err(|e| e.0)?;
    match record {
        Record::Define(def) => match state.series.get(def.id as usize) {
            Some(existing) if existing.def.key == def.key && existing.def.ty == def.ty => {}
            Some(_) => return Err(format!("series {} redefined differently", def.id)),
            None if def.id as usize == state.series.len() => state.define(def, true),
            None => return Err(format!("series {} defined out of sequence", def.id)),
        },
        Record::Points(series) => {
            for (id, points) in series {
                if let Some((ts, value)) = points.iter().rev().max_by_key(|(ts, _)| *ts) {
                    state.note_write(id, *ts, value);
                }
                let ty = state.series[id as usize].def.ty;
                state.head.append(id, ty, points);
            }
        }
        Record::Delete(t) => {
            if (t.series as usize) >= state.series.len() {
                return Err(format!("delete of undefined series {}", t.series));
            }
            if t.seq >= state.next_tomb_seq {
                state.add_tombstone(t, false);
            } else {
                let id: SeriesId = t.series;
                state.head.remove_range(id, t.from, t.to);
                state.series[id as usize].latest = Latest::Unknown;
            }
        }
    }
    Ok(())
}
