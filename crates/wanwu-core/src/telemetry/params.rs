//! The query strings of telemetry reads, and what they resolve to: a time window, raw or
//! aggregated, in which time zone. Times are ms since the Unix epoch or RFC 3339.

use super::error::QueryError;
use serde::Deserialize;
use wanwu_tsdb::{Agg, Interval, Order, TimeZone};

/// Points a raw JSON query returns per key when no `limit` is given.
pub const DEFAULT_RAW_LIMIT: usize = 10_000;
/// Largest `limit` of a raw JSON query (CSV exports stream without limit).
pub const MAX_RAW_LIMIT: usize = 100_000;
/// Width of the window when `from` is not given.
pub const DEFAULT_WINDOW_MS: i64 = 24 * 3_600_000;

/// Query string of `GET /devices/{id}/telemetry`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SeriesParams {
    /// Comma-separated property keys; default every property of the product (every numeric
    /// one for numeric aggregations).
    pub keys: Option<String>,
    /// Start of the window (inclusive), ms or RFC 3339; default 24 h before `to`.
    pub from: Option<String>,
    /// End of the window (inclusive), ms or RFC 3339; default now (plus the allowed skew).
    pub to: Option<String>,
    /// Bucket width (`30s`, `15m`, `1h`, `1d`, `1w`, `1mo`); absent means raw points.
    pub interval: Option<String>,
    /// Aggregation of each bucket: avg (default), min, max, sum, count, first, last.
    pub agg: Option<String>,
    /// IANA time zone buckets are aligned in (default UTC).
    pub tz: Option<String>,
    /// Most raw points per key.
    pub limit: Option<usize>,
    /// `asc` (default) or `desc`, for raw points.
    pub order: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// Query string of `DELETE /devices/{id}/telemetry`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DeleteParams {
    /// Comma-separated property keys; default every property of the product.
    pub keys: Option<String>,
    /// Start of the deleted range (inclusive), ms or RFC 3339; required.
    pub from: Option<String>,
    /// End of the deleted range (inclusive), ms or RFC 3339; required.
    pub to: Option<String>,
}

/// Query string of `GET /assets/{id}/telemetry`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AssetParams {
    /// The property key aggregated across devices; required.
    pub key: Option<String>,
    /// Aggregation of each bucket: avg (default), min, max, sum, count, first, last.
    pub agg: Option<String>,
    /// Bucket width; required.
    pub interval: Option<String>,
    /// Start of the window, as for device queries.
    pub from: Option<String>,
    /// End of the window, as for device queries.
    pub to: Option<String>,
    /// IANA time zone buckets are aligned in (default UTC).
    pub tz: Option<String>,
    /// `child`: one series per child asset (with the devices of its subtree); absent: one
    /// series for the whole subtree.
    pub group: Option<String>,
}

/// A time window `[from, to]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Start (inclusive), ms.
    pub from: i64,
    /// End (inclusive), ms.
    pub to: i64,
}

impl Window {
    /// The window of `from` and `to`; `to` defaults to `latest` (the newest timestamp ingest
    /// accepts now) and `from` to [`DEFAULT_WINDOW_MS`] before `to`.
    pub fn parse(from: Option<&str>, to: Option<&str>, latest: i64) -> Result<Self, QueryError> {
        let to = match to {
            Some(to) => parse_time("to", to)?,
            None => latest,
        };
        let from = match from {
            Some(from) => parse_time("from", from)?,
            None => to.saturating_sub(DEFAULT_WINDOW_MS),
        };
        if from > to {
            return Err(QueryError::bad(format!("from ({from}) is after to ({to})")));
        }
        Ok(Window { from, to })
    }

    /// The window of a delete: both ends required.
    pub fn required(from: Option<&str>, to: Option<&str>) -> Result<Self, QueryError> {
        match (from, to) {
            (Some(_), Some(_)) => Self::parse(from, to, 0),
            _ => Err(QueryError::bad(
                "from and to are required: deleting needs an explicit time range",
            )),
        }
    }
}

/// Parses a time given as ms since the Unix epoch or as RFC 3339; `name` is the parameter.
pub fn parse_time(name: &str, text: &str) -> Result<i64, QueryError> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    text.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| {
            QueryError::bad(format!(
                "{name} {text:?} is neither ms since the Unix epoch nor an RFC 3339 time"
            ))
        })
}

/// How buckets are formed.
#[derive(Clone, Debug)]
pub struct Bucketing {
    /// Bucket width.
    pub interval: Interval,
    /// The `interval` as given.
    pub interval_text: String,
    /// Aggregation per bucket.
    pub agg: Agg,
    /// Zone buckets are aligned in.
    pub tz: TimeZone,
    /// The zone's name as given (`UTC` by default).
    pub tz_name: String,
}

impl Bucketing {
    /// Parses `interval`, `agg` and `tz`.
    pub fn parse(interval: &str, agg: Option<&str>, tz: Option<&str>) -> Result<Self, QueryError> {
        let agg = agg
            .unwrap_or("avg")
            .parse::<Agg>()
            .map_err(QueryError::bad)?;
        let tz_name = tz.unwrap_or("UTC").to_owned();
        Ok(Bucketing {
            interval: interval.parse::<Interval>()?,
            interval_text: interval.to_owned(),
            agg,
            tz: wanwu_tsdb::time_zone(&tz_name)?,
            tz_name,
        })
    }

