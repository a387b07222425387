//! State and signals shared by the engine handle, the log writer thread and the background
//! maintenance thread.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use crate::options::{Options, Retention};
use crate::state::State;
use crate::wal::WalSegment;

/// Flags the background thread waits on.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    pub(crate) stop: bool,
    pub(crate) work: bool,
    /// The last flush failed; writers are told when the backlog is full. True for a full disk.
    pub(crate) flush_failed: Option<bool>,
}

pub(crate) struct Shared {
    pub(crate) data_dir: PathBuf,
    pub(crate) wal_dir: PathBuf,
    pub(crate) catalog_path: PathBuf,
    pub(crate) tombstone_path: PathBuf,
    pub(crate) opts: Options,
    pub(crate) state: RwLock<State>,
    pub(crate) retention: RwLock<Retention>,
    pub(crate) current_wal: Mutex<Arc<WalSegment>>,
    pub(crate) signal: Mutex<Signal>,
    /// Wakes the background thread, and writers waiting for a flush.
    pub(crate) cond: Condvar,
    pub(crate) flush_lock: Mutex<()>,
    pub(crate) compaction_lock: Mutex<()>,
}

/// Lock helpers that survive a poisoned lock: every critical section leaves the state
/// consistent before anything that can panic, so the data is still good.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn retention(&self) -> Retention {
        self.retention
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Wakes the background thread.
    pub(crate) fn wake(&self) {
        lock(&self.signal).work = true;
        self.cond.notify_all();
    }

    /// Waits up to `timeout` for a signal change.
    pub(crate) fn wait<'a>(
        &self,
        guard: MutexGuard<'a, Signal>,
        timeout: Duration,
    ) -> MutexGuard<'a, Signal> {
        self.cond
            .wait_timeout(guard, timeout)
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
    }
}
