//! What the same failure decides when it repeats: `after_failure` for this
//! failed attempt, then for each further failure of the same failure in a
//! row, as long as those answers cannot depend on the clock. A host keeps the
//! answer for one operation and, while the failure and the states it holds
//! are the ones an entry was computed for, takes the entry instead of calling
//! again; every entry is the planner's own answer, computed by driving it.

use super::config::RetryConfig;
use super::planner::{AttemptFailure, Decision, Permit, RetryState, SharedState};
use crate::breaker::Circuit;
use crate::classify::Classification;
use crate::error::PolicyError;

/// Most entries one answer holds.
pub const MAX_PLANNED_FAILURES: u32 = 64;

/// One failed attempt of a [`RetryConfig::plan_failures`] answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFailure {
    pub decision: Decision,
    /// When the decision retries and the next permit cannot depend on the
    /// clock: `begin_attempt(decision.state, decision.shared, t)` for every `t`.
    pub next_permit: Option<Permit>,
}

impl RetryConfig {
    /// Whether `begin_attempt` and `after_failure` (with a started state)
    /// answer alike at every `now_ms` for this shared state: no deadline
    /// measures the time, and a closed breaker (or none) admits without
    /// looking at it and stays closed unless it opens, which stamps the time.
    fn clock_free(&self, shared: &SharedState) -> bool {
        self.deadline_ms.is_none()
            && self
                .breaker
                .as_ref()
                .is_none_or(|_| shared.breaker.circuit == Circuit::Closed)
    }

    /// Entry 0 is `after_failure(state, shared, outcome, now_ms)`. Entry
    /// `i + 1` exists when entry `i` has a next permit `p` (and `max_entries`
    /// allows): it is `after_failure(p.state, p.shared, o, t)` for every `t`
    /// and every `o` with `outcome`'s failure and pushback (its duration does
    /// not matter once the state is started). The classification is the same
    /// in every entry: a pure function of the policy and the failure.
    pub fn plan_failures(
        &self,
        classification: Classification,
        state: &RetryState,
        shared: &SharedState,
        outcome: &AttemptFailure,
        now_ms: u64,
        max_entries: u32,
    ) -> Result<Vec<PlannedFailure>, PolicyError> {
        let max_entries = max_entries.clamp(1, MAX_PLANNED_FAILURES) as usize;
        let first = self.after_failure(classification.clone(), state, shared, outcome, now_ms)?;
        let mut entries = vec![PlannedFailure {
            next_permit: self.next_permit(&first)?,
            decision: first,
        }];
        while entries.len() < max_entries {
            let Some(permit) = entries.last().and_then(|e| e.next_permit.as_ref()) else {
                break;
            };
            let decision = self.after_failure(
                classification.clone(),
                &permit.state,
                &permit.shared,
                outcome,
                now_ms,
            )?;
            // A failure that opens the circuit stamps the time on it.
            if !self.clock_free(&decision.shared) {
                break;
            }
            entries.push(PlannedFailure {
                next_permit: self.next_permit(&decision)?,
                decision,
            });
        }
        Ok(entries)
    }

