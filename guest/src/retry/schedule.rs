//! The dry-run schedule: the attempts a policy would make if every one
//! failed, computed by driving the planner itself.

use super::config::RetryConfig;
use super::planner::{AttemptFailure, GiveUp, RetryState, SharedState};
use crate::classify::{Classification, FailureClass};

/// Most attempts a dry-run schedule lists.
pub const MAX_SCHEDULE: u32 = 10_000;

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

impl RetryConfig {
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
    use crate::retry::Jitter;

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
}
