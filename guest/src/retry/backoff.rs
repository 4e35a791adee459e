//! The backoff and jitter maths: the wait after failed attempt `n`, before
//! and after jitter (a documented function of the seed and `n`, see
//! [`crate::jitter`]).

use super::config::RetryConfig;
use crate::jitter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// `d`
    None,
    /// `floor(u × d)`
    Full,
    /// `floor(d / 2) + floor(u × (d − floor(d / 2)))`
    Equal,
    /// `min(max_delay, base + floor(u × (max(3 × previous, base) − base)))`
    Decorrelated,
    /// `d + floor(u × fraction × d)`
    Additive,
}

impl Jitter {
    pub fn as_str(self) -> &'static str {
        match self {
            Jitter::None => "none",
            Jitter::Full => "full",
            Jitter::Equal => "equal",
            Jitter::Decorrelated => "decorrelated",
            Jitter::Additive => "additive",
        }
    }

    pub(super) const ALL: [Jitter; 5] = [
        Jitter::None,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
        Jitter::Additive,
    ];
}

impl RetryConfig {
    /// The backoff after failed attempt `n` (1-based) before jitter:
    /// `min(max_delay, base × multiplier^(n−1))`.
    pub fn backoff_ms(&self, n: u32) -> u64 {
        if self.base_delay_ms == 0 {
            return 0;
        }
        // multiplier ≥ 1, so past ~1100 doublings every value is already capped;
        // bounding the exponent keeps the float finite.
        let exponent = n.saturating_sub(1).min(1_100) as i32;
        let raw = self.base_delay_ms as f64 * self.multiplier.powi(exponent);
        if !raw.is_finite() || raw >= self.max_delay_ms as f64 {
            self.max_delay_ms
        } else {
            raw as u64
        }
    }

    /// The wait after failed attempt `n`, jitter applied (see [`Jitter`]).
    pub fn delay_ms(&self, n: u32, seed: u64, previous_delay_ms: u64) -> u64 {
        let u = jitter::unit(seed, n);
        let d = self.backoff_ms(n);
        match self.jitter {
            Jitter::None => d,
            Jitter::Full => jitter::below(u, d),
            Jitter::Equal => d / 2 + jitter::below(u, d - d / 2),
            Jitter::Decorrelated => {
                let base = self.base_delay_ms;
                let previous = if previous_delay_ms == 0 {
                    base
                } else {
                    previous_delay_ms
                };
                let upper = previous.saturating_mul(3).max(base);
                base.saturating_add(jitter::below(u, upper - base))
                    .min(self.max_delay_ms.max(base))
            }
            Jitter::Additive => {
                let spread = (self.jitter_fraction * d as f64) as u64;
                d.saturating_add(jitter::below(u, spread))
            }
        }
    }

    /// Inclusive bounds every delay after attempt `n` falls within (for tests and docs).
    pub fn delay_bounds_ms(&self, n: u32) -> (u64, u64) {
        let d = self.backoff_ms(n);
        match self.jitter {
            Jitter::None => (d, d),
            Jitter::Full => (0, d),
            Jitter::Equal => (d / 2, d),
            Jitter::Decorrelated => (
                self.base_delay_ms,
                self.max_delay_ms.max(self.base_delay_ms),
            ),
            Jitter::Additive => (
                d,
                d.saturating_add((self.jitter_fraction * d as f64) as u64),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_at_base_and_caps() {
        let c = RetryConfig {
            jitter: Jitter::None,
            max_delay_ms: 20_000,
            ..Default::default()
        };
        let delays: Vec<u64> = (1..=7).map(|n| c.backoff_ms(n)).collect();
        assert_eq!(delays, [1_000, 2_000, 4_000, 8_000, 16_000, 20_000, 20_000]);
        assert_eq!(c.backoff_ms(u32::MAX), 20_000);
    }

    #[test]
    fn decorrelated_stays_finite_and_bounded_after_many_attempts() {
        let c = RetryConfig {
            jitter: Jitter::Decorrelated,
            max_attempts: u32::MAX,
            ..Default::default()
        };
        let mut previous = 0;
        for n in 1..=10_000 {
            previous = c.delay_ms(n, 7, previous);
            assert!((1_000..=30_000).contains(&previous), "{n}: {previous}");
        }
    }
}
