//! Backstop's pure policy core: policy loading and validation, the error
//! classifier, and the retry planner (backoff, jitter, deadline, circuit
//! breaker, retry budget). No clock, no randomness, no I/O: everything a decision depends on
//! comes in as an argument, so the same bytes decide the same way in every host.
//!
//! Natively this is an ordinary library (tests, benches, fuzzing); on `wasm32`
//! the [`adapter`] module exports it through the WIT interface in `wit/`.

pub mod alerts;
pub mod breaker;
pub mod budget;
pub mod classify;
pub mod document;
pub mod error;
pub mod jitter;
pub mod logs;
pub mod names;
pub mod policy;
pub mod redaction;
pub mod retry;
mod schema;

#[cfg(target_arch = "wasm32")]
mod adapter;

pub use classify::{Classification, Failure, FailureClass};
pub use document::Format;
pub use error::{ErrorCode, Location, PolicyError};
pub use logs::{LogInput, LogReport, LogStream, read_log};
pub use policy::Policy;
pub use retry::{
    AttemptFailure, Decision, FastPath, GiveUp, Permit, PlannedFailure, RetryState, Schedule,
    SharedState,
};
