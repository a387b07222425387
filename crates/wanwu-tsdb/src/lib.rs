//! Embedded time-series engine: series and points, write-ahead log, compressed blocks, queries.
//!
//! A series is identified by `(tenant, device, key)` and holds values of one type (f64, i64,
//! bool, string or geo pair), fixed by its first write. Writes land in a checksummed
//! write-ahead log and an in-memory head; full heads are flushed into immutable compressed
//! blocks, one segment file per time partition (per tenant and retention group); background
//! compaction merges late and out-of-order points (last write wins on equal timestamps),
//! applies deletes, and widens the closed partitions of sparse series (hourly readings get
//! blocks of months, not of a day); retention drops whole partitions.
//!
//! Compression: delta-of-delta timestamps (run-length or pcodec coded), floats with few
//! decimals as scaled integers with pcodec deltas (other floats and ints with pcodec),
//! run-length booleans, dictionary strings. Every block carries a summary (count, sum, min,
//! max, first, last) and hourly rollups (count and sum per UTC hour) in the segment index, so
//! coarse averages, sums and counts (hourly, daily, monthly buckets in whole-hour time zones)
//! do not decode points.
//!
//! Durability: a write is acknowledged once it is in the write-ahead log, so it survives a
//! crash of the process under every [`FsyncPolicy`]; power loss only under
//! [`FsyncPolicy::Always`] (group commit). The default is `Interval(100 ms)`.
//!
//! ```no_run
//! # async fn demo() -> wanwu_tsdb::Result<()> {
//! use wanwu_tsdb::{Agg, Batch, Engine, Options, SeriesKey, Value, time_zone};
//! let engine = Engine::open("/tmp/tsdb", Options::default()).await?;
//! let pm25 = SeriesKey::new("default", "st-1", "pm25");
//! let mut batch = Batch::new();
//! batch.push(&pm25, 1_700_000_000_000, Value::F64(35.2));
//! engine.write(batch).await?;
//! let tz = time_zone("Asia/Shanghai")?;
//! let daily = engine.query_agg(&pm25, 0, i64::MAX / 2, "1d".parse()?, Agg::Avg, &tz)?;
//! # let _ = daily; engine.close().await }
//! ```

mod agg;
#[cfg(feature = "bench")]
pub mod bench;
mod breakdown;
mod bytes;
mod codec;
mod column;
mod decimal;
mod engine;
mod error;
mod fsutil;
mod head;
mod interval;
mod maintenance;
mod options;
mod query;
mod record;
mod rollup;
mod segment;
mod shared;
mod state;
mod types;
mod wal;
mod writer;

pub use agg::{Agg, Bucket};
pub use breakdown::StorageBreakdown;
pub use engine::{Engine, Stats};
pub use error::{Error, Result};
pub use fsutil::WriteFault;
pub use interval::{Interval, time_zone};
pub use jiff::tz::TimeZone;
pub use options::{FsyncPolicy, Options, Retention, SeriesGroupFn};
pub use query::RawIter;
pub use types::{Batch, GeoPoint, Order, Point, SeriesKey, Value, ValueType};
pub use wal::{RecoveryReport, WalDamage};
