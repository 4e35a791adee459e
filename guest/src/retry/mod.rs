//! The retry planner: after a failed attempt, retry after how long (and with
//! what timeout), or give up and why. Pure: `now`, the seed and all state come
//! in as arguments; the next state goes out.
//!
//! One layer per file: [`config`] reads the policy's `[retry]` section,
//! [`backoff`] is the backoff and jitter maths, [`planner`] the state machine
//! the hosts drive attempt by attempt, [`repeats`] what a repeated failure
//! decides (built on it), and [`schedule`] the dry run built on it.

pub mod backoff;
pub mod config;
pub mod explain;
pub mod planner;
pub mod repeats;
pub mod schedule;

pub use backoff::Jitter;
pub use config::{MAX_DURATION_MS, RetryConfig};
pub use planner::{AttemptFailure, Decision, FastPath, GiveUp, Permit, RetryState, SharedState};
pub use repeats::{MAX_PLANNED_FAILURES, PlannedFailure};
pub use schedule::{MAX_SCHEDULE, PlannedAttempt, Schedule};
