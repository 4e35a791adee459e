//! Secret redaction as the host sees it; the serde form is the canonical JSON
//! of `tests/README.md` (`{"text", "redactions": [{"rule", "count"}]}`).

use serde::{Deserialize, Serialize};

/// How many secrets one rule replaced (never the values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCount {
    pub rule: String,
    pub count: u32,
}

/// A redacted text and what was redacted in it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RedactionReport {
    /// The text with each secret replaced by `[REDACTED]`.
    pub text: String,
    /// Rules that redacted something, in rule order.
    pub redactions: Vec<RuleCount>,
}

impl RedactionReport {
    /// How many secrets were replaced in all.
    pub fn total(&self) -> u64 {
        self.redactions.iter().map(|r| u64::from(r.count)).sum()
    }
}
