//! The retry planner: after a failed attempt, retry after how long (and with
//! what timeout), or give up and why. Pure: `now`, the seed and all state come
//! in as arguments; the next state goes out.

use crate::breaker::{Admission, BreakerConfig, BreakerState};
use crate::budget::{BudgetConfig, BudgetState};
use crate::classify::{Classification, Failure, FailureClass};
use crate::document::Node;
use crate::error::{ErrorCode, PolicyError};
use crate::jitter;
use crate::schema::{Validator, format_ms};

/// Longest duration any setting accepts: 30 days.
pub const MAX_DURATION_MS: u64 = 30 * 86_400_000;
/// Most attempts a dry-run schedule lists.
pub const MAX_SCHEDULE: u32 = 10_000;

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

    const ALL: [Jitter; 5] = [
        Jitter::None,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
        Jitter::Additive,
    ];
}

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

/// Progress of one operation's attempts. All-zero (`Default`) is a fresh start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryState {
    /// Attempts started so far (`begin_attempt` counts them).
    pub attempts: u32,
    /// When the first attempt started (host clock, ms); `None` before it has.
    pub started_at_ms: Option<u64>,
    /// The previous wait (for decorrelated jitter).
    pub last_delay_ms: u64,
    pub seed: u64,
}

/// State shared by every operation against one dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SharedState {
    pub breaker: BreakerState,
    pub budget: BudgetState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    Permanent,
    AttemptsExhausted,
    Deadline,
    PushbackBeyondDeadline,
    CircuitOpen,
    BudgetExhausted,
}

impl GiveUp {
    pub fn as_str(self) -> &'static str {
        match self {
            GiveUp::Permanent => "permanent",
            GiveUp::AttemptsExhausted => "attempts-exhausted",
            GiveUp::Deadline => "deadline",
            GiveUp::PushbackBeyondDeadline => "pushback-beyond-deadline",
            GiveUp::CircuitOpen => "circuit-open",
            GiveUp::BudgetExhausted => "budget-exhausted",
        }
    }
}

/// Whether the next attempt may start, and its timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit {
    /// `None` when it may start; otherwise why not (`CircuitOpen` or `Deadline`).
    pub refused: Option<GiveUp>,
    /// The attempt about to start (1-based).
    pub attempt: u32,
    /// Its timeout: `attempt_timeout`, clamped to what remains of the deadline.
    pub timeout_ms: Option<u64>,
    /// When refused by an open circuit: how long until it half-opens.
    pub retry_after_ms: u64,
    /// Whether this attempt is a half-open probe.
    pub probe: bool,
    pub state: RetryState,
    pub shared: SharedState,
}

/// The outcome of a failed attempt, as the host observed it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttemptFailure {
    pub failure: Failure,
    pub duration_ms: u64,
    /// Server pushback (Retry-After, `grpc-retry-pushback-ms`), in ms.
    pub pushback_ms: Option<u64>,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// `None`: retry after `delay_ms`; otherwise give up for this reason.
    pub give_up: Option<GiveUp>,
    pub delay_ms: u64,
    /// The attempt that failed (1-based).
    pub attempt: u32,
    /// The next attempt's timeout when retrying.
    pub next_timeout_ms: Option<u64>,
    pub classification: Classification,
    /// One human sentence: what was decided and why.
    pub explanation: String,
    pub state: RetryState,
    pub shared: SharedState,
}

/// One row of a dry-run schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedAttempt {
    pub attempt: u32,
    /// Wait before this attempt (0 for the first).
    pub delay_ms: u64,
    pub timeout_ms: Option<u64>,
    /// Offset of its start from the first attempt's.
    pub start_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub attempts: Vec<PlannedAttempt>,
    /// Why the schedule ends; `None` when it was cut at the requested length.
    pub ends_with: Option<GiveUp>,
}

fn invalid_state(field: &str, message: String) -> PolicyError {
    PolicyError::new(ErrorCode::InvalidState, field, message)
}

impl RetryConfig {
    fn check_state(&self, state: &RetryState, shared: &SharedState) -> Result<(), PolicyError> {
        if state.attempts == u32::MAX {
            return Err(invalid_state(
                "state.attempts",
                format!("{} attempts is the most a state can count", u32::MAX),
            ));
        }
        if let Some(b) = &self.breaker {
            b.check(&shared.breaker, "shared.breaker")?;
        }
        Ok(())
    }

    fn remaining_ms(&self, started_at_ms: u64, now_ms: u64) -> Option<u64> {
        // A clock that went backwards counts as no time having passed.
        let elapsed = now_ms.saturating_sub(started_at_ms);
        self.deadline_ms.map(|d| d.saturating_sub(elapsed))
    }

