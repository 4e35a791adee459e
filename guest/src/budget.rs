//! Retry budget (gRPC retry throttling): failures drain a token bucket,
//! successes refill it, and retries stop while it is at or below half full, so
//! a fleet backs off together when a dependency is down. Tokens are counted in
//! thousandths so the persisted state holds only integers.

use crate::document::Node;
use crate::schema::{Validator, join};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetConfig {
    pub max_tokens: u32,
    pub token_ratio: f64,
}

impl Default for BudgetConfig {
    /// gRPC's documented example: `maxTokens: 10, tokenRatio: 0.1`.
    fn default() -> Self {
        BudgetConfig {
            max_tokens: 10,
            token_ratio: 0.1,
        }
    }
}

/// How far below full the bucket is, in thousandths of a token. All-zero is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BudgetState {
    pub spent_milli: u32,
}

impl BudgetConfig {
    pub fn read(v: &mut Validator<'_>, path: &str, node: &Node) -> Option<BudgetConfig> {
        let table = v.table(path, node, &["max_tokens", "token_ratio"])?;
        let before = v.errors.len();
        let mut c = BudgetConfig::default();
        if let Some(n) = table.get("max_tokens")
            && let Some(k) = v.integer(&join(path, "max_tokens"), n, 1, 1_000)
        {
            c.max_tokens = k as u32;
        }
        if let Some(n) = table.get("token_ratio")
            && let Some(r) = v.number(&join(path, "token_ratio"), n, 0.001, 1_000.0)
        {
            c.token_ratio = r;
        }
        (v.errors.len() == before).then_some(c)
    }

    fn max_milli(&self) -> u32 {
        self.max_tokens * 1_000
    }

    /// Tokens left, in thousandths (a corrupted `spent` beyond the maximum reads as empty).
    pub fn tokens_milli(&self, state: &BudgetState) -> u32 {
        self.max_milli().saturating_sub(state.spent_milli)
    }

    /// gRPC: "retries are allowed while the token count is above half of max".
    pub fn allows_retry(&self, state: &BudgetState) -> bool {
        self.tokens_milli(state) > self.max_milli() / 2
    }

    pub fn record_failure(&self, state: &mut BudgetState) {
        state.spent_milli = state
            .spent_milli
            .saturating_add(1_000)
            .min(self.max_milli());
    }

    pub fn record_success(&self, state: &mut BudgetState) {
        let refill = (self.token_ratio * 1_000.0).round() as u32;
        state.spent_milli = state
            .spent_milli
            .min(self.max_milli())
            .saturating_sub(refill);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_to_half_then_refuses_and_refills_on_success() {
        let c = BudgetConfig::default();
        let mut s = BudgetState::default();
        for _ in 0..4 {
            c.record_failure(&mut s);
            assert!(c.allows_retry(&s));
        }
        c.record_failure(&mut s);
        assert!(!c.allows_retry(&s), "5 of 10 tokens left is not above half");
        for _ in 0..10 {
            c.record_success(&mut s);
        }
        assert!(c.allows_retry(&s));
        assert_eq!(s.spent_milli, 4_000);
    }

    #[test]
    fn never_underflows_or_overflows() {
        let c = BudgetConfig::default();
        let mut s = BudgetState {
            spent_milli: u32::MAX,
        };
        assert_eq!(c.tokens_milli(&s), 0);
        c.record_failure(&mut s);
        assert_eq!(s.spent_milli, 10_000);
        c.record_success(&mut s);
        assert_eq!(s.spent_milli, 9_900);
    }
}
