//! Circuit breaker: stop hammering a dependency that keeps failing. The state
//! is a plain value the host persists (and may share between processes); every
//! transition is a pure function of (config, state, event, now).

use crate::document::Node;
use crate::error::{ErrorCode, PolicyError};
use crate::schema::{Validator, join};

/// Most outcomes the failure-rate window can hold (it is a 64-bit mask).
pub const MAX_WINDOW: u32 = 64;

#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    /// Open after this many consecutive failures.
    pub consecutive_failures: u32,
    /// Open when the failure rate over the last `window` outcomes reaches this
    /// (once at least `minimum_calls` are recorded). `None` disables it.
    pub failure_rate: Option<f64>,
    pub window: u32,
    pub minimum_calls: u32,
    /// How long the circuit stays open before probes are allowed.
    pub open_for_ms: u64,
    /// Probes allowed while half-open; this many successes close the circuit.
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            consecutive_failures: 5,
            failure_rate: None,
            window: 20,
            minimum_calls: 10,
            open_for_ms: 30_000,
            half_open_probes: 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Circuit {
    #[default]
    Closed,
    Open,
    HalfOpen,
}

/// The breaker's state. All-zero (`Default`) is a closed, empty breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BreakerState {
    pub circuit: Circuit,
    pub consecutive_failures: u32,
    /// The most recent outcomes, newest in bit 0; a set bit is a failure.
    pub recent_outcomes: u64,
    /// How many bits of `recent_outcomes` are meaningful (at most the window).
    pub recent_count: u32,
    /// When the current open (or half-open) phase began.
    pub opened_at_ms: u64,
    pub probes_started: u32,
    pub probes_succeeded: u32,
}

/// Whether an attempt may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// Allowed as one of the half-open probes.
    Probe,
    /// The circuit is open; `retry_after_ms` until probes are allowed.
    Rejected {
        retry_after_ms: u64,
    },
}

