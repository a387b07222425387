//! Hourly rollups of a block: count and sum of its points in each UTC hour, kept in the segment
//! index. Averages, sums and counts whose buckets are whole hours (hourly, daily, monthly in any
//! whole-hour time zone) read them instead of decoding points; minimum and maximum decode the
//! block (storing them per hour would cost about as much as the sums again).
//!
//! Sums of values that are decimals with few digits (sensor readings such as 21.5) are stored
//! as scaled integers: the first hour's sum as a varint, then for every further hour the change
//! of the sum's change, bit-packed (a few bits each). Consecutive hours and equal counts
//! (regular readings) are stored once. Other sums are stored as raw floats. Blocks whose hours
//! hold one point each have no rollups: they would repeat the points. Format 1 (segment files
//! of older releases) stored every hour's start, count, sum, min and max; it still decodes.

use crate::bytes::{
    DecodeError, DecodeResult, Reader, put_bitpacked, put_varint, unzigzag, zigzag,
};
use crate::codec::BlockFormat;
use crate::column::{Column, Run};
use crate::decimal;

pub(crate) const HOUR: i64 = 3_600_000;
const RAW: u8 = u8::MAX;
const IRREGULAR: u8 = 0;
const REGULAR: u8 = 1;

/// The summary of a block's points in one hour.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HourSummary {
    pub(crate) start: i64,
    pub(crate) count: u64,
    pub(crate) sum: f64,
    /// Minimum and maximum, stored by format 1 only.
    pub(crate) extremes: Option<(f64, f64)>,
}

/// Rollups of `run[range]`; empty when the block lies within one hour, holds at most one point
/// in every hour, or is not numeric.
pub(crate) fn encode(run: &Run, range: std::ops::Range<usize>) -> Vec<u8> {
    let mut out = Vec::new();
    let ts = &run.ts[range.clone()];
    let (Some(&first), Some(&last)) = (ts.first(), ts.last()) else {
        return out;
    };
    if first.div_euclid(HOUR) == last.div_euclid(HOUR) {
        return out;
    }
    let values: Vec<f64> = match &run.values {
        Column::F64(v) => v[range].to_vec(),
        Column::I64(v) => v[range].iter().map(|&x| x as f64).collect(),
        Column::Bool(v) => v[range].iter().map(|&x| f64::from(u8::from(x))).collect(),
        Column::Str(_) | Column::Geo(_) => return out,
    };
    let mut hours: Vec<(i64, std::ops::Range<usize>)> = Vec::new();
    let mut i = 0;
    while i < ts.len() {
        let hour = ts[i].div_euclid(HOUR);
        let j = i + ts[i..].partition_point(|&t| t.div_euclid(HOUR) == hour);
        hours.push((hour, i..j));
        i = j;
    }
    if hours.len() == ts.len() {
        return out;
    }
    let scale = decimal::digits_of(&values, decimal::MAX_DIGITS);
    put_varint(&mut out, hours.len() as u64);
    out.push(scale.unwrap_or(RAW));
    put_regular_or_each(
        &mut out,
        hours.windows(2).map(|w| (w[1].0 - w[0].0) as u64),
        1,
    );
    let counts: Vec<u64> = hours.iter().map(|(_, r)| r.len() as u64).collect();
    put_regular_or_each(&mut out, counts.iter().copied(), counts[0]);
    match scale {
        Some(digits) => {
            let scaled = decimal::scale_all(&values, digits);
            let sums: Vec<i64> = hours
                .iter()
                .map(|(_, r)| scaled[r.clone()].iter().sum())
                .collect();
            put_scaled_sums(&mut out, &sums);
        }
        None => {
            for (_, r) in &hours {
                let sum: f64 = values[r.clone()].iter().sum();
                out.extend_from_slice(&sum.to_bits().to_le_bytes());
            }
        }
    }
    out
}

/// `REGULAR` and `first` when every item equals `first`, else `IRREGULAR` and every item.
fn put_regular_or_each(out: &mut Vec<u8>, items: impl Iterator<Item = u64> + Clone, first: u64) {
    if items.clone().all(|x| x == first) {
        out.push(REGULAR);
        put_varint(out, first);
    } else {
        out.push(IRREGULAR);
        items.for_each(|x| put_varint(out, x));
    }
}