    /// True when the aggregation needs numbers (avg, min, max, sum).
    pub fn needs_numbers(&self) -> bool {
        matches!(self.agg, Agg::Avg | Agg::Min | Agg::Max | Agg::Sum)
    }
}

/// Raw points or buckets.
#[derive(Clone, Debug)]
pub enum Shape {
    /// Raw points, at most `limit` per key (none: all), in `order`.
    Raw {
        /// Most points per key.
        limit: Option<usize>,
        /// Oldest or newest first.
        order: Order,
    },
    /// Buckets.
    Buckets(Bucketing),
}

impl Shape {
    /// The shape of a device query; `streaming` (CSV) lifts the default raw limit.
    pub fn parse(params: &SeriesParams, streaming: bool) -> Result<Self, QueryError> {
        match &params.interval {
            Some(interval) => {
                if params.order.is_some() || params.limit.is_some() {
                    return Err(QueryError::bad(
                        "limit and order apply to raw points; drop them or drop interval",
                    ));
                }
                Ok(Shape::Buckets(Bucketing::parse(
                    interval,
                    params.agg.as_deref(),
                    params.tz.as_deref(),
                )?))
            }
            None => {
                if params.agg.is_some() {
                    return Err(QueryError::bad("agg needs an interval (e.g. interval=1h)"));
                }
                let order = match params.order.as_deref() {
                    None | Some("asc") => Order::Asc,
                    Some("desc") => Order::Desc,
                    Some(other) => {
                        return Err(QueryError::bad(format!(
                            "order {other:?}: expected asc or desc"
                        )));
                    }
                };
                let limit = match params.limit {
                    Some(0) => return Err(QueryError::bad("limit must be at least 1")),
                    Some(n) if n > MAX_RAW_LIMIT && !streaming => {
                        return Err(QueryError::bad(format!(
                            "limit must be at most {MAX_RAW_LIMIT}; use format=csv for more"
                        )));
                    }
                    Some(n) => Some(n),
                    None if streaming => None,
                    None => Some(DEFAULT_RAW_LIMIT),
                };
                Ok(Shape::Raw { limit, order })
            }
        }
    }
}

/// The keys of a comma-separated list, without empty entries and duplicates.
pub fn split_keys(keys: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in keys.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        if !out.iter().any(|k| k == key) {
            out.push(key.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_ms_or_rfc3339() {
        assert_eq!(
            parse_time("from", "1700000000000").unwrap(),
            1_700_000_000_000
        );
        assert_eq!(
            parse_time("from", "2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000
        );
        assert_eq!(
            parse_time("from", "2023-11-15T06:13:20+08:00").unwrap(),
            1_700_000_000_000
        );
        assert!(parse_time("from", "yesterday").is_err());
    }

    #[test]
    fn windows_default_and_refuse_reversed_ranges() {
        let w = Window::parse(None, None, 100_000_000).unwrap();
        assert_eq!(
            (w.from, w.to),
            (100_000_000 - DEFAULT_WINDOW_MS, 100_000_000)
        );
        assert!(Window::parse(Some("10"), Some("5"), 0).is_err());
        assert!(Window::required(Some("1"), None).is_err());
        assert_eq!(Window::required(Some("1"), Some("2")).unwrap().to, 2);
    }

    #[test]
    fn shapes() {
        let raw = SeriesParams::default();
        assert!(matches!(
            Shape::parse(&raw, false).unwrap(),
            Shape::Raw {
                limit: Some(DEFAULT_RAW_LIMIT),
                order: Order::Asc
            }
        ));
        assert!(matches!(
            Shape::parse(&raw, true).unwrap(),
            Shape::Raw { limit: None, .. }
        ));
        let agg_without_interval = SeriesParams {
            agg: Some("avg".into()),
            ..SeriesParams::default()
        };
        assert!(Shape::parse(&agg_without_interval, false).is_err());
        let daily = SeriesParams {
            interval: Some("1d".into()),
            tz: Some("Asia/Shanghai".into()),
            ..SeriesParams::default()
        };
        let Shape::Buckets(b) = Shape::parse(&daily, false).unwrap() else {
            panic!("buckets expected")
        };
        assert_eq!(b.agg, Agg::Avg);
        let bad_tz = SeriesParams {
            interval: Some("1d".into()),
            tz: Some("Mars/Olympus".into()),
            ..SeriesParams::default()
        };
        assert!(Shape::parse(&bad_tz, false).is_err());
        let bad_interval = SeriesParams {
            interval: Some("3x".into()),
            ..SeriesParams::default()
        };
        assert!(Shape::parse(&bad_interval, false).is_err());
    }

    #[test]
    fn keys_are_split_and_deduplicated() {
        assert_eq!(split_keys("a, b,,a"), ["a", "b"]);
    }
}
