//! Aggregation intervals and their bucket boundaries in an IANA time zone.

use std::str::FromStr;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use crate::error::{Error, Result};

/// The width of an aggregation bucket.
///
/// Seconds, minutes and hours are fixed durations aligned to the local wall clock at the start
/// of the range (so "1h" buckets start on local hours even in +05:30 zones). Days, weeks and
/// months follow the calendar of the time zone: a day starts at local midnight and lasts 23 or
/// 25 hours on DST change days, weeks start on Monday, months are calendar months.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    /// `n` seconds.
    Seconds(u32),
    /// `n` minutes.
    Minutes(u32),
    /// `n` hours.
    Hours(u32),
    /// `n` calendar days.
    Days(u32),
    /// `n` calendar weeks, starting on Monday.
    Weeks(u32),
    /// `n` calendar months.
    Months(u32),
}

impl FromStr for Interval {
    type Err = Error;

    /// Parses `"30s"`, `"15m"`, `"1h"`, `"1d"`, `"1w"`, `"1mo"`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::InvalidInterval(s.to_owned());
        let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (digits, unit) = s.split_at(split);
        let n: u32 = digits.parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(bad());
        }
        let interval = match unit {
            "s" => Interval::Seconds(n),
            "m" => Interval::Minutes(n),
            "h" => Interval::Hours(n),
            "d" => Interval::Days(n),
            "w" => Interval::Weeks(n),
            "mo" => Interval::Months(n),
            _ => return Err(bad()),
        };
        if interval
            .fixed_millis()
            .is_some_and(|ms| ms > 366 * 86_400_000)
        {
            return Err(bad());
        }
        Ok(interval)
    }
}

impl Interval {
    /// The width in milliseconds for fixed-duration intervals.
    fn fixed_millis(self) -> Option<i64> {
        match self {
            Interval::Seconds(n) => Some(i64::from(n) * 1_000),
            Interval::Minutes(n) => Some(i64::from(n) * 60_000),
            Interval::Hours(n) => Some(i64::from(n) * 3_600_000),
            _ => None,
        }
    }
}

/// Consecutive buckets covering a time range: bucket `k` is `[starts[k], starts[k + 1])`,
/// the last one ends at `end`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Buckets {
    pub(crate) starts: Vec<i64>,
    pub(crate) end: i64,
}

