//! Series identities, typed values, points and write batches.

use std::fmt;

/// Identity of a series: which tenant, which device, which key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    /// Tenant that owns the series; retention and partitions are per tenant.
    pub tenant: String,
    /// Device (or any source) inside the tenant.
    pub device: String,
    /// Property key, e.g. `pm25`.
    pub key: String,
}

impl SeriesKey {
    /// Builds a series key.
    pub fn new(
        tenant: impl Into<String>,
        device: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        Self {
            tenant: tenant.into(),
            device: device.into(),
            key: key.into(),
        }
    }
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.tenant, self.device, self.key)
    }
}

/// A geographic position: latitude and longitude in degrees (WGS 84).
///
/// Geo is a pair type: one series holds both coordinates, so a position is written, deleted
/// and read as one value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeoPoint {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
}

/// A typed value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A 64-bit float.
    F64(f64),
    /// A 64-bit signed integer.
    I64(i64),
    /// A boolean.
    Bool(bool),
    /// A UTF-8 string.
    Str(String),
    /// A latitude/longitude pair.
    Geo(GeoPoint),
}

impl Value {
    /// The value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::F64(_) => ValueType::F64,
            Value::I64(_) => ValueType::I64,
            Value::Bool(_) => ValueType::Bool,
            Value::Str(_) => ValueType::Str,
            Value::Geo(_) => ValueType::Geo,
        }
    }

    /// The value as a number, for numeric aggregation (`bool` counts as 0 or 1).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::F64(v) => Some(*v),
            Value::I64(v) => Some(*v as f64),
            Value::Bool(v) => Some(f64::from(u8::from(*v))),
            Value::Str(_) | Value::Geo(_) => None,
        }
    }
}

/// The type of a series, fixed by its first write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// [`Value::F64`].
    F64,
    /// [`Value::I64`].
    I64,
    /// [`Value::Bool`].
    Bool,
    /// [`Value::Str`].
    Str,
    /// [`Value::Geo`].
    Geo,
}

impl ValueType {
    /// Stable one-byte code used on disk.
    pub(crate) fn code(self) -> u8 {
        match self {
            ValueType::F64 => 1,
            ValueType::I64 => 2,
            ValueType::Bool => 3,
            ValueType::Str => 4,
            ValueType::Geo => 5,
        }
    }

    /// Inverse of [`ValueType::code`].
    pub(crate) fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => ValueType::F64,
            2 => ValueType::I64,
            3 => ValueType::Bool,
            4 => ValueType::Str,
            5 => ValueType::Geo,
            _ => return None,
        })
    }

    /// True for types that numeric aggregations (avg, sum, min, max) accept.
    pub fn is_numeric(self) -> bool {
        matches!(self, ValueType::F64 | ValueType::I64 | ValueType::Bool)
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueType::F64 => "f64",
            ValueType::I64 => "i64",
            ValueType::Bool => "bool",
            ValueType::Str => "string",
            ValueType::Geo => "geo",
        })
    }
}

/// One timestamped value. Timestamps are milliseconds since the Unix epoch (UTC).
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Milliseconds since the Unix epoch.
    pub ts: i64,
    /// The value.
    pub value: Value,
}

impl Point {
    /// Builds a point.
    pub fn new(ts: i64, value: Value) -> Self {
        Self { ts, value }
    }
}

/// Order of a raw query's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first.
    #[default]
    Asc,
    /// Newest first.
    Desc,
}

/// A group of points for one or more series, written atomically (all or nothing).
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub(crate) entries: Vec<(SeriesKey, Vec<Point>)>,
    pub(crate) points: usize,
    pub(crate) group: Option<String>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts the series this batch creates into retention group `group` (e.g. the device's
    /// product) instead of the one `Options::series_group` chooses. A series keeps the group
    /// of its first write.
    pub fn in_group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// Adds one point; consecutive points of the same series share one entry.
    pub fn push(&mut self, series: &SeriesKey, ts: i64, value: Value) {
        self.points += 1;
        if let Some((last, points)) = self.entries.last_mut()
            && last == series
        {
            points.push(Point { ts, value });
            return;
        }
        self.entries
            .push((series.clone(), vec![Point { ts, value }]));
    }

    /// Adds many points of one series.
    pub fn extend(&mut self, series: SeriesKey, points: Vec<Point>) {
        self.points += points.len();
        self.entries.push((series, points));
    }

    /// Number of points in the batch.
    pub fn len(&self) -> usize {
        self.points
    }

    /// True when the batch holds no point.
    pub fn is_empty(&self) -> bool {
        self.points == 0
    }
}
