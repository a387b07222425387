//! Percentiles of a sample of durations.

/// p50, p99 and maximum of a sample of durations in microseconds, with its size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Percentiles {
    /// Values in the sample.
    pub count: usize,
    /// Median, microseconds.
    pub p50_us: u32,
    /// 99th percentile, microseconds.
    pub p99_us: u32,
    /// Largest value, microseconds.
    pub max_us: u32,
}

impl Percentiles {
    /// Summarises `values` (nearest-rank percentiles); all zero for an empty sample.
    pub fn of(mut values: Vec<u32>) -> Self {
        values.sort_unstable();
        let rank = |q: f64| {
            let index = ((values.len() as f64 * q).ceil() as usize).saturating_sub(1);
            values.get(index).copied().unwrap_or(0)
        };
        Self {
            count: values.len(),
            p50_us: rank(0.5),
            p99_us: rank(0.99),
            max_us: values.last().copied().unwrap_or(0),
        }
    }
}

/// Microseconds between two nanosecond stamps, saturating.
pub(crate) fn micros_between(earlier_ns: u64, later_ns: u64) -> u32 {
    (later_ns.saturating_sub(earlier_ns) / 1000).min(u64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let sample: Vec<u32> = (1..=200).rev().collect();
        let p = Percentiles::of(sample);
        assert_eq!(
            p,
            Percentiles {
                count: 200,
                p50_us: 100,
                p99_us: 198,
                max_us: 200
            }
        );
        assert_eq!(Percentiles::of(Vec::new()), Percentiles::default());
        assert_eq!(Percentiles::of(vec![7]).p99_us, 7);
    }

    #[test]
    fn micros_saturate() {
        assert_eq!(micros_between(5_000, 2_000), 0);
        assert_eq!(micros_between(1_000, 4_500), 3);
        assert_eq!(micros_between(0, u64::MAX), u32::MAX);
    }
}