impl Buckets {
    /// The buckets of `interval` in `tz` that cover `[from, to]`; errors past `max` buckets.
    pub(crate) fn cover(
        from: i64,
        to: i64,
        interval: Interval,
        tz: &TimeZone,
        max: usize,
    ) -> Result<Self> {
        if from > to {
            return Err(Error::InvalidRange { from, to });
        }
        let mut starts = Vec::new();
        let mut start = floor(from, interval, tz)?;
        if let Some(step) = interval.fixed_millis() {
            let count = (to - start) / step + 1;
            if count as u128 > max as u128 {
                return Err(Error::TooManyBuckets { max });
            }
            starts.reserve(count as usize);
        }
        loop {
            if starts.len() == max {
                return Err(Error::TooManyBuckets { max });
            }
            starts.push(start);
            let next = next_start(start, interval, tz)?;
            if next > to {
                return Ok(Buckets { starts, end: next });
            }
            start = next;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    /// End (exclusive) of bucket `k`.
    pub(crate) fn end_of(&self, k: usize) -> i64 {
        self.starts.get(k + 1).copied().unwrap_or(self.end)
    }

    /// The bucket holding `ts`, if any.
    pub(crate) fn index_of(&self, ts: i64) -> Option<usize> {
        if ts >= self.end {
            return None;
        }
        self.starts.partition_point(|&s| s <= ts).checked_sub(1)
    }
}

fn timestamp(ms: i64) -> Result<Timestamp> {
    Timestamp::from_millisecond(ms).map_err(|_| Error::TimestampOutOfRange(ms))
}

/// Start of the bucket holding `ms`.
fn floor(ms: i64, interval: Interval, tz: &TimeZone) -> Result<i64> {
    let ts = timestamp(ms)?;
    if let Some(step) = interval.fixed_millis() {
        let offset = i64::from(tz.to_offset(ts).seconds()) * 1_000;
        let local = ms + offset;
        return Ok(local - local.rem_euclid(step) - offset);
    }
    let date = ts.to_zoned(tz.clone()).date();
    let start = match interval {
        Interval::Days(n) => {
            let days = date
                .since(epoch_date())
                .map_err(|_| Error::TimestampOutOfRange(ms))?
                .get_days();
            epoch_date().checked_add((days - days.rem_euclid(n as i32)).days())
        }
        Interval::Weeks(n) => {
            // 1970-01-05 was a Monday.
            let monday = Date::constant(1970, 1, 5);
            let days = date
                .since(monday)
                .map_err(|_| Error::TimestampOutOfRange(ms))?
                .get_days();
            let weeks = days.div_euclid(7);
            monday.checked_add(((weeks - weeks.rem_euclid(n as i32)) * 7).days())
        }
        Interval::Months(n) => {
            let months = (i32::from(date.year()) - 1970) * 12 + i32::from(date.month()) - 1;
            let floored = months - months.rem_euclid(n as i32);
            Date::new(
                (1970 + floored.div_euclid(12)) as i16,
                (floored.rem_euclid(12) + 1) as i8,
                1,
            )
        }
        Interval::Seconds(_) | Interval::Minutes(_) | Interval::Hours(_) => {
            unreachable!("fixed intervals handled above")
        }
    }
    .map_err(|_| Error::TimestampOutOfRange(ms))?;
    local_midnight(start, tz, ms)
}

/// Start of the bucket after the one starting at `start`.
fn next_start(start: i64, interval: Interval, tz: &TimeZone) -> Result<i64> {
    if let Some(step) = interval.fixed_millis() {
        return start
            .checked_add(step)
            .ok_or(Error::TimestampOutOfRange(start));
    }
    let date = timestamp(start)?.to_zoned(tz.clone()).date();
    let next = match interval {
        Interval::Days(n) => date.checked_add((n as i32).days()),
        Interval::Weeks(n) => date.checked_add((n as i32 * 7).days()),
        Interval::Months(n) => date.checked_add((n as i32).months()),
        Interval::Seconds(_) | Interval::Minutes(_) | Interval::Hours(_) => {
            unreachable!("fixed intervals handled above")
        }
    }
    .map_err(|_| Error::TimestampOutOfRange(start))?;
    local_midnight(next, tz, start)
}

fn epoch_date() -> Date {
    Date::constant(1970, 1, 1)
}

/// The instant the local day `date` starts in `tz` (midnight, or the first instant after a gap).
fn local_midnight(date: Date, tz: &TimeZone, context_ms: i64) -> Result<i64> {
    let zoned = date
        .to_zoned(tz.clone())
        .map_err(|_| Error::TimestampOutOfRange(context_ms))?;
    let start = zoned
        .start_of_day()
        .map_err(|_| Error::TimestampOutOfRange(context_ms))?;
    Ok(start.timestamp().as_millisecond())
}

/// Looks up an IANA time zone by name, e.g. `Asia/Shanghai`; `UTC` always works.
pub fn time_zone(name: &str) -> Result<TimeZone> {
    TimeZone::get(name).map_err(|_| Error::UnknownTimeZone(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    /// Buckets of `interval` in `zone` covering the RFC 3339 range `[from, to]`.
    fn cover(from: &str, to: &str, interval: Interval, zone: &str) -> Buckets {
        Buckets::cover(ms(from), ms(to), interval, &time_zone(zone).unwrap(), 10).unwrap()
    }

    #[test]
    fn parses_interval_strings() {
        assert_eq!("15m".parse::<Interval>().unwrap(), Interval::Minutes(15));
        assert_eq!("1h".parse::<Interval>().unwrap(), Interval::Hours(1));
        assert_eq!("1d".parse::<Interval>().unwrap(), Interval::Days(1));
        assert_eq!("1w".parse::<Interval>().unwrap(), Interval::Weeks(1));
        assert_eq!("1mo".parse::<Interval>().unwrap(), Interval::Months(1));
        assert_eq!("30s".parse::<Interval>().unwrap(), Interval::Seconds(30));
        for bad in [
            "",
            "h",
            "0h",
            "1x",
            "1.5h",
            "-1h",
            "1 h",
            "99999999999h",
            "1000000h",
        ] {
            assert!(
                matches!(bad.parse::<Interval>(), Err(Error::InvalidInterval(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn shanghai_days_start_at_local_midnight() {
        let b = cover(
            "2026-01-01T15:00:00Z",
            "2026-01-02T17:00:00Z",
            Interval::Days(1),
            "Asia/Shanghai",
        );
        assert_eq!(
            b.starts,
            vec![
                ms("2025-12-31T16:00:00Z"),
                ms("2026-01-01T16:00:00Z"),
                ms("2026-01-02T16:00:00Z")
            ]
        );
        assert_eq!(b.end, ms("2026-01-03T16:00:00Z"));
    }

    #[test]
    fn berlin_dst_days_are_23_and_25_hours() {
        let b = cover(
            "2026-03-29T00:00:00Z",
            "2026-03-29T12:00:00Z",
            Interval::Days(1),
            "Europe/Berlin",
        );
        assert_eq!(b.starts, vec![ms("2026-03-28T23:00:00Z")]);
        assert_eq!(b.end - b.starts[0], 23 * 3_600_000);
        let b = cover(
            "2026-10-25T12:00:00Z",
            "2026-10-25T12:00:00Z",
            Interval::Days(1),
            "Europe/Berlin",
        );
        assert_eq!(b.starts, vec![ms("2026-10-24T22:00:00Z")]);
        assert_eq!(b.end - b.starts[0], 25 * 3_600_000);
    }

    #[test]
    fn weeks_start_monday_and_months_are_calendar_months() {
        let b = cover(
            "2026-11-21T00:00:00Z",
            "2026-11-21T00:00:00Z",
            Interval::Weeks(1),
            "Asia/Shanghai",
        );
        assert_eq!(b.starts, vec![ms("2026-11-15T16:00:00Z")]); // Monday 2026-11-16 00:00 +08
        let b = cover(
            "2026-01-15T00:00:00Z",
            "2026-03-15T00:00:00Z",
            Interval::Months(1),
            "Asia/Shanghai",
        );
        assert_eq!(
            b.starts,
            vec![
                ms("2025-12-31T16:00:00Z"),
                ms("2026-01-31T16:00:00Z"),
                ms("2026-02-28T16:00:00Z")
            ]
        );
        assert_eq!(b.end, ms("2026-03-31T16:00:00Z"));
    }

    #[test]
    fn fixed_intervals_align_to_local_wall_clock() {
        let b = cover(
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:59:00Z",
            Interval::Hours(1),
            "Asia/Kolkata",
        );
        assert_eq!(
            b.starts,
            vec![ms("2025-12-31T23:30:00Z"), ms("2026-01-01T00:30:00Z")]
        );
        assert_eq!(b.index_of(ms("2026-01-01T00:30:00Z")), Some(1));
        assert_eq!(b.index_of(ms("2026-01-01T01:30:00Z")), None);
    }

    #[test]
    fn bucket_limit_and_inverted_range_are_errors() {
        let tz = TimeZone::UTC;
        assert!(matches!(
            Buckets::cover(0, 86_400_000 * 10, Interval::Minutes(1), &tz, 1000),
            Err(Error::TooManyBuckets { max: 1000 })
        ));
        assert!(matches!(
            Buckets::cover(0, 86_400_000 * 400, Interval::Days(1), &tz, 100),
            Err(Error::TooManyBuckets { max: 100 })
        ));
        assert!(matches!(
            Buckets::cover(10, 0, Interval::Days(1), &tz, 100),
            Err(Error::InvalidRange { from: 10, to: 0 })
        ));
    }
}
