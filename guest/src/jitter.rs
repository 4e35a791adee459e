//! Deterministic randomness: every "random" number Backstop uses is a pure
//! function of a seed and an attempt number, so schedules are reproducible in
//! every host and by hand.
//!
//! - `unit(seed, attempt)` = `splitmix64(seed XOR (attempt × 0x9E3779B97F4A7C15)) >> 11`, divided by 2^53:
//!   a float in `[0, 1)`.
//! - `derive_seed(key)` = 64-bit FNV-1a of the key's UTF-8 bytes (the default
//!   key is `"<run id>/<step>"`).

/// SplitMix64's output function (Steele, Lea, Flood 2014; the `java.util.SplittableRandom` mixer).
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform float in `[0, 1)` for this seed and attempt.
pub fn unit(seed: u64, attempt: u32) -> f64 {
    let x = splitmix64(seed ^ u64::from(attempt).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// `floor(u × n)` for `u` in `[0, 1)`: an integer in `[0, n)`, or 0 when `n` is 0.
pub fn below(u: f64, n: u64) -> u64 {
    ((u * n as f64) as u64).min(n.saturating_sub(1))
}

/// 64-bit FNV-1a.
pub fn derive_seed(key: &str) -> u64 {
    key.bytes().fold(0xCBF2_9CE4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Reference values: SplitMix64 seeded with 0 yields 0xE220A8397B1DCDAF first.
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(derive_seed(""), 0xCBF2_9CE4_8422_2325);
        assert_eq!(derive_seed("a"), 0xAF63_DC4C_8601_EC8C);
    }

    #[test]
    fn unit_is_in_range_and_varies() {
        let values: Vec<f64> = (1..1000).map(|a| unit(42, a)).collect();
        assert!(values.iter().all(|u| (0.0..1.0).contains(u)));
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert!((0.45..0.55).contains(&mean), "{mean}");
        assert_ne!(unit(1, 1), unit(2, 1));
    }

    #[test]
    fn below_stays_below() {
        assert_eq!(below(0.999_999_999_999, 10), 9);
        assert_eq!(below(0.5, 0), 0);
        assert_eq!(below(0.0, 1), 0);
    }
}
