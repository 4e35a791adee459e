//! Reading the policy's `[retry]` section into a [`RetryConfig`], with every
//! problem reported at its location.

use super::backoff::Jitter;
use crate::breaker::BreakerConfig;
use crate::budget::BudgetConfig;
use crate::document::Node;
use crate::error::ErrorCode;
use crate::schema::{Validator, format_ms};

/// Longest duration any setting accepts: 30 days.
pub const MAX_DURATION_MS: u64 = 30 * 86_400_000;

#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Total attempts (the first included) for transient failures.
    pub max_attempts: u32,
    /// Total attempts for failures classified `unknown` (never above `max_attempts`).
    pub unknown_max_attempts: u32,
    pub base_delay_ms: u64,
    pub multiplier: f64,
    pub max_delay_ms: u64,
    pub jitter: Jitter,
    pub jitter_fraction: f64,
    pub attempt_timeout_ms: Option<u64>,
    pub deadline_ms: Option<u64>,
    pub max_pushback_ms: u64,
    pub breaker: Option<BreakerConfig>,
    pub budget: Option<BudgetConfig>,
}

impl Default for RetryConfig {
    /// The seed guide's batch defaults: 5 attempts, 1 s doubling to 30 s, +25% jitter.
    fn default() -> Self {
        RetryConfig {
            max_attempts: 5,
            unknown_max_attempts: 3,
            base_delay_ms: 1_000,
            multiplier: 2.0,
            max_delay_ms: 30_000,
            jitter: Jitter::Additive,
            jitter_fraction: 0.25,
            attempt_timeout_ms: None,
            deadline_ms: None,
            max_pushback_ms: 300_000,
            breaker: None,
            budget: None,
        }
    }
}

const RETRY_FIELDS: &[&str] = &[
    "max_attempts",
    "unknown_max_attempts",
    "base_delay",
    "multiplier",
    "max_delay",
    "jitter",
    "jitter_fraction",
    "attempt_timeout",
    "deadline",
    "max_pushback",
    "circuit_breaker",
    "budget",
];

impl RetryConfig {
    pub fn read(v: &mut Validator<'_>, node: &Node) -> RetryConfig {
        let mut c = RetryConfig::default();
        let Some(t) = v.table("retry", node, RETRY_FIELDS) else {
            return c;
        };
        let max_u32 = i64::from(u32::MAX);
        if let Some(n) = t.get("max_attempts") {
            c.max_attempts = v
                .integer("retry.max_attempts", n, 1, max_u32)
                .map_or(c.max_attempts, |n| n as u32);
        }
        let unknown_given = t.get("unknown_max_attempts").and_then(|n| {
            v.integer("retry.unknown_max_attempts", n, 1, max_u32)
                .map(|k| (k as u32, n.offset))
        });
        if let Some(n) = t.get("base_delay") {
            c.base_delay_ms = v
                .duration_ms("retry.base_delay", n, 0, MAX_DURATION_MS)
                .unwrap_or(c.base_delay_ms);
        }
        if let Some(n) = t.get("multiplier") {
            c.multiplier = v
                .number("retry.multiplier", n, 1.0, 100.0)
                .unwrap_or(c.multiplier);
        }
        let max_delay_given = t.get("max_delay").and_then(|n| {
            v.duration_ms("retry.max_delay", n, 0, MAX_DURATION_MS)
                .map(|ms| (ms, n.offset))
        });
        if let Some(n) = t.get("jitter")
            && let Some(text) = v.string("retry.jitter", n)
        {
            match Jitter::ALL.iter().find(|j| j.as_str() == text) {
                Some(j) => c.jitter = *j,
                None => v.report(
                    ErrorCode::InvalidValue,
                    "retry.jitter",
                    n.offset,
                    format!("`{text}` is not a jitter mode; expected none, full, equal, decorrelated or additive"),
                ),
            }
        }
        if let Some(n) = t.get("jitter_fraction") {
            c.jitter_fraction = v
                .number("retry.jitter_fraction", n, 0.0, 1.0)
                .unwrap_or(c.jitter_fraction);
        }
        if let Some(n) = t.get("attempt_timeout") {
            c.attempt_timeout_ms = v.duration_ms("retry.attempt_timeout", n, 1, MAX_DURATION_MS);
        }
        if let Some(n) = t.get("deadline") {
            c.deadline_ms = v.duration_ms("retry.deadline", n, 1, MAX_DURATION_MS);
        }
        if let Some(n) = t.get("max_pushback") {
            c.max_pushback_ms = v
                .duration_ms("retry.max_pushback", n, 0, MAX_DURATION_MS)
                .unwrap_or(c.max_pushback_ms);
        }
        if let Some(n) = t.get("circuit_breaker") {
            c.breaker = BreakerConfig::read(v, "retry.circuit_breaker", n);
        }
        if let Some(n) = t.get("budget") {
            c.budget = BudgetConfig::read(v, "retry.budget", n);
        }
        match max_delay_given {
            Some((ms, offset)) if ms < c.base_delay_ms => v.report(
                ErrorCode::OutOfRange,
                "retry.max_delay",
                offset,
                format!(
                    "max_delay ({}) is below base_delay ({})",
                    format_ms(ms),
                    format_ms(c.base_delay_ms)
                ),
            ),
            Some((ms, _)) => c.max_delay_ms = ms,
            // An unset cap never undercuts the base delay.
            None => c.max_delay_ms = c.max_delay_ms.max(c.base_delay_ms),
        }
        match unknown_given {
            Some((k, offset)) if k > c.max_attempts => v.report(
                ErrorCode::OutOfRange,
                "retry.unknown_max_attempts",
                offset,
                format!(
                    "unknown_max_attempts ({k}) exceeds max_attempts ({})",
                    c.max_attempts
                ),
            ),
            Some((k, _)) => c.unknown_max_attempts = k,
            None => c.unknown_max_attempts = c.unknown_max_attempts.min(c.max_attempts),
        }
        c
    }
}
