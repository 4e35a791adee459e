//! The planner's state machine: before each attempt (breaker and deadline),
//! after a failure (classify, then retry after how long or give up and why),
//! after a success. The state records are plain values the host keeps.

use super::config::RetryConfig;
use super::explain::{Detail, explanation};
use crate::breaker::{Admission, BreakerState, Circuit};
use crate::budget::BudgetState;
use crate::classify::{Classification, Failure, FailureClass};
use crate::error::{ErrorCode, PolicyError};

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

/// What a host may skip for one shared state; see [`RetryConfig::fast_path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FastPath {
    /// `after_success(shared) == Ok(shared)`: a success records nothing.
    pub success_records_nothing: bool,
    /// `begin_attempt` of a fresh state (all zero but its seed) against this
    /// shared state, at any `now_ms`: this permit with `state.started_at_ms`
    /// set to `now_ms` and `state.seed` to the seed passed in.
    pub fresh_permit: Option<Permit>,
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
        let mut detail = Detail::None;
        if class == FailureClass::Permanent {
            give_up = Some(GiveUp::Permanent);
        } else if attempt >= limit {
            give_up = Some(GiveUp::AttemptsExhausted);
            detail = Detail::AttemptsExhausted { limit };
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
            detail = match remaining {
                Some(remaining_ms) if delay >= remaining_ms => {
                    give_up = Some(GiveUp::PushbackBeyondDeadline);
                    Detail::PushbackBeyondDeadline {
                        delay_ms: delay,
                        remaining_ms,
                    }
                }
                _ => Detail::Pushback { delay_ms: delay },
            };
        } else {
            delay = self.delay_ms(attempt, state.seed, state.last_delay_ms);
            if let Some(remaining_ms) = remaining.filter(|&r| delay >= r) {
                give_up = Some(GiveUp::Deadline);
                detail = Detail::Deadline {
                    delay_ms: delay,
                    remaining_ms,
                };
            }
        }
        let next_timeout_ms = match give_up {
            None => self.clamp_timeout(remaining.map(|r| r - delay)),
            Some(_) => None,
        };
        let explanation = explanation(attempt, class, give_up, delay, detail);
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
    /// What a host may skip for `shared`. Both answers are derived by running
    /// the planner's own functions, so a host obeying them makes exactly the
    /// decisions it would make by calling them.
    pub fn fast_path(&self, shared: &SharedState) -> Result<FastPath, PolicyError> {
        let success_records_nothing = self.after_success(shared)? == *shared;
        // Only a closed breaker (or none) admits independently of the clock:
        // an open one half-opens after `open_for`, a half-open one counts probes.
        let clock_free = self
            .breaker
            .as_ref()
            .is_none_or(|_| shared.breaker.circuit == Circuit::Closed);
        let fresh_permit = if clock_free {
            let p = self.begin_attempt(&RetryState::default(), shared, 0)?;
            (p.refused.is_none() && !p.probe && p.shared == *shared).then_some(p)
        } else {
            None
        };
        Ok(FastPath {
            success_records_nothing,
            fresh_permit,
        })
    }

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
