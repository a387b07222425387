//! Hourly rollups of a block: count, sum, min and max of its points in each UTC hour, kept in
//! the segment index. Aggregations whose buckets are whole hours (hourly, daily, monthly in any
//! whole-hour time zone) read them instead of decoding points.
//!
//! Values that are decimals with up to three digits (sensor readings such as 21.5) are stored
//! as scaled integers, delta-coded from hour to hour: a few bytes per hour. Others are stored
//! as raw floats.

use crate::bytes::{DecodeError, DecodeResult, Reader, put_varint, unzigzag, zigzag};
use crate::column::{Column, Run};

pub(crate) const HOUR: i64 = 3_600_000;
const RAW: u8 = u8::MAX;
/// Scaled integers stay well inside the range where f64 sums are exact.
const MAX_SCALED: f64 = (1u64 << 40) as f64;

/// The summary of a block's points in one hour.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HourSummary {
    pub(crate) start: i64,
    pub(crate) count: u64,
    pub(crate) sum: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

/// Rollups of `run[range]`; empty when the block lies within one hour or is not numeric.
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
    let scale = decimal_digits(&values);
    let hours: Vec<(i64, &[i64], &[f64])> = {
        let mut hours = Vec::new();
        let mut i = 0;
        while i < ts.len() {
            let hour = ts[i].div_euclid(HOUR);
            let j = i + ts[i..].partition_point(|&t| t.div_euclid(HOUR) == hour);
            hours.push((hour, &ts[i..j], &values[i..j]));
            i = j;
        }
        hours
    };
    put_varint(&mut out, hours.len() as u64);
    out.push(scale.unwrap_or(RAW));
    let mut prev_hour = first.div_euclid(HOUR);
    let mut prev = [0i64; 3];
    for (hour, hts, hvalues) in hours {
        put_varint(&mut out, (hour - prev_hour) as u64);
        prev_hour = hour;
        put_varint(&mut out, hts.len() as u64);
        match scale {
            Some(digits) => {
                let factor = 10f64.powi(i32::from(digits));
                let ints: Vec<i64> = hvalues
                    .iter()
                    .map(|v| (v * factor).round() as i64)
                    .collect();
                let stats = [
                    ints.iter().sum::<i64>(),
                    *ints.iter().min().expect("non-empty"),
                    *ints.iter().max().expect("non-empty"),
                ];
                for (k, x) in stats.into_iter().enumerate() {
                    put_varint(&mut out, zigzag(x - prev[k]));
                    prev[k] = x;
                }
            }
            None => {
                let sum: f64 = hvalues.iter().sum();
                let min = hvalues.iter().copied().fold(f64::INFINITY, f64::min);
                let max = hvalues.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                for x in [sum, min, max] {
                    out.extend_from_slice(&x.to_bits().to_le_bytes());
                }
            }
        }
    }
    out
}

/// The smallest number of decimal digits (0..=3) that represents every value exactly.
fn decimal_digits(values: &[f64]) -> Option<u8> {
    (0..=3u8).find(|&digits| {
        let factor = 10f64.powi(i32::from(digits));
        values.iter().all(|&v| {
            let scaled = (v * factor).round();
            scaled.abs() < MAX_SCALED && scaled / factor == v
        })
    })
}

/// Decodes rollups of a block whose first point is at `block_min_ts`.
pub(crate) fn decode(bytes: &[u8], block_min_ts: i64) -> DecodeResult<Vec<HourSummary>> {
    let mut r = Reader::new(bytes);
    let n = r.count()?;
    let scale = r.u8()?;
    let factor = match scale {
        RAW => None,
        0..=3 => Some(10f64.powi(i32::from(scale))),
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
            min,
            max,
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

    #[test]
    fn decimal_sensor_values_roll_up_compactly_and_exactly() {
        let ts: Vec<i64> = (0..180).map(|m| 7 * HOUR + m * 60_000).collect();
        let values: Vec<f64> = (0..180).map(|m| 20.0 + f64::from(m % 17) / 10.0).collect();
        let r = run(ts, Column::F64(values.clone()));
        let bytes = encode(&r, 0..180);
        assert!(bytes.len() < 30, "{} bytes", bytes.len());
        let hours = decode(&bytes, r.ts[0]).unwrap();
        assert_eq!(hours.len(), 3);
        for (h, chunk) in hours.iter().zip(values.chunks(60)) {
            assert_eq!(h.count, 60);
            assert!((h.sum - chunk.iter().sum::<f64>()).abs() < 1e-9);
            assert_eq!(h.min, chunk.iter().copied().fold(f64::INFINITY, f64::min));
            assert_eq!(
                h.max,
                chunk.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            );
        }
        assert_eq!(hours[1].start, 8 * HOUR);
    }

    #[test]
    fn other_values_roll_up_raw_and_single_hours_not_at_all() {
        let r = run(
            vec![0, HOUR, 5 * HOUR],
            Column::F64(vec![std::f64::consts::PI, -1e300, 2.0]),
        );
        let hours = decode(&encode(&r, 0..3), 0).unwrap();
        assert_eq!(
            hours
                .iter()
                .map(|h| (h.start, h.count, h.sum))
                .collect::<Vec<_>>(),
            vec![
                (0, 1, std::f64::consts::PI),
                (HOUR, 1, -1e300),
                (5 * HOUR, 1, 2.0)
            ]
        );
        assert!(encode(&run(vec![1, 2], Column::I64(vec![1, 2])), 0..2).is_empty());
        assert!(
            encode(
                &run(vec![0, HOUR], Column::Str(vec!["a".into(), "b".into()])),
                0..2
            )
            .is_empty()
        );
    }
}