impl BreakerConfig {
    pub fn read(v: &mut Validator<'_>, path: &str, node: &Node) -> Option<BreakerConfig> {
        const FIELDS: &[&str] = &[
            "consecutive_failures",
            "failure_rate",
            "window",
            "minimum_calls",
            "open_for",
            "half_open_probes",
        ];
        let table = v.table(path, node, FIELDS)?;
        let before = v.errors.len();
        let mut c = BreakerConfig::default();
        let window_max = i64::from(MAX_WINDOW);
        // Every field is checked (not just up to the first problem), so one
        // run of `backstop check` reports them all.
        let int = |v: &mut Validator<'_>, key: &str, min: i64, max: i64| {
            table
                .get(key)
                .and_then(|n| v.integer(&join(path, key), n, min, max))
                .map(|k| k as u32)
        };
        if let Some(k) = int(v, "consecutive_failures", 1, 1_000_000) {
            c.consecutive_failures = k;
        }
        if let Some(k) = int(v, "window", 1, window_max) {
            c.window = k;
        }
        if let Some(k) = int(v, "minimum_calls", 1, window_max) {
            c.minimum_calls = k;
        }
        if let Some(k) = int(v, "half_open_probes", 1, 1_000) {
            c.half_open_probes = k;
        }
        if let Some(n) = table.get("failure_rate") {
            c.failure_rate = v.number(&join(path, "failure_rate"), n, 0.01, 1.0);
        }
        if let Some(n) = table.get("open_for")
            && let Some(ms) = v.duration_ms(&join(path, "open_for"), n, 1, 30 * 86_400_000)
        {
            c.open_for_ms = ms;
        }
        if c.minimum_calls > c.window {
            let at = table
                .get("minimum_calls")
                .map_or(table.offset, |n| n.offset);
            v.report(
                ErrorCode::OutOfRange,
                &join(path, "minimum_calls"),
                at,
                format!(
                    "minimum_calls ({}) exceeds window ({})",
                    c.minimum_calls, c.window
                ),
            );
        }
        (v.errors.len() == before).then_some(c)
    }

    /// Reject states no sequence of transitions can produce.
    pub fn check(&self, state: &BreakerState, path: &str) -> Result<(), PolicyError> {
        let invalid = |field: &str, message: String| {
            Err(PolicyError::new(
                ErrorCode::InvalidState,
                format!("{path}.{field}"),
                message,
            ))
        };
        if state.recent_count > MAX_WINDOW {
            return invalid(
                "recent_count",
                format!(
                    "{} exceeds the largest window, {MAX_WINDOW}",
                    state.recent_count
                ),
            );
        }
        if state.probes_succeeded > state.probes_started {
            return invalid(
                "probes_succeeded",
                format!(
                    "{} probes succeeded but only {} started",
                    state.probes_succeeded, state.probes_started
                ),
            );
        }
        Ok(())
    }

    /// Before an attempt: may it start now? Moves an open circuit whose time
    /// is up to half-open and counts the probe it admits.
    pub fn admit(&self, state: &mut BreakerState, now_ms: u64) -> Admission {
        if state.circuit == Circuit::Open {
            let reopens_at = state.opened_at_ms.saturating_add(self.open_for_ms);
            // A clock that went backwards (now < opened_at) keeps the circuit
            // open for at most one full `open_for` from now.
            let reopens_at = reopens_at.min(now_ms.saturating_add(self.open_for_ms));
            if now_ms < reopens_at {
                return Admission::Rejected {
                    retry_after_ms: reopens_at - now_ms,
                };
            }
            self.half_open(state, now_ms);
        }
        if state.circuit == Circuit::HalfOpen && state.probes_started >= self.half_open_probes {
            // Every probe is out. A probe whose verdict never came (its host
            // crashed) must not hold the circuit forever: after `open_for` the
            // probes are given out again.
            let lease_ends = state
                .opened_at_ms
                .saturating_add(self.open_for_ms)
                .min(now_ms.saturating_add(self.open_for_ms));
            if now_ms < lease_ends {
                return Admission::Rejected {
                    retry_after_ms: lease_ends - now_ms,
                };
            }
            self.half_open(state, now_ms);
        }
        match state.circuit {
            Circuit::HalfOpen => {
                state.probes_started += 1;
                Admission::Probe
            }
            _ => Admission::Allowed,
        }
    }

    /// Start a half-open phase; `opened_at_ms` marks when the current phase began.
    fn half_open(&self, state: &mut BreakerState, now_ms: u64) {
        state.circuit = Circuit::HalfOpen;
        state.opened_at_ms = now_ms;
        state.probes_started = 0;
        state.probes_succeeded = 0;
    }

    pub fn record_failure(&self, state: &mut BreakerState, now_ms: u64) {
        match state.circuit {
            Circuit::HalfOpen | Circuit::Open => self.open(state, now_ms),
            Circuit::Closed => {
                state.consecutive_failures = state.consecutive_failures.saturating_add(1);
                self.push(state, true);
                if state.consecutive_failures >= self.consecutive_failures
                    || self.rate_tripped(state)
                {
                    self.open(state, now_ms);
                }
            }
        }
    }

    pub fn record_success(&self, state: &mut BreakerState) {
        match state.circuit {
            Circuit::HalfOpen => {
                // Only probes count: a late success from an attempt admitted
                // before the circuit opened does not close it.
                if state.probes_succeeded >= state.probes_started {
                    return;
                }
                state.probes_succeeded += 1;
                if state.probes_succeeded >= self.half_open_probes {
                    *state = BreakerState::default();
                }
            }
            // A success reported while open (an attempt admitted before it
            // opened) does not close it early.
            Circuit::Open => {}
            Circuit::Closed => {
                state.consecutive_failures = 0;
                self.push(state, false);
            }
        }
    }

    fn open(&self, state: &mut BreakerState, now_ms: u64) {
        *state = BreakerState {
            circuit: Circuit::Open,
            opened_at_ms: now_ms,
            ..BreakerState::default()
        };
    }

    fn push(&self, state: &mut BreakerState, failure: bool) {
        state.recent_outcomes = (state.recent_outcomes << 1) | u64::from(failure);
        state.recent_count = (state.recent_count + 1).min(self.window);
    }

    fn rate_tripped(&self, state: &BreakerState) -> bool {
        let Some(threshold) = self.failure_rate else {
            return false;
        };
        let count = state.recent_count.min(self.window);
        if count < self.minimum_calls {
            return false;
        }
        let mask = if count >= 64 {
            u64::MAX
        } else {
            (1u64 << count) - 1
        };
        let failures = (state.recent_outcomes & mask).count_ones();
        f64::from(failures) / f64::from(count) >= threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_then_probes_and_closes() {
        let c = BreakerConfig {
            consecutive_failures: 3,
            open_for_ms: 1_000,
            ..Default::default()
        };
        let mut s = BreakerState::default();
        for t in 0..2 {
            c.record_failure(&mut s, t);
            assert_eq!(c.admit(&mut s, t), Admission::Allowed);
        }
        c.record_failure(&mut s, 10);
        assert_eq!(s.circuit, Circuit::Open);
        assert_eq!(
            c.admit(&mut s, 500),
            Admission::Rejected {
                retry_after_ms: 510
            }
        );
        assert_eq!(c.admit(&mut s, 1_010), Admission::Probe);
        assert_eq!(
            c.admit(&mut s, 1_011),
            Admission::Rejected {
                retry_after_ms: 999
            }
        );
        c.record_success(&mut s);
        assert_eq!(s, BreakerState::default());
    }

    #[test]
    fn a_failed_probe_reopens() {
        let c = BreakerConfig {
            consecutive_failures: 1,
            open_for_ms: 100,
            ..Default::default()
        };
        let mut s = BreakerState::default();
        c.record_failure(&mut s, 0);
        assert_eq!(c.admit(&mut s, 100), Admission::Probe);
        c.record_failure(&mut s, 150);
        assert_eq!(s.circuit, Circuit::Open);
        assert_eq!(s.opened_at_ms, 150);
    }

    #[test]
    fn failure_rate_over_the_window() {
        let c = BreakerConfig {
            consecutive_failures: 1_000,
            failure_rate: Some(0.5),
            window: 4,
            minimum_calls: 4,
            ..Default::default()
        };
        let mut s = BreakerState::default();
        c.record_failure(&mut s, 0);
        c.record_success(&mut s);
        c.record_failure(&mut s, 0);
        assert_eq!(s.circuit, Circuit::Closed, "3 calls < minimum_calls");
        c.record_success(&mut s);
        c.record_failure(&mut s, 0);
        assert_eq!(s.circuit, Circuit::Open, "2 of the last 4 failed");
    }

    #[test]
    fn a_probe_that_never_reports_is_replaced_after_open_for() {
        let c = BreakerConfig {
            consecutive_failures: 1,
            open_for_ms: 100,
            ..Default::default()
        };
        let mut s = BreakerState::default();
        c.record_failure(&mut s, 0);
        assert_eq!(c.admit(&mut s, 100), Admission::Probe);
        assert_eq!(
            c.admit(&mut s, 150),
            Admission::Rejected { retry_after_ms: 50 }
        );
        assert_eq!(c.admit(&mut s, 200), Admission::Probe);
        assert_eq!(s.probes_started, 1);
    }

    #[test]
    fn a_clock_going_backwards_does_not_keep_it_open_forever() {
        let c = BreakerConfig {
            consecutive_failures: 1,
            open_for_ms: 100,
            ..Default::default()
        };
        let mut s = BreakerState::default();
        c.record_failure(&mut s, 1_000_000);
        assert_eq!(
            c.admit(&mut s, 5),
            Admission::Rejected {
                retry_after_ms: 100
            }
        );
    }
}
