//! Why a telemetry query or delete failed.

use crate::error::CoreError;

/// Why a telemetry query or delete failed; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// A registry error: unknown device or asset (404), role not allowed (403), ...
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The query string asks for something impossible: `from` after `to`, an unknown key,
    /// too many buckets, a bad interval or time zone (HTTP 400).
    #[error("{0}")]
    BadQuery(String),
    /// The disk is full: the delete was not recorded (HTTP 507).
    #[error("storage is full: delete not recorded, retry later")]
    DiskFull,
    /// Reading or writing the store failed (HTTP 500); see the server log.
    #[error("telemetry storage failed: {0}")]
    Storage(String),
}

impl QueryError {
    /// A 400 error with `message`.
    pub fn bad(message: impl Into<String>) -> Self {
        QueryError::BadQuery(message.into())
    }
}

impl From<wanwu_tsdb::Error> for QueryError {
    fn from(e: wanwu_tsdb::Error) -> Self {
        use wanwu_tsdb::Error as E;
        match e {
            E::InvalidRange { .. }
            | E::InvalidInterval(_)
            | E::TooManyBuckets { .. }
            | E::UnsupportedAggregation { .. }
            | E::UnknownTimeZone(_)
            | E::TimestampOutOfRange(_) => QueryError::BadQuery(e.to_string()),
            E::DiskFull(_) => QueryError::DiskFull,
            other => QueryError::Storage(other.to_string()),
        }
    }
}
