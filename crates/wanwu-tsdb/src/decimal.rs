//! Floats that are decimals with few digits (sensor readings such as 21.5) as scaled integers:
//! `v == k / 10^d` exactly for an integer `k`, checked bit for bit, so coding `k` loses nothing.

/// Most decimal digits tried.
pub(crate) const MAX_DIGITS: u8 = 6;
/// Scaled integers stay well inside the range where f64 sums of many of them are exact.
const MAX_SCALED: f64 = (1u64 << 40) as f64;

/// `10^digits`.
pub(crate) fn factor(digits: u8) -> f64 {
    10f64.powi(i32::from(digits))
}

/// `v` scaled by `factor` when that is exact: `unscale(k, factor)` gives back `v` bit for bit.
pub(crate) fn scale(v: f64, factor: f64) -> Option<i64> {
    let scaled = (v * factor).round();
    if scaled.is_nan() || scaled.abs() >= MAX_SCALED {
        return None;
    }
    let k = scaled as i64;
    (unscale(k, factor).to_bits() == v.to_bits()).then_some(k)
}

/// The value of scaled integer `k`.
pub(crate) fn unscale(k: i64, factor: f64) -> f64 {
    k as f64 / factor
}

/// The fewest decimal digits (up to `max_digits`) with which every value is an exact scaled
/// integer, or `None` (NaN, infinities, -0.0, too many digits, too large).
pub(crate) fn digits_of(values: &[f64], max_digits: u8) -> Option<u8> {
    (0..=max_digits).find(|&digits| {
        let factor = factor(digits);
        values.iter().all(|&v| scale(v, factor).is_some())
    })
}

/// Every value scaled by `10^digits` (each known to be exact).
pub(crate) fn scale_all(values: &[f64], digits: u8) -> Vec<i64> {
    let factor = factor(digits);
    values
        .iter()
        .map(|&v| scale(v, factor).expect("digits checked by digits_of"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_decimals_scale_and_others_do_not() {
        assert_eq!(digits_of(&[21.5, 21.4, -3.0, 0.0], MAX_DIGITS), Some(1));
        assert_eq!(digits_of(&[1.0, 2.0, 1e9], MAX_DIGITS), Some(0));
        assert_eq!(digits_of(&[0.125], MAX_DIGITS), Some(3));
        assert_eq!(digits_of(&[std::f64::consts::PI], MAX_DIGITS), None);
        assert_eq!(digits_of(&[f64::NAN], MAX_DIGITS), None);
        assert_eq!(digits_of(&[f64::INFINITY], MAX_DIGITS), None);
        assert_eq!(digits_of(&[-0.0], MAX_DIGITS), None);
        assert_eq!(digits_of(&[1e300], MAX_DIGITS), None);
        for v in [0.1, 0.7, 21.3, -17.9, 123456.789, 1e-6] {
            let digits = digits_of(&[v], MAX_DIGITS).unwrap();
            let k = scale_all(&[v], digits)[0];
            assert_eq!(unscale(k, factor(digits)).to_bits(), v.to_bits());
        }
    }
}
