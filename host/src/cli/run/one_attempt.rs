//! `backstop run --one-attempt`: one attempt per invocation, as one pod of a
//! Kubernetes Job or one try of an Argo step runs it. The orchestrator starts
//! the next invocation (a fresh pod, same state store, same run id + step);
//! the retry decision, the attempt count, the deadline and the planned delay
//! live in the state store between them.

use std::time::Duration;

use anyhow::Result;
use backstop::{Decision, GiveUpReason};

use super::super::exit::{self, Exit};
use super::super::fmt::duration;
use super::super::supervise::Signals;
use super::{LeaseLost, Runner, Stop, now_ms};

/// `--permanent-exit-code` may not be 0 or the retry-me status.
pub(super) fn check_permanent_code(code: u8) -> Result<()> {
    if code == exit::RETRY_ME {
        return Err(Exit::new(
            exit::BACKSTOP_ERROR,
            format!(
                "--permanent-exit-code {code} is the retry-me status: an orchestrator would retry \
                 permanent failures; choose another (default {})",
                exit::PERMANENT
            ),
        )
        .into());
    }
    Ok(())
}

impl Runner<'_> {
    /// Before this invocation's attempt: wait out what is left of the delay the
    /// planner chose after the previous invocation's failed attempt. Returns
    /// that planned delay (recorded with the attempt).
    pub(super) fn wait_planned_delay(&mut self) -> Result<u64> {
        let (left, planned, next) =
            self.store
                .planned_wait(self.key, self.fence, self.round, now_ms())?;
        if left > 0 {
            eprintln!(
                "backstop: waiting {} (the rest of the planned {}) before the next attempt of {}",
                duration(left),
                duration(planned),
                self.what
            );
            if let Some(stop) = self.pause(Duration::from_millis(left), next) {
                return Err(match stop {
                    Stop::Signal(signal) => self.interrupted(None, signal),
                    Stop::LeaseLost => LeaseLost.into(),
                });
            }
        }
        Ok(planned)
    }

    /// The planner says retry: free the lease and tell the orchestrator to
    /// start the next attempt. The delay stays in the store for it.
    pub(super) fn retry_me(&mut self, head: &str, decision: &Decision) -> Result<u8> {
        self.store.release(self.key, self.fence, now_ms())?;
        eprintln!(
            "{head}; retry in {}: exiting {} so the orchestrator starts the next attempt \
             (it waits out the delay)",
            duration(decision.delay_ms),
            exit::RETRY_ME
        );
        Ok(exit::RETRY_ME)
    }
}

/// Sleep for `delay` unless a signal comes first (returned).
pub(super) fn sleep_unless_signalled(signals: &Signals, delay: Duration) -> Option<i32> {
    let end = std::time::Instant::now() + delay;
    loop {
        if let Some(signal) = signals.take() {
            return Some(signal);
        }
        let left = end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return None;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

/// The status of a give-up (or a refused attempt) with `--one-attempt`: the
/// permanent code for a permanent failure, otherwise "gave up".
pub(super) fn give_up_exit(reason: GiveUpReason, permanent: u8) -> u8 {
    match reason {
        GiveUpReason::Permanent => permanent,
        _ => exit::GAVE_UP,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_permanent_failure_exits_with_the_permanent_code() {
        assert_eq!(give_up_exit(GiveUpReason::Permanent, 3), 3);
        for reason in [
            GiveUpReason::AttemptsExhausted,
            GiveUpReason::Deadline,
            GiveUpReason::CircuitOpen,
            GiveUpReason::BudgetExhausted,
        ] {
            assert_eq!(give_up_exit(reason, 3), exit::GAVE_UP);
        }
        assert!(check_permanent_code(exit::RETRY_ME).is_err());
        assert!(check_permanent_code(exit::PERMANENT).is_ok());
    }

    #[test]
    fn the_one_attempt_statuses_are_distinct_from_the_others() {
        let others = [
            exit::CIRCUIT_OPEN,
            exit::LEASE_HELD,
            exit::STATE_ERROR,
            exit::TIMED_OUT,
            exit::BACKSTOP_ERROR,
            exit::NOT_EXECUTABLE,
            exit::NOT_FOUND,
        ];
        for code in [exit::PERMANENT, exit::GAVE_UP, exit::RETRY_ME] {
            assert!(!others.contains(&code), "{code} clashes");
        }
        assert_ne!(exit::PERMANENT, exit::GAVE_UP);
    }
}
