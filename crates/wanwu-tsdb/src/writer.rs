//! The log writer thread: validates batches, appends them to the write-ahead log (one fsync
//! for a whole group of concurrent writers under `FsyncPolicy::Always`), applies them to the
//! head and acknowledges.

use std::collections::HashMap;
use std::mem;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::bytes::{MAX_FRAME_LEN, put_frame};
use crate::error::{Error, Result};
use crate::head::SeriesId;
use crate::options::FsyncPolicy;
use crate::record::{
    SeriesDef, Tombstone, begin_points, encode_define, encode_delete, put_series_points,
};
use crate::shared::{Shared, lock};
use crate::state::{Frozen, State};
use crate::types::{Batch, SeriesKey};
use crate::wal::WalWriter;

/// Requests served in one group at most.
const MAX_GROUP: usize = 256;

pub(crate) type Reply = oneshot::Sender<Result<()>>;

pub(crate) enum Request {
    Write {
        batch: Batch,
        reply: Reply,
    },
    Delete {
        series: SeriesKey,
        from: i64,
        to: i64,
        reply: Reply,
    },
    /// Freeze the head so that it gets flushed.
    Freeze {
        reply: Reply,
    },
}

pub(crate) fn run(shared: Arc<Shared>, mut wal: WalWriter, mut rx: mpsc::Receiver<Request>) {
    while let Some(first) = rx.blocking_recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        let mut writes = Vec::new();
        for request in group {
            match request {
                Request::Write { batch, reply } => writes.push((batch, reply)),
                Request::Delete {
                    series,
                    from,
                    to,
                    reply,
                } => {
                    commit_writes(&shared, &mut wal, mem::take(&mut writes));
                    let _ = reply.send(delete(&shared, &mut wal, &series, from, to));
                }
                Request::Freeze { reply } => {
                    commit_writes(&shared, &mut wal, mem::take(&mut writes));
                    let _ = reply.send(freeze(&shared, &mut wal, true));
                }
            }
        }
        commit_writes(&shared, &mut wal, writes);
        if let Err(e) = freeze(&shared, &mut wal, false) {
            tracing::error!(error = %e, "cannot freeze the head for flushing");
        }
    }
    // The engine is closing: make what was written durable before the thread ends.
    if let Err(e) = wal.segment().sync_if_dirty() {
        tracing::error!(error = %e, "final log fsync failed");
    }
}

/// A batch that passed validation, with the id of each entry's series.
struct Accepted {
    batch: Batch,
    ids: Vec<SeriesId>,
    reply: Reply,
}

fn commit_writes(shared: &Shared, wal: &mut WalWriter, writes: Vec<(Batch, Reply)>) {
    if writes.is_empty() {
        return;
    }
    if let Err(e) = wait_for_flush_room(shared) {
        for (_, reply) in writes {
            let _ = reply.send(Err(replicate(&e)));
        }
        return;
    }
    let mut new_defs: Vec<SeriesDef> = Vec::new();
    let mut bytes = Vec::new();
    let mut accepted = Vec::with_capacity(writes.len());
    {
        let state = shared.read();
        let mut resolver = Resolver {
            state: &state,
            shared,
            new_defs: &mut new_defs,
            new_index: HashMap::new(),
        };
        let mut payload = Vec::new();
        for (batch, reply) in writes {
            let defs_before = resolver.new_defs.len();
            let bytes_before = bytes.len();
            let result = resolver.resolve(&batch).and_then(|ids| {
                for def in &resolver.new_defs[defs_before..] {
                    payload.clear();
                    encode_define(&mut payload, def);
                    put_frame(&mut bytes, &payload);
                }
                payload.clear();
                begin_points(&mut payload, batch.entries.len());
                for ((_, points), &id) in batch.entries.iter().zip(&ids) {
                    put_series_points(&mut payload, id, points.iter().map(|p| (p.ts, &p.value)));
                }
                if payload.len() > MAX_FRAME_LEN {
                    return Err(Error::BatchTooLarge {
                        bytes: payload.len(),
                        max: MAX_FRAME_LEN,
                    });
                }
                put_frame(&mut bytes, &payload);
                Ok(ids)
            });
            match result {
                Ok(ids) => accepted.push(Accepted { batch, ids, reply }),
                Err(e) => {
                    resolver.forget_since(defs_before);
                    bytes.truncate(bytes_before);
                    metrics::counter!("wanwu_tsdb_writes_rejected_total", "reason" => "invalid")
                        .increment(1);
                    let _ = reply.send(Err(e));
                }
            }
        }
    }
    if accepted.is_empty() {
        return;
    }
    let durable = wal.append(&bytes).and_then(|()| match shared.opts.fsync {
        FsyncPolicy::Always => wal.segment().sync_if_dirty(),
        _ => Ok(()),
    });
    if let Err(e) = durable {
        let reason = if matches!(e, Error::DiskFull(_)) {
            "disk_full"
        } else {
            "io"
        };
        metrics::counter!("wanwu_tsdb_writes_rejected_total", "reason" => reason)
            .increment(accepted.len() as u64);
        tracing::warn!(error = %e, "write rejected");
        for a in accepted {
            let _ = a.reply.send(Err(replicate(&e)));
        }
        return;
    }
    let mut points = 0;
    {
        let mut state = shared.write();
        for def in new_defs {
            state.define(def, false);
        }
        for a in &mut accepted {
            for ((_, batch_points), &id) in a.batch.entries.iter_mut().zip(&a.ids) {
                points += batch_points.len();
                apply_points(&mut state, id, mem::take(batch_points));
            }
        }
    }
    metrics::counter!("wanwu_tsdb_points_written_total").increment(points as u64);
    for a in accepted {
        let _ = a.reply.send(Ok(()));
    }
}

