//! Backstop's Rust host: embeds the policy component (built from `guest/`)
//! with wasmtime, so every decision is made by the same bytes the Node, Python
//! and Go hosts run.
//!
//! ```no_run
//! use backstop::{Engine, Failure, Format};
//! let engine = Engine::new()?;
//! let mut session = engine.session()?;
//! let policy = session.load_policy(r#"[[classify.rules]]
//! id = "storage-503"
//! class = "transient"
//! http_status = 503"#, Format::Toml)?;
//! let verdict = session.classify(policy, &Failure { http_status: Some(503), ..Default::default() })?;
//! assert_eq!(verdict.rule.as_deref(), Some("storage-503"));
//! # Ok::<(), backstop::Error>(())
//! ```

pub mod alerts;
mod cache;
mod engine;
mod error;
mod planner;
mod pushback;
pub mod redaction;
pub mod retrying;
pub mod store;
mod types;

pub use engine::{
    COMPONENT, CacheMode, DEFAULT_FUEL_PER_CALL, DEFAULT_MEMORY_LIMIT, Engine, EngineBuilder,
    Policy, Session,
};
pub use error::{Error, Result};
pub use planner::{
    AttemptFailure, BreakerState, BudgetState, Circuit, Decision, GiveUpReason, Permit,
    PlannedAttempt, PlannedFailure, RetryState, Schedule, SharedState,
};
pub use types::{
    Classification, ErrorCode, Failure, FailureClass, Format, LogInput, LogReport, LogStream,
    PolicyError,
};