    fn next_permit(&self, decision: &Decision) -> Result<Option<Permit>, PolicyError> {
        if decision.give_up.is_some() || !self.clock_free(&decision.shared) {
            return Ok(None);
        }
        let permit = self.begin_attempt(&decision.state, &decision.shared, 0)?;
        Ok((permit.refused.is_none() && !permit.probe).then_some(permit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::FailureClass;
    use crate::document::Format;
    use crate::retry::GiveUp;

    fn config(toml: &str) -> RetryConfig {
        let policy = crate::policy::Policy::load(toml, Format::Toml).expect("valid policy");
        policy.retry().clone()
    }

    fn transient() -> Classification {
        Classification {
            class: FailureClass::Transient,
            rule: Some("r".into()),
            reason: "because".into(),
        }
    }

    fn outcome() -> AttemptFailure {
        AttemptFailure {
            failure: crate::classify::Failure::default(),
            duration_ms: 7,
            pushback_ms: None,
        }
    }

    /// A state whose first attempt started at 0 and failed.
    fn started() -> RetryState {
        RetryState {
            attempts: 1,
            started_at_ms: Some(0),
            seed: 3,
            ..Default::default()
        }
    }

    /// `cfg`'s answer for a 503-like failure at 1,000 ms against a fresh shared state.
    fn plan(
        cfg: &RetryConfig,
        class: Classification,
        state: &RetryState,
        max: u32,
    ) -> Vec<PlannedFailure> {
        cfg.plan_failures(
            class,
            state,
            &SharedState::default(),
            &outcome(),
            1_000,
            max,
        )
        .unwrap()
    }

    /// Every entry is what the planner answers when driven attempt by
    /// attempt, at a time other than the one the answer was computed at.
    fn assert_chain(cfg: &RetryConfig, entries: &[PlannedFailure], state: RetryState) {
        let shared = SharedState::default();
        let mut expected = cfg
            .after_failure(transient(), &state, &shared, &outcome(), 1_000)
            .unwrap();
        for (i, entry) in entries.iter().enumerate() {
            assert_eq!(entry.decision, expected, "entry {i}");
            let Some(permit) = &entry.next_permit else {
                return;
            };
            let later = 1_000 + 77_777 * (i as u64 + 1);
            assert_eq!(
                &cfg.begin_attempt(&expected.state, &expected.shared, later)
                    .unwrap(),
                permit
            );
            let o = AttemptFailure {
                duration_ms: 99,
                ..outcome()
            };
            expected = cfg
                .after_failure(transient(), &permit.state, &permit.shared, &o, later + 5)
                .unwrap();
        }
    }

    #[test]
    fn repeats_run_until_the_planner_gives_up() {
        let cfg = config("[retry]\nmax_attempts = 4\n");
        let state = cfg
            .begin_attempt(
                &RetryState {
                    seed: 42,
                    ..Default::default()
                },
                &SharedState::default(),
                1_000,
            )
            .unwrap()
            .state;
        let entries = plan(&cfg, transient(), &state, 16);
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[3].decision.give_up, Some(GiveUp::AttemptsExhausted));
        assert!(entries[3].next_permit.is_none());
        assert_chain(&cfg, &entries, state);
    }

    #[test]
    fn max_entries_cuts_the_answer_but_keeps_its_last_permit() {
        let cfg = config("[retry]\nmax_attempts = 10\n");
        let state = started();
        let entries = plan(&cfg, transient(), &state, 2);
        assert_eq!(entries.len(), 2);
        assert!(entries[1].next_permit.is_some());
        assert_chain(&cfg, &entries, state);
        let one = plan(&cfg, transient(), &state, 0);
        assert_eq!(one.len(), 1, "at least after-failure's own answer");
    }

    #[test]
    fn a_deadline_keeps_only_the_first_answer() {
        let cfg = config("[retry]\nmax_attempts = 10\ndeadline = \"1h\"\n");
        let state = started();
        let entries = plan(&cfg, transient(), &state, 16);
        assert_eq!(entries.len(), 1);
        assert!(entries[0].decision.give_up.is_none());
        assert!(entries[0].next_permit.is_none());
    }

    #[test]
    fn the_failure_that_would_open_the_circuit_is_not_planned() {
        let cfg = config(
            "[retry]\nmax_attempts = 10\n[retry.circuit_breaker]\nconsecutive_failures = 3\n",
        );
        let state = started();
        let entries = plan(&cfg, transient(), &state, 16);
        // Failures 1 and 2 leave it closed; the third opens it at its own time.
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].decision.shared.breaker.consecutive_failures, 2);
        assert!(entries[1].next_permit.is_some());
        assert_chain(&cfg, &entries, state);
    }

    #[test]
    fn a_permanent_failure_has_one_answer() {
        let cfg = config("");
        let permanent = Classification {
            class: FailureClass::Permanent,
            ..transient()
        };
        let entries = plan(&cfg, permanent, &RetryState::default(), 16);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].decision.give_up, Some(GiveUp::Permanent));
        assert!(entries[0].next_permit.is_none());
    }
}
