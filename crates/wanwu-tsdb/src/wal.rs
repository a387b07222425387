//! The write-ahead log: numbered segment files of checksummed records.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::bytes::read_frames;
use crate::error::{Error, Result};
use crate::fsutil::{WriteFault, sync_dir};

/// What replaying the log found. Damage is reported, never fatal: the engine keeps every record
/// before the damage and goes on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Log segments replayed.
    pub segments: usize,
    /// Records recovered.
    pub records: usize,
    /// Damaged places, one per damaged segment.
    pub damage: Vec<WalDamage>,
}

/// A torn or corrupt place in a log segment; bytes from `offset` on were discarded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalDamage {
    /// The segment file.
    pub file: PathBuf,
    /// Offset of the first discarded byte.
    pub offset: u64,
    /// Number of bytes discarded.
    pub discarded_bytes: u64,
    /// What was wrong.
    pub reason: String,
}

/// The segment being appended to, shared with the background syncer.
pub(crate) struct WalSegment {
    pub(crate) id: u64,
    pub(crate) path: PathBuf,
    pub(crate) file: File,
    /// Set when bytes were written that are not yet fsynced.
    pub(crate) dirty: AtomicBool,
}

impl WalSegment {
    /// Fsyncs the segment if it has unsynced writes.
    pub(crate) fn sync_if_dirty(&self) -> Result<()> {
        if self.dirty.swap(false, Ordering::AcqRel) {
            self.file.sync_data().map_err(|e| {
                self.dirty.store(true, Ordering::Release);
                Error::io(&self.path, e)
            })?;
        }
        Ok(())
    }
}

/// Appends records to the current segment; owned by the writer thread.
pub(crate) struct WalWriter {
    dir: PathBuf,
    current: Arc<WalSegment>,
    len: u64,
    fault: Option<WriteFault>,
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:016x}.wal"))
}

impl WalWriter {
    /// Starts a new segment `id` in `dir`.
    pub(crate) fn create(dir: &Path, id: u64, fault: Option<WriteFault>) -> Result<Self> {
        let current = Arc::new(open_segment(dir, id)?);
        Ok(Self {
            dir: dir.to_owned(),
            current,
            len: 0,
            fault,
        })
    }

    pub(crate) fn segment(&self) -> &Arc<WalSegment> {
        &self.current
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Appends framed bytes. On failure the segment is cut back to its previous length, so a
    /// failed append leaves no partial record behind.
    pub(crate) fn append(&mut self, bytes: &[u8]) -> Result<()> {
        let path = self.current.path.clone();
        let result = match self.fault.as_ref().map(|fault| fault(&path)) {
            Some(Err(e)) => {
                // A failing device may take part of the bytes before it fails.
                let _ = (&self.current.file).write_all(&bytes[..bytes.len() / 2]);
                Err(e)
            }
            _ => (&self.current.file).write_all(bytes),
        };
        if let Err(e) = result {
            if let Err(cut) = self.current.file.set_len(self.len) {
                tracing::error!(path = %path.display(), error = %cut, "cannot cut back a failed log append; starting a new segment");
                self.rotate()?;
            }
            return Err(Error::io(&path, e));
        }
        self.len += bytes.len() as u64;
        self.current.dirty.store(true, Ordering::Release);
        Ok(())
    }

    /// Closes the current segment (fsynced when `sync`) and starts the next one; returns the new id.
    pub(crate) fn rotate_synced(&mut self, sync: bool) -> Result<u64> {
        if sync {
            self.current.sync_if_dirty()?;
        }
        self.rotate()
    }

    fn rotate(&mut self) -> Result<u64> {
        let id = self.current.id + 1;
        self.current = Arc::new(open_segment(&self.dir, id)?);
        self.len = 0;
        Ok(id)
    }
}

fn open_segment(dir: &Path, id: u64) -> Result<WalSegment> {
    let path = segment_path(dir, id);
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    sync_dir(dir)?;
    Ok(WalSegment {
        id,
        path,
        file,
        dirty: AtomicBool::new(false),
    })
}

/// Ids of the segments in `dir`, ascending.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u64>> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        if let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".wal"))
            .and_then(|h| u64::from_str_radix(h, 16).ok())
        {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Replays segments `ids` in order, handing each intact record's payload to `apply`. A record
/// that `apply` rejects counts as damage like a bad checksum does.
pub(crate) fn replay(
    dir: &Path,
    ids: &[u64],
    mut apply: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<RecoveryReport> {
    let mut report = RecoveryReport::default();
    for &id in ids {
        let path = segment_path(dir, id);
        let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let frames = read_frames(&bytes);
        report.segments += 1;
        let mut damage = frames.damage.map(|reason| (frames.valid_len, reason));
        let mut offset = 0usize;
        for payload in frames.payloads {
            if let Err(reason) = apply(payload) {
                damage = Some((
                    offset,
                    format!("undecodable record at offset {offset}: {reason}"),
                ));
                break;
            }
            offset += payload.len() + 8;
            report.records += 1;
        }
        if let Some((offset, reason)) = damage {
            tracing::warn!(file = %path.display(), offset, reason, "write-ahead log damaged; later records in this segment are discarded");
            report.damage.push(WalDamage {
                file: path,
                offset: offset as u64,
                discarded_bytes: (bytes.len() - offset) as u64,
                reason,
            });
        }
    }
    Ok(report)
}

/// Removes segments with id below `below`.
pub(crate) fn remove_segments_below(dir: &Path, below: u64) -> Result<()> {
    for id in list_segments(dir)? {
        if id < below {
            let path = segment_path(dir, id);
            fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    sync_dir(dir)
}
