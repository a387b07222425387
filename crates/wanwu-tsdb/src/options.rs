//! Engine configuration.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::fsutil::WriteFault;
use crate::types::SeriesKey;

/// When the write-ahead log is fsynced.
///
/// Every acknowledged write is in the log (the OS page cache at least), so it survives a crash
/// of the process (`kill -9`) under every policy. Surviving power loss needs [`FsyncPolicy::Always`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Fsync before acknowledging; concurrent writers share one fsync (group commit).
    Always,
    /// Fsync in the background at most this long after a write (the default, 100 ms).
    Interval(Duration),
    /// Leave it to the OS.
    Never,
}

impl Default for FsyncPolicy {
    fn default() -> Self {
        FsyncPolicy::Interval(Duration::from_millis(100))
    }
}

/// How long data is kept: per tenant, with overrides per group (e.g. a product), in one tenant
/// or in all. The most specific entry wins: (tenant, group), then the group in all tenants,
/// then the tenant, then the default. Whole partitions are dropped once their end is older
/// than the retention. Points already older than the retention when written are accepted and
/// dropped when the head is flushed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// For tenants without their own entry; `None` keeps data forever.
    pub default: Option<Duration>,
    /// Per tenant.
    pub tenants: HashMap<String, Duration>,
    /// Per (tenant, group), where the group is given by the series' first write
    /// ([`crate::Batch::in_group`]) or by [`Options::series_group`].
    pub groups: HashMap<(String, String), Duration>,
    /// Per group, in every tenant without its own (tenant, group) entry.
    pub groups_in_all_tenants: HashMap<String, Duration>,
}

impl Retention {
    /// The retention of data of `tenant` in `group`.
    pub fn of(&self, tenant: &str, group: &str) -> Option<Duration> {
        self.groups
            .get(&(tenant.to_owned(), group.to_owned()))
            .or_else(|| self.groups_in_all_tenants.get(group))
            .or_else(|| self.tenants.get(tenant))
            .copied()
            .or(self.default)
    }
}

/// Chooses a series' retention group on its first write (e.g. the device's product). The group
/// is fixed for the life of the series; series of one group share partitions.
pub type SeriesGroupFn = Arc<dyn Fn(&SeriesKey) -> Option<String> + Send + Sync>;

/// Engine options; `Options::default()` suits a small server.
#[derive(Clone)]
pub struct Options {
    /// Log fsync policy; default `Interval(100 ms)`.
    pub fsync: FsyncPolicy,
    /// Width of a new time partition (default one day, UTC-aligned). Retention drops whole
    /// partitions. Compaction merges closed partitions whose series are sparse into wider ones
    /// (twice the width at a time, up to 256 times, at most a quarter of the retention) while
    /// every series still fits one block.
    pub partition: Duration,
    /// Most points in one compressed block (default 8192); also how many points per series a
    /// partition may gather before compaction stops widening it.
    pub block_points: usize,
    /// The head is flushed to disk once it holds this many points (default 1,000,000).
    pub head_max_points: usize,
    /// The head is flushed once the current log segment reaches this size (default 256 MiB).
    pub wal_max_bytes: u64,
    /// Heads waiting for flush before writers are held back (default 2).
    pub max_frozen_heads: usize,
    /// Largest bucket count an aggregation may produce (default 100,000).
    pub max_buckets: usize,
    /// Writes waiting for the log writer (default 1024); callers wait when it is full.
    pub write_queue: usize,
    /// Merge segments in the background (default true).
    pub background_compaction: bool,
    /// How often background compaction and retention run (default 10 s).
    pub maintenance_interval: Duration,
    /// Retention policy; can be changed later with `Engine::set_retention`.
    pub retention: Retention,
    /// Retention group of a new series written without [`crate::Batch::in_group`]; `None`
    /// puts such series in the tenant's group "".
    pub series_group: Option<SeriesGroupFn>,
    /// Fault injection for tests of disk-full and I/O-error handling.
    pub write_fault: Option<WriteFault>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            fsync: FsyncPolicy::default(),
            partition: Duration::from_secs(86_400),
            block_points: 8192,
            head_max_points: 1_000_000,
            wal_max_bytes: 256 << 20,
            max_frozen_heads: 2,
            max_buckets: 100_000,
            write_queue: 1024,
            background_compaction: true,
            maintenance_interval: Duration::from_secs(10),
            retention: Retention::default(),
            series_group: None,
            write_fault: None,
        }
    }
}

impl Options {
    pub(crate) fn partition_ms(&self) -> i64 {
        (self.partition.as_millis() as i64).max(1)
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("fsync", &self.fsync)
            .field("partition", &self.partition)
            .field("block_points", &self.block_points)
            .field("head_max_points", &self.head_max_points)
            .field("wal_max_bytes", &self.wal_max_bytes)
            .field("max_frozen_heads", &self.max_frozen_heads)
            .field("max_buckets", &self.max_buckets)
            .field("write_queue", &self.write_queue)
            .field("background_compaction", &self.background_compaction)
            .field("maintenance_interval", &self.maintenance_interval)
            .field("retention", &self.retention)
            .field("series_group", &self.series_group.is_some())
            .field("write_fault", &self.write_fault.is_some())
            .finish()
    }
}