    fn clamp_timeout(&self, remaining_ms: Option<u64>) -> Option<u64> {
        match (self.attempt_timeout_ms, remaining_ms) {
            (Some(t), Some(r)) => Some(t.min(r)),
            (t, r) => t.or(r),
        }
    }

    /// Before an attempt: consult the breaker and the deadline; the permit
    /// carries the attempt's timeout.
    pub fn begin_attempt(
        &self,
        state: &RetryState,
        shared: &SharedState,
        now_ms: u64,
    ) -> Result<Permit, PolicyError> {
        self.check_state(state, shared)?;
        let mut shared = *shared;
        let mut state = *state;
        let attempt = state.attempts + 1;
        let started = state.started_at_ms.unwrap_or(now_ms);
        let remaining = self.remaining_ms(started, now_ms);
        let mut permit = Permit {
            refused: None,
            attempt,
            timeout_ms: None,
            retry_after_ms: 0,
            probe: false,
            state,
            shared,
        };
        if remaining == Some(0) {
            permit.refused = Some(GiveUp::Deadline);
            return Ok(permit);
        }
        if let Some(breaker) = &self.breaker {
            match breaker.admit(&mut shared.breaker, now_ms) {
                Admission::Allowed => {}
                Admission::Probe => permit.probe = true,
                Admission::Rejected { retry_after_ms } => {
                    permit.refused = Some(GiveUp::CircuitOpen);
                    permit.retry_after_ms = retry_after_ms;
                    permit.shared = shared;
                    return Ok(permit);
                }
            }
        }
        state.attempts = attempt;
        state.started_at_ms = Some(started);
        permit.timeout_ms = self.clamp_timeout(remaining);
        permit.state = state;
        permit.shared = shared;
        Ok(permit)
    }