fn take_regular_or_each(r: &mut Reader<'_>, n: usize) -> DecodeResult<Vec<u64>> {
    match r.u8()? {
        REGULAR => Ok(vec![r.varint()?; n]),
        IRREGULAR => (0..n).map(|_| r.varint()).collect(),
        other => Err(DecodeError(format!("unknown rollup layout {other}"))),
    }
}

/// The first hour's sum as a varint, then the changes of the sum's change, bit-packed.
fn put_scaled_sums(out: &mut Vec<u8>, sums: &[i64]) {
    put_varint(out, zigzag(sums[0]));
    let dods: Vec<u64> = (1..sums.len())
        .map(|i| {
            let before = if i >= 2 { sums[i - 1] - sums[i - 2] } else { 0 };
            zigzag(sums[i] - sums[i - 1] - before)
        })
        .collect();
    put_bitpacked(out, &dods);
}

fn take_scaled_sums(r: &mut Reader<'_>, n: usize) -> DecodeResult<Vec<i64>> {
    let mut sum = unzigzag(r.varint()?);
    let mut sums = Vec::with_capacity(n);
    sums.push(sum);
    let mut delta = 0i64;
    for dod in r.bitpacked(n - 1)? {
        delta = delta.wrapping_add(unzigzag(dod));
        sum = sum.wrapping_add(delta);
        sums.push(sum);
    }
    Ok(sums)
}

/// Decodes rollups of a block whose first point is at `block_min_ts`.
pub(crate) fn decode(
    bytes: &[u8],
    block_min_ts: i64,
    format: BlockFormat,
) -> DecodeResult<Vec<HourSummary>> {
    match format {
        BlockFormat::V1 => decode_v1(bytes, block_min_ts),
        BlockFormat::V2 => decode_v2(bytes, block_min_ts),
    }
}

fn decode_v2(bytes: &[u8], block_min_ts: i64) -> DecodeResult<Vec<HourSummary>> {
    let mut r = Reader::new(bytes);
    let n = r.count()?;
    if n == 0 {
        return Err(DecodeError("rollups without hours".into()));
    }
    let scale = r.u8()?;
    let steps = take_regular_or_each(&mut r, n - 1)?;
    let counts = take_regular_or_each(&mut r, n)?;
    let sums: Vec<f64> = match scale {
        RAW => (0..n).map(|_| r.f64()).collect::<DecodeResult<_>>()?,
        digits @ 0..=decimal::MAX_DIGITS => {
            let factor = decimal::factor(digits);
            take_scaled_sums(&mut r, n)?
                .into_iter()
                .map(|x| decimal::unscale(x, factor))
                .collect()
        }
        other => return Err(DecodeError(format!("unknown rollup scale {other}"))),
    };
    let mut hour = block_min_ts.div_euclid(HOUR);
    let mut out = Vec::with_capacity(n);
    for (i, (sum, count)) in sums.into_iter().zip(counts).enumerate() {
        if i > 0 {
            hour = hour
                .checked_add(steps[i - 1] as i64)
                .ok_or_else(|| DecodeError("rollup hour overflow".into()))?;
        }
        out.push(HourSummary {
            start: hour * HOUR,
            count,
            sum,
            extremes: None,
        });
    }
    Ok(out)
}

