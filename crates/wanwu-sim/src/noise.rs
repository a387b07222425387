//! Deterministic randomness: every random number is a pure function of a seed and a few
//! integers (device, stream, step), so the same inputs always give the same data, in any
//! order and on any machine.

/// Mixes one 64-bit word (SplitMix64's finaliser).
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A stream name as a number (FNV-1a of its bytes), for use as a [`hash`] part.
pub const fn tag(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

/// A well-mixed 64-bit hash of `seed` and `parts`.
pub fn hash(seed: u64, parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(mix(seed ^ 0x9e37_79b9_7f4a_7c15), |h, &p| {
            mix(h ^ mix(p.wrapping_add(0x9e37_79b9_7f4a_7c15)))
        })
}

/// A uniform number in `[0, 1)`.
pub fn unit(seed: u64, parts: &[u64]) -> f64 {
    (hash(seed, parts) >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform number in `[low, high)`.
pub fn uniform(seed: u64, parts: &[u64], low: f64, high: f64) -> f64 {
    low + (high - low) * unit(seed, parts)
}

/// A standard normal number (Box–Muller over two uniforms).
pub fn normal(seed: u64, parts: &[u64]) -> f64 {
    let h = hash(seed, parts);
    let u1 = ((h >> 11) as f64 + 1.0) / ((1u64 << 53) as f64 + 1.0);
    let u2 = unit(h, &[1]);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Smooth noise in `[-1, 1]` along `x`: random values at whole `x`, eased in between.
/// Neighbouring `x` give neighbouring values, which makes weather and episodes last.
pub fn smooth(seed: u64, parts: &[u64], x: f64) -> f64 {
    let cell = x.floor();
    let t = x - cell;
    let ease = t * t * (3.0 - 2.0 * t);
    let at = |c: f64| {
        let mut key = parts.to_vec();
        key.push(c as i64 as u64);
        2.0 * unit(seed, &key) - 1.0
    };
    at(cell) * (1.0 - ease) + at(cell + 1.0) * ease
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_same_numbers_and_parts_matter() {
        assert_eq!(hash(7, &[1, 2]), hash(7, &[1, 2]));
        assert_ne!(hash(7, &[1, 2]), hash(7, &[2, 1]));
        assert_ne!(hash(7, &[1, 2]), hash(8, &[1, 2]));
        assert_ne!(tag("pm25"), tag("pm10"));
    }

    #[test]
    fn distributions_have_the_expected_moments() {
        let n = 20_000u64;
        let units: Vec<f64> = (0..n).map(|i| unit(1, &[i])).collect();
        assert!(units.iter().all(|u| (0.0..1.0).contains(u)));
        let mean = units.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        let normals: Vec<f64> = (0..n).map(|i| normal(1, &[i])).collect();
        let mean = normals.iter().sum::<f64>() / n as f64;
        let var = normals.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }

    #[test]
    fn smooth_noise_is_bounded_and_continuous() {
        let mut last = smooth(3, &[9], 0.0);
        for i in 1..10_000 {
            let v = smooth(3, &[9], i as f64 * 0.01);
            assert!((-1.0..=1.0).contains(&v));
            assert!((v - last).abs() < 0.1, "jump at {i}");
            last = v;
        }
    }
}
