//! The engine's error type.

use std::path::PathBuf;

use crate::types::ValueType;

/// Result alias for engine operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine, each with enough context to act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A write carried a value whose type differs from the series' type (fixed by its first write).
    #[error("series {series} holds {expected} values, got {got}")]
    TypeMismatch {
        /// The series, as `tenant/device/key`.
        series: String,
        /// The series' type.
        expected: ValueType,
        /// The type of the rejected value.
        got: ValueType,
    },
    /// The disk is full: the write was rejected and nothing was stored. Retry when space returns.
    #[error("disk full: write rejected, stored data is intact ({0})")]
    DiskFull(#[source] std::io::Error),
    /// A query's `from` lies after its `to`.
    #[error("invalid time range: from {from} is after to {to}")]
    InvalidRange {
        /// Start of the range (ms).
        from: i64,
        /// End of the range (ms).
        to: i64,
    },
    /// An interval string could not be parsed.
    #[error(
        "invalid interval {0:?}: expected a positive number and a unit s, m, h, d, w or mo (e.g. \"15m\", \"1mo\")"
    )]
    InvalidInterval(String),
    /// An aggregation query would produce more buckets than allowed.
    #[error(
        "query would produce more than {max} buckets; use a coarser interval or a shorter range"
    )]
    TooManyBuckets {
        /// The configured maximum.
        max: usize,
    },
    /// An aggregation that needs numbers was asked of a string or geo series.
    #[error("aggregation {agg} is not defined for {ty} values")]
    UnsupportedAggregation {
        /// The aggregation's name.
        agg: &'static str,
        /// The series' type.
        ty: ValueType,
    },
    /// A time zone name is unknown.
    #[error("unknown time zone {0:?}")]
    UnknownTimeZone(String),
    /// A timestamp is outside the range the calendar can represent.
    #[error("timestamp {0} is out of range")]
    TimestampOutOfRange(i64),
    /// Stored data failed its checksum or could not be decoded.
    #[error("corrupt data in {path}: {reason}")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A batch is too large to be logged as one record.
    #[error("batch of {bytes} bytes exceeds the limit of {max} bytes; split it")]
    BatchTooLarge {
        /// Encoded size of the batch.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The engine already holds the largest number of series it can address (2^32).
    #[error("too many series")]
    TooManySeries,
    /// Flushing the head to disk keeps failing and the backlog is full; writes resume once a
    /// flush succeeds.
    #[error("flushing to disk is failing; write rejected until it succeeds")]
    FlushFailed,
    /// Another engine holds the data directory.
    #[error("data directory {0} is in use by another engine")]
    Locked(PathBuf),
    /// The engine was closed or is shutting down.
    #[error("engine is closed")]
    Closed,
    /// An I/O error other than a full disk.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Classifies an I/O error on `path`: a full disk becomes [`Error::DiskFull`].
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        if is_disk_full(&source) {
            Error::DiskFull(source)
        } else {
            Error::Io {
                path: path.into(),
                source,
            }
        }
    }

    /// A corruption error on `path`.
    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// True when `err` says the device has no space left (ENOSPC) or quota is exhausted.
pub(crate) fn is_disk_full(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}
