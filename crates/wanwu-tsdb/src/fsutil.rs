//! File-system helpers: directory fsync, atomic file creation, append-only record files.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use crate::bytes::{put_frame, read_frames};
use crate::error::{Error, Result};

/// A fault injector called before each data write with the file's path; an `Err` makes the
/// write fail as the device would (e.g. `ErrorKind::StorageFull` to simulate a full disk).
/// A failing log append is simulated as a short write: half of the bytes land, then the error.
pub type WriteFault = Arc<dyn Fn(&Path) -> std::io::Result<()> + Send + Sync>;

/// Fsyncs a directory so that created, renamed and removed entries are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Writes `bytes` to `path` atomically: a temporary file, fsync, rename, directory fsync.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], fault: Option<&WriteFault>) -> Result<()> {
    let dir = path.parent().expect("data files live in a directory");
    let tmp = path.with_extension("tmp");
    let result = (|| {
        if let Some(fault) = fault {
            fault(path)?;
        }
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    sync_dir(dir)
}

/// An append-only file of checksummed records (the series catalog, the tombstones).
pub(crate) struct RecordFile;

impl RecordFile {
    /// Reads every intact record; a damaged tail (from a crash during an append) is cut off so
    /// later appends stay readable.
    pub(crate) fn load(path: &Path) -> Result<Vec<Vec<u8>>> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(path, e)),
        };
        let frames = read_frames(&bytes);
        if let Some(reason) = &frames.damage {
            tracing::warn!(file = %path.display(), reason, "cutting damaged tail of record file");
            let file = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| Error::io(path, e))?;
            file.set_len(frames.valid_len as u64)
                .map_err(|e| Error::io(path, e))?;
            file.sync_all().map_err(|e| Error::io(path, e))?;
        }
        Ok(frames.payloads.into_iter().map(<[u8]>::to_vec).collect())
    }

    /// Appends records and fsyncs.
    pub(crate) fn append(
        path: &Path,
        payloads: &[Vec<u8>],
        fault: Option<&WriteFault>,
    ) -> Result<()> {
        if payloads.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::new();
        for p in payloads {
            put_frame(&mut bytes, p);
        }
        let result = (|| {
            if let Some(fault) = fault {
                fault(path)?;
            }
            let mut file = OpenOptions::new().create(true).append(true).open(path)?;
            let before = file.metadata()?.len();
            if let Err(e) = file.write_all(&bytes).and_then(|()| file.sync_data()) {
                let _ = file.set_len(before);
                return Err(e);
            }
            Ok(())
        })();
        result.map_err(|e| Error::io(path, e))
    }
}
