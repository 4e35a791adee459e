//! Fuzzed retry settings, state and outcome: the planner never panics, and
//! every delay it plans is within its documented bounds and before the deadline.
#![no_main]

use arbitrary::Arbitrary;
use backstop_core::retry::Jitter;
use backstop_core::{AttemptFailure, Failure, Format, Policy, RetryState, SharedState};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    max_attempts: u32,
    base_ms: u32,
    multiplier_tenths: u16,
    max_delay_ms: u32,
    jitter: u8,
    fraction_pct: u8,
    attempt_timeout_ms: Option<u32>,
    deadline_ms: Option<u32>,
    attempts: u32,
    started_at_ms: Option<u64>,
    last_delay_ms: u64,
    seed: u64,
    now_ms: u64,
    duration_ms: u64,
    pushback_ms: Option<u64>,
    status: u16,
}

fuzz_target!(|i: Input| {
    let jitter = ["none", "full", "equal", "decorrelated", "additive"][usize::from(i.jitter) % 5];
    let base = u64::from(i.base_ms);
    let mut doc = format!(
        "[retry]\nmax_attempts = {}\nbase_delay = \"{base}ms\"\nmultiplier = {}\nmax_delay = \"{}ms\"\njitter = \"{jitter}\"\njitter_fraction = {}\n",
        i.max_attempts.max(1),
        1.0 + f64::from(i.multiplier_tenths % 990) / 10.0,
        base.max(u64::from(i.max_delay_ms)),
        f64::from(i.fraction_pct % 101) / 100.0,
    );
    if let Some(t) = i.attempt_timeout_ms {
        doc.push_str(&format!("attempt_timeout = \"{}ms\"\n", t.max(1)));
    }
    if let Some(d) = i.deadline_ms {
        doc.push_str(&format!("deadline = \"{}ms\"\n", d.max(1)));
    }
    let Ok(policy) = Policy::load(&doc, Format::Toml) else { return };
    let cfg = policy.retry();
    let state = RetryState {
        attempts: i.attempts,
        started_at_ms: i.started_at_ms,
        last_delay_ms: i.last_delay_ms,
        seed: i.seed,
    };
    let outcome = AttemptFailure {
        failure: Failure { http_status: Some(100 + i.status % 500), ..Failure::default() },
        duration_ms: i.duration_ms,
        pushback_ms: i.pushback_ms,
    };
    let shared = SharedState::default();
    let Ok(d) = policy.after_failure(&state, &shared, &outcome, i.now_ms) else { return };
    if d.give_up.is_none() {
        if i.pushback_ms.is_none() {
            let (lo, hi) = cfg.delay_bounds_ms(d.attempt);
            if cfg.jitter != Jitter::Decorrelated || state.last_delay_ms <= cfg.max_delay_ms {
                assert!(lo <= d.delay_ms && d.delay_ms <= hi, "{} not in {lo}..={hi}", d.delay_ms);
            }
        } else {
            assert!(d.delay_ms <= cfg.max_pushback_ms);
        }
        if let Some(deadline) = cfg.deadline_ms {
            let started = d.state.started_at_ms.unwrap();
            let elapsed = i.now_ms.saturating_sub(started);
            assert!(elapsed.saturating_add(d.delay_ms) < deadline, "retry would start past the deadline");
            let t = d.next_timeout_ms.unwrap();
            assert!(elapsed + d.delay_ms + t <= deadline, "timeout overruns the deadline");
        }
        if let (Some(t), Some(next)) = (cfg.attempt_timeout_ms, d.next_timeout_ms) {
            assert!(next <= t);
        }
    }
    let _ = policy.begin_attempt(&d.state, &d.shared, i.now_ms.saturating_add(d.delay_ms));
    let _ = policy.schedule(i.seed, 64);
});