    /// After a failed attempt: retry after how long, or give up and why.
    pub fn after_failure(
        &self,
        classification: Classification,
        state: &RetryState,
        shared: &SharedState,
        outcome: &AttemptFailure,
        now_ms: u64,
    ) -> Result<Decision, PolicyError> {
        self.check_state(state, shared)?;
        let mut shared = *shared;
        // The attempt that failed; a host that skipped `begin_attempt` on a
        // fresh state is reporting attempt 1.
        let attempt = state.attempts.max(1);
        let started = state
            .started_at_ms
            .unwrap_or_else(|| now_ms.saturating_sub(outcome.duration_ms));
        let class = classification.class;
        if class == FailureClass::Permanent {
            // A permanent failure is the caller's fault, and it proves the
            // dependency answered: for the breaker it is a success (which also
            // settles a half-open probe). The budget is left alone.
            if let Some(b) = &self.breaker {
                b.record_success(&mut shared.breaker);
            }
        } else {
            if let Some(b) = &self.breaker {
                b.record_failure(&mut shared.breaker, now_ms);
            }
            if let Some(b) = &self.budget {
                b.record_failure(&mut shared.budget);
            }
        }
        let limit = match class {
            FailureClass::Unknown => self.unknown_max_attempts,
            _ => self.max_attempts,
        };
        let remaining = self.remaining_ms(started, now_ms);
        let mut give_up = None;
        let mut delay = 0;
        let mut detail = String::new();
        if class == FailureClass::Permanent {
            give_up = Some(GiveUp::Permanent);
        } else if attempt >= limit {
            give_up = Some(GiveUp::AttemptsExhausted);
            detail = format!(
                "{attempt} of {limit} attempts used for {} failures",
                class.as_str()
            );
        } else if self.breaker.is_some() && shared.breaker.circuit == crate::breaker::Circuit::Open
        {
            give_up = Some(GiveUp::CircuitOpen);
        } else if self
            .budget
            .as_ref()
            .is_some_and(|b| !b.allows_retry(&shared.budget))
        {
            give_up = Some(GiveUp::BudgetExhausted);
        } else if let Some(pushback) = outcome.pushback_ms {
            delay = pushback.min(self.max_pushback_ms);
            if remaining.is_some_and(|r| delay >= r) {
                give_up = Some(GiveUp::PushbackBeyondDeadline);
                detail = format!(
                    "the server asked for {} but only {} of the deadline remain",
                    format_ms(delay),
                    format_ms(remaining.unwrap_or(0))
                );
            } else {
                detail = format!("server pushback of {}", format_ms(delay));
            }
        } else {
            delay = self.delay_ms(attempt, state.seed, state.last_delay_ms);
            if remaining.is_some_and(|r| delay >= r) {
                give_up = Some(GiveUp::Deadline);
                detail = format!(
                    "a wait of {} would start attempt {} past the deadline ({} remain)",
                    format_ms(delay),
                    attempt.saturating_add(1),
                    format_ms(remaining.unwrap_or(0))
                );
            }
        }
        let next_timeout_ms = match give_up {
            None => self.clamp_timeout(remaining.map(|r| r - delay)),
            Some(_) => None,
        };
        let explanation = match give_up {
            None => format!(
                "attempt {attempt} failed ({}); retry in {}{}",
                class.as_str(),
                format_ms(delay),
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({detail})")
                }
            ),
            Some(reason) => format!(
                "attempt {attempt} failed ({}); give up: {}{}",
                class.as_str(),
                reason.as_str(),
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({detail})")
                }
            ),
        };
        Ok(Decision {
            give_up,
            delay_ms: if give_up.is_some() { 0 } else { delay },
            attempt,
            next_timeout_ms,
            classification,
            explanation,
            state: RetryState {
                attempts: attempt,
                started_at_ms: Some(started),
                last_delay_ms: if give_up.is_some() {
                    state.last_delay_ms
                } else {
                    delay
                },
                seed: state.seed,
            },
            shared,
        })
    }

    /// After a successful attempt: close a half-open circuit, refill the budget.
    pub fn after_success(&self, shared: &SharedState) -> Result<SharedState, PolicyError> {
        if let Some(b) = &self.breaker {
            b.check(&shared.breaker, "shared.breaker")?;
        }
        let mut shared = *shared;
        if let Some(b) = &self.breaker {
            b.record_success(&mut shared.breaker);
        }
        if let Some(b) = &self.budget {
            b.record_success(&mut shared.budget);
        }
        Ok(shared)
    }

    /// A dry run: the attempts this policy would make if every attempt failed
    /// transiently after running for its full timeout (instantly when there is
    /// none), with no pushback, breaker or budget in play.
    pub fn schedule(&self, seed: u64, max_entries: u32) -> Schedule {
        let max_entries = max_entries.clamp(1, MAX_SCHEDULE);
        let transient = Classification {
            class: FailureClass::Transient,
            rule: None,
            reason: String::new(),
        };
        let planner = RetryConfig {
            breaker: None,
            budget: None,
            ..self.clone()
        };
        let mut state = RetryState {
            seed,
            ..RetryState::default()
        };
        let shared = SharedState::default();
        let first = planner
            .begin_attempt(&state, &shared, 0)
            .expect("a fresh state is valid");
        state = first.state;
        let mut attempts = vec![PlannedAttempt {
            attempt: 1,
            delay_ms: 0,
            timeout_ms: first.timeout_ms,
            start_ms: 0,
        }];
        loop {
            let current = *attempts.last().expect("starts with one");
            if current.attempt >= max_entries {
                return Schedule {
                    attempts,
                    ends_with: None,
                };
            }
            let duration = current.timeout_ms.unwrap_or(0);
            let now = current.start_ms.saturating_add(duration);
            let outcome = AttemptFailure {
                duration_ms: duration,
                ..AttemptFailure::default()
            };
            let decision = planner
                .after_failure(transient.clone(), &state, &shared, &outcome, now)
                .expect("planner states are valid");
            if let Some(reason) = decision.give_up {
                return Schedule {
                    attempts,
                    ends_with: Some(reason),
                };
            }
            let start_ms = now.saturating_add(decision.delay_ms);
            let permit = planner
                .begin_attempt(&decision.state, &shared, start_ms)
                .expect("planner states are valid");
            state = permit.state;
            attempts.push(PlannedAttempt {
                attempt: permit.attempt,
                delay_ms: decision.delay_ms,
                timeout_ms: permit.timeout_ms,
                start_ms,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient() -> Classification {
        Classification {
            class: FailureClass::Transient,
            rule: None,
            reason: String::new(),
        }
    }

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

    #[test]
    fn never_schedules_past_the_deadline_and_clamps_the_timeout() {
        let c = RetryConfig {
            jitter: Jitter::None,
            attempt_timeout_ms: Some(60_000),
            deadline_ms: Some(100_000),
            max_attempts: 100,
            ..Default::default()
        };
        let s = c.schedule(1, 100);
        assert_eq!(s.ends_with, Some(GiveUp::Deadline));
        for a in &s.attempts {
            assert!(a.start_ms < 100_000);
            assert!(a.start_ms + a.timeout_ms.unwrap() <= 100_000, "{a:?}");
        }
    }

    #[test]
    fn permanent_never_retries() {
        let c = RetryConfig::default();
        let permanent = Classification {
            class: FailureClass::Permanent,
            ..transient()
        };
        let d = c
            .after_failure(
                permanent,
                &RetryState::default(),
                &SharedState::default(),
                &AttemptFailure::default(),
                0,
            )
            .unwrap();
        assert_eq!(d.give_up, Some(GiveUp::Permanent));
    }
}
