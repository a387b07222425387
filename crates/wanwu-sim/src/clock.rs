//! Simulated time: step `k` of a device happens at `start + k * step`, and local time of
//! day is that of the simulated city (UTC+8, like Asia/Shanghai, which has no daylight
//! saving).

/// Offset of the simulated city's local time from UTC, in milliseconds.
pub const LOCAL_OFFSET_MS: i64 = 8 * 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// Where step `k` falls: the timestamp and its local calendar facts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Instant {
    /// Step number, counted from 0.
    pub step: u64,
    /// Simulated time, ms since the Unix epoch.
    pub ts: i64,
    /// Length of one step in simulated ms.
    pub step_ms: i64,
}

impl Instant {
    /// Step `step` of a clock starting at `start_ms` with steps of `step_ms`.
    pub fn of(start_ms: i64, step_ms: i64, step: u64) -> Instant {
        Instant {
            step,
            ts: start_ms + step as i64 * step_ms,
            step_ms,
        }
    }

    fn local_ms(&self) -> i64 {
        self.ts + LOCAL_OFFSET_MS
    }

    /// Local hour of day with fraction, `0.0..24.0`.
    pub fn hour(&self) -> f64 {
        self.local_ms().rem_euclid(DAY_MS) as f64 / 3_600_000.0
    }

    /// Local days since 1970-01-01, with fraction.
    pub fn days(&self) -> f64 {
        self.local_ms() as f64 / DAY_MS as f64
    }

    /// Local day of the week, 0 = Monday .. 6 = Sunday.
    pub fn weekday(&self) -> u32 {
        // 1970-01-01 was a Thursday.
        (self.local_ms().div_euclid(DAY_MS) + 3).rem_euclid(7) as u32
    }

    /// True on Saturday and Sunday.
    pub fn is_weekend(&self) -> bool {
        self.weekday() >= 5
    }

    /// Day of the year with fraction, `0.0..365.25`.
    pub fn day_of_year(&self) -> f64 {
        self.days().rem_euclid(365.25)
    }

    /// Length of one step in simulated hours.
    pub fn step_hours(&self) -> f64 {
        self.step_ms as f64 / 3_600_000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_calendar() {
        // 2024-01-01T00:00:00Z is 08:00 on a Monday in UTC+8.
        let t = Instant::of(1_704_067_200_000, 60_000, 0);
        assert_eq!(t.hour(), 8.0);
        assert_eq!(t.weekday(), 0);
        let sat = Instant::of(1_704_067_200_000, 3_600_000, 24 * 5);
        assert_eq!(sat.weekday(), 5);
        assert!(sat.is_weekend());
        assert_eq!(Instant::of(0, 60_000, 90).ts, 5_400_000);
    }
}