fn apply_points(state: &mut State, id: SeriesId, points: Vec<crate::types::Point>) {
    // The newest point (the last written among equal timestamps) updates `latest`.
    if let Some(newest) = points.iter().rev().max_by_key(|p| p.ts) {
        state.note_write(id, newest.ts, &newest.value);
    }
    let ty = state.series[id as usize].def.ty;
    state
        .head
        .append(id, ty, points.into_iter().map(|p| (p.ts, p.value)));
}

/// Finds or assigns series ids for a batch and checks value types.
struct Resolver<'a> {
    state: &'a State,
    shared: &'a Shared,
    new_defs: &'a mut Vec<SeriesDef>,
    new_index: HashMap<SeriesKey, usize>,
}

impl Resolver<'_> {
    fn resolve(&mut self, batch: &Batch) -> Result<Vec<SeriesId>> {
        let mut ids = Vec::with_capacity(batch.entries.len());
        for (key, points) in &batch.entries {
            let Some(first) = points.first() else {
                ids.push(0);
                continue;
            };
            let (id, ty) = if let Some(&id) = self.state.by_key.get(key) {
                (id, self.state.series[id as usize].def.ty)
            } else if let Some(&i) = self.new_index.get(key) {
                (self.new_defs[i].id, self.new_defs[i].ty)
            } else {
                let id = SeriesId::try_from(self.state.series.len() + self.new_defs.len())
                    .map_err(|_| Error::TooManySeries)?;
                let ty = first.value.value_type();
                let group = batch
                    .group
                    .clone()
                    .or_else(|| self.shared.opts.series_group.as_ref().and_then(|f| f(key)))
                    .unwrap_or_default();
                self.new_index.insert(key.clone(), self.new_defs.len());
                self.new_defs.push(SeriesDef {
                    id,
                    ty,
                    group,
                    key: key.clone(),
                });
                (id, ty)
            };
            if let Some(bad) = points.iter().find(|p| p.value.value_type() != ty) {
                return Err(Error::TypeMismatch {
                    series: key.to_string(),
                    expected: ty,
                    got: bad.value.value_type(),
                });
            }
            ids.push(id);
        }
        Ok(ids)
    }

    /// Drops the series defined since `len` (their batch was rejected).
    fn forget_since(&mut self, len: usize) {
        for def in self.new_defs.drain(len..) {
            self.new_index.remove(&def.key);
        }
    }
}

/// Holds writers back while too many heads wait for flushing; fails when flushing fails.
fn wait_for_flush_room(shared: &Shared) -> Result<()> {
    let mut signal = lock(&shared.signal);
    loop {
        if shared.read().frozen.len() < shared.opts.max_frozen_heads.max(1) {
            return Ok(());
        }
        match signal.flush_failed {
            Some(true) => return Err(Error::DiskFull(std::io::ErrorKind::StorageFull.into())),
            Some(false) => return Err(Error::FlushFailed),
            None => {}
        }
        metrics::counter!("wanwu_tsdb_write_stalls_total").increment(1);
        signal = shared.wait(signal, Duration::from_millis(50));
    }
}

fn delete(
    shared: &Shared,
    wal: &mut WalWriter,
    series: &SeriesKey,
    from: i64,
    to: i64,
) -> Result<()> {
    let tombstone = {
        let state = shared.read();
        let Some(&id) = state.by_key.get(series) else {
            return Ok(());
        };
        Tombstone {
            seq: state.next_tomb_seq,
            series: id,
            from,
            to,
            gen_limit: state.next_gen,
        }
    };
    let mut payload = Vec::new();
    encode_delete(&mut payload, &tombstone);
    let mut bytes = Vec::new();
    put_frame(&mut bytes, &payload);
    wal.append(&bytes)?;
    if shared.opts.fsync == FsyncPolicy::Always {
        wal.segment().sync_if_dirty()?;
    }
    shared.write().add_tombstone(tombstone, false);
    Ok(())
}

/// Moves the head to the frozen list (to be flushed) when it is full, or always when `force`;
/// the log rotates so that the frozen head's segments can be removed after the flush.
fn freeze(shared: &Shared, wal: &mut WalWriter, force: bool) -> Result<()> {
    {
        let state = shared.read();
        let full = state.head.points >= shared.opts.head_max_points
            || wal.len() >= shared.opts.wal_max_bytes;
        if state.head.is_empty() || !(force || full) {
            return Ok(());
        }
    }
    let mut state = shared.write();
    let boundary = wal.rotate_synced(shared.opts.fsync != FsyncPolicy::Never)?;
    *lock(&shared.current_wal) = wal.segment().clone();
    let generation = state.next_gen;
    state.next_gen += 1;
    let head = mem::take(&mut state.head);
    state.frozen.push(Frozen {
        generation,
        head: Arc::new(head),
        wal_boundary: boundary,
    });
    drop(state);
    shared.wake();
    Ok(())
}

/// A copy of an error for each writer of a failed group.
fn replicate(e: &Error) -> Error {
    match e {
        Error::DiskFull(io) => Error::DiskFull(std::io::Error::new(io.kind(), io.to_string())),
        Error::Io { path, source } => Error::Io {
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        Error::FlushFailed => Error::FlushFailed,
        other => Error::Io {
            path: Default::default(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}
