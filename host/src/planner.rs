//! The retry planner's types as the host sees them (the bindings of the WIT's
//! `retry` interface; the retry loop built on them is `retrying`). Their serde form is the
//! canonical JSON of `tests/README.md`: every state field defaults, so `{}` is a
//! fresh state, and the full-range u64 values (`seed`, `recent_outcomes`) are
//! decimal strings so JavaScript readers lose no bits.

use serde::{Deserialize, Serialize};

use crate::types::{Classification, Failure};

/// Progress of one operation (one run of one step). `Default` is a fresh start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryState {
    /// Attempts started so far.
    pub attempts: u32,
    pub started_at_ms: Option<u64>,
    pub last_delay_ms: u64,
    #[serde(with = "u64_string")]
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Circuit {
    #[default]
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerState {
    pub circuit: Circuit,
    pub consecutive_failures: u32,
    /// The latest outcomes, newest in bit 0; a set bit is a failure.
    #[serde(with = "u64_string")]
    pub recent_outcomes: u64,
    pub recent_count: u32,
    pub opened_at_ms: u64,
    pub probes_started: u32,
    pub probes_succeeded: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetState {
    /// How far below full the token bucket is, in thousandths of a token.
    pub spent_milli: u32,
}

/// State shared by every operation against one dependency; persist it per
/// dependency (the CLI keys it by step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SharedState {
    pub breaker: BreakerState,
    pub budget: BudgetState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GiveUpReason {
    Permanent,
    AttemptsExhausted,
    Deadline,
    PushbackBeyondDeadline,
    CircuitOpen,
    BudgetExhausted,
}

impl GiveUpReason {
    pub fn as_str(self) -> &'static str {
        match self {
            GiveUpReason::Permanent => "permanent",
            GiveUpReason::AttemptsExhausted => "attempts-exhausted",
            GiveUpReason::Deadline => "deadline",
            GiveUpReason::PushbackBeyondDeadline => "pushback-beyond-deadline",
            GiveUpReason::CircuitOpen => "circuit-open",
            GiveUpReason::BudgetExhausted => "budget-exhausted",
        }
    }
}

impl std::fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// May the next attempt start, and with what timeout?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permit {
    pub refused: Option<GiveUpReason>,
    pub attempt: u32,
    pub timeout_ms: Option<u64>,
    pub retry_after_ms: u64,
    pub probe: bool,
    pub state: RetryState,
    pub shared: SharedState,
}

/// A failed attempt as the host observed it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttemptFailure {
    pub failure: Failure,
    pub duration_ms: u64,
    /// Server pushback (Retry-After, `grpc-retry-pushback-ms`), in ms.
    pub pushback_ms: Option<u64>,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// `None`: retry after `delay_ms`.
    pub give_up: Option<GiveUpReason>,
    pub delay_ms: u64,
    pub attempt: u32,
    pub next_timeout_ms: Option<u64>,
    pub classification: Classification,
    pub explanation: String,
    pub state: RetryState,
    pub shared: SharedState,
}

/// One failed attempt of a [`Session::plan_failures`](crate::Session::plan_failures) answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedFailure {
    pub decision: Decision,
    /// When the decision retries and the next permit cannot depend on the
    /// clock: `begin_attempt(decision.state, decision.shared, t)` for every `t`.
    pub next_permit: Option<Permit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedAttempt {
    pub attempt: u32,
    pub delay_ms: u64,
    pub timeout_ms: Option<u64>,
    pub start_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub attempts: Vec<PlannedAttempt>,
    /// Why it ends; `None` when cut at the requested length.
    pub ends_with: Option<GiveUpReason>,
}

/// u64 as a decimal string (numbers above 2^53 do not survive JavaScript).
mod u64_string {
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Text(String),
            Number(u64),
        }
        match Either::deserialize(d)? {
            Either::Number(n) => Ok(n),
            Either::Text(t) => t
                .parse()
                .map_err(|_| de::Error::custom(format!("`{t}` is not a u64"))),
        }
    }
}