/// Rollups of format 1: per hour the step from the previous hour, the count, and the stats.
fn decode_v1(bytes: &[u8], block_min_ts: i64) -> DecodeResult<Vec<HourSummary>> {
    let mut r = Reader::new(bytes);
    let n = r.count()?;
    let scale = r.u8()?;
    let factor = match scale {
        RAW => None,
        0..=3 => Some(decimal::factor(scale)),
        other => return Err(DecodeError(format!("unknown rollup scale {other}"))),
    };
    let mut hour = block_min_ts.div_euclid(HOUR);
    let mut prev = [0i64; 3];
    let mut out = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        hour = hour
            .checked_add(r.varint()? as i64)
            .ok_or_else(|| DecodeError("rollup hour overflow".into()))?;
        let count = r.varint()?;
        let [sum, min, max] = match factor {
            Some(factor) => {
                let mut stats = [0f64; 3];
                for (k, stat) in stats.iter_mut().enumerate() {
                    prev[k] = prev[k].wrapping_add(unzigzag(r.varint()?));
                    *stat = prev[k] as f64 / factor;
                }
                stats
            }
            None => [r.f64()?, r.f64()?, r.f64()?],
        };
        out.push(HourSummary {
            start: hour * HOUR,
            count,
            sum,
            extremes: Some((min, max)),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ts: Vec<i64>, values: Column) -> Run {
        Run { ts, values }
    }

    fn hour_sums(r: &Run) -> Vec<(i64, u64, f64)> {
        decode(&encode(r, 0..r.len()), r.ts[0], BlockFormat::V2)
            .unwrap()
            .iter()
            .map(|h| (h.start, h.count, h.sum))
            .collect()
    }

    #[test]
    fn decimal_sensor_values_roll_up_compactly_and_exactly() {
        let ts: Vec<i64> = (0..180).map(|m| 7 * HOUR + m * 60_000).collect();
        let values: Vec<f64> = (0..180).map(|m| 20.0 + f64::from(m % 17) / 10.0).collect();
        let r = run(ts, Column::F64(values.clone()));
        let bytes = encode(&r, 0..180);
        assert!(bytes.len() < 20, "{} bytes", bytes.len());
        let hours = decode(&bytes, r.ts[0], BlockFormat::V2).unwrap();
        assert_eq!(hours.len(), 3);
        for (h, chunk) in hours.iter().zip(values.chunks(60)) {
            assert_eq!(h.count, 60);
            assert!((h.sum - chunk.iter().sum::<f64>()).abs() < 1e-9);
            assert_eq!(h.extremes, None);
        }
        assert_eq!(hours[1].start, 8 * HOUR);
    }

    #[test]
    fn other_values_roll_up_raw_and_sparse_blocks_not_at_all() {
        let r = run(
            vec![0, 1, HOUR, 5 * HOUR, 5 * HOUR + 2],
            Column::F64(vec![std::f64::consts::PI, 1.0, -1e300, 2.0, 0.5]),
        );
        assert_eq!(
            hour_sums(&r),
            vec![
                (0, 2, std::f64::consts::PI + 1.0),
                (HOUR, 1, -1e300),
                (5 * HOUR, 2, 2.5)
            ]
        );
        let one_per_hour = run(vec![0, HOUR, 3 * HOUR], Column::F64(vec![1.5, 2.5, 3.5]));
        assert!(encode(&one_per_hour, 0..3).is_empty());
        assert!(encode(&run(vec![1, 2], Column::I64(vec![1, 2])), 0..2).is_empty());
        assert!(
            encode(
                &run(
                    vec![0, 1, HOUR],
                    Column::Str(vec!["a".into(), "b".into(), "c".into()])
                ),
                0..3
            )
            .is_empty()
        );
    }

    #[test]
    fn irregular_hours_and_counts_round_trip() {
        let ts = vec![0, 5, HOUR, 3 * HOUR, 3 * HOUR + 1, 3 * HOUR + 2, 9 * HOUR];
        let values = vec![-1.25, 7.5, 3.0, -2.0, 100.0, 0.25, 8.0];
        let r = run(ts, Column::F64(values));
        assert_eq!(
            hour_sums(&r),
            vec![
                (0, 2, 6.25),
                (HOUR, 1, 3.0),
                (3 * HOUR, 3, 98.25),
                (9 * HOUR, 1, 8.0)
            ]
        );
        let bytes = encode(&r, 0..7);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut], 0, BlockFormat::V2).is_err());
        }
    }

    #[test]
    fn format_1_rollups_still_decode() {
        // One hour at 07:00 and one at 08:00, 0.1 scale: (count 2, sum 41.0, min 20.4, max 20.6)
        // then (count 1, sum 20.0, min 20.0, max 20.0), stats delta-coded from hour to hour.
        let mut bytes = vec![2, 1, 0, 2];
        for x in [410i64, 204, 206] {
            put_varint(&mut bytes, zigzag(x));
        }
        bytes.extend([1, 1]);
        for x in [-210i64, -4, -6] {
            put_varint(&mut bytes, zigzag(x));
        }
        let hours = decode(&bytes, 7 * HOUR + 5, BlockFormat::V1).unwrap();
        assert_eq!(
            hours
                .iter()
                .map(|h| (h.start, h.count, h.sum, h.extremes))
                .collect::<Vec<_>>(),
            vec![
                (7 * HOUR, 2, 41.0, Some((20.4, 20.6))),
                (8 * HOUR, 1, 20.0, Some((20.0, 20.0)))
            ]
        );
    }
}
