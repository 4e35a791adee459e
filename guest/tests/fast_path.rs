//! `fast_path` (what a host may skip) must say exactly what the planner's own
//! functions would do: for shared states reached by random histories under
//! random policies, `success_records_nothing` is `after_success(s) == s`, and a
//! `fresh_permit` is what `begin_attempt` of a fresh state returns at any time
//! and seed (with `started_at_ms` and `seed` filled in).

use backstop_core::{AttemptFailure, Failure, Format, Policy, RetryState, SharedState};
use proptest::prelude::*;

fn policy(
    breaker: Option<(u32, u32, u32)>,
    budget: Option<u32>,
    deadline_s: Option<u32>,
    timeout_s: Option<u32>,
) -> Policy {
    let mut doc = String::from("[retry]\nmax_attempts = 5\nbase_delay = \"100ms\"\n");
    if let Some(d) = deadline_s {
        doc += &format!("deadline = \"{d}s\"\n");
    }
    if let Some(t) = timeout_s {
        doc += &format!("attempt_timeout = \"{t}s\"\n");
    }
    if let Some((consecutive, window, probes)) = breaker {
        doc += &format!(
            "[retry.circuit_breaker]\nconsecutive_failures = {consecutive}\nwindow = {window}\n\
             minimum_calls = {}\nfailure_rate = 0.5\nhalf_open_probes = {probes}\nopen_for = \"1s\"\n",
            window.min(3)
        );
    }
    if let Some(tokens) = budget {
        doc += &format!("[retry.budget]\nmax_tokens = {tokens}\n");
    }
    Policy::load(&doc, Format::Toml).unwrap_or_else(|e| panic!("{doc}: {e:?}"))
}

/// One step of a history: 0 success, 1 transient failure, 2 permanent failure.
fn step(p: &Policy, shared: SharedState, kind: u8, now: u64) -> SharedState {
    let permit = p
        .begin_attempt(&RetryState::default(), &shared, now)
        .unwrap();
    if permit.refused.is_some() {
        return permit.shared;
    }
    match kind {
        0 => p.after_success(&permit.shared).unwrap(),
        _ => {
            let outcome = AttemptFailure {
                failure: Failure {
                    http_status: Some(if kind == 1 { 503 } else { 400 }),
                    ..Failure::default()
                },
                duration_ms: 1,
                pushback_ms: None,
            };
            p.after_failure(&permit.state, &permit.shared, &outcome, now + 1)
                .unwrap()
                .shared
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn fast_path_says_what_the_planner_does(
        breaker in proptest::option::of((1u32..6, 1u32..12, 1u32..3)),
        budget in proptest::option::of(1u32..20),
        deadline_s in proptest::option::of(1u32..100),
        timeout_s in proptest::option::of(1u32..100),
        history in proptest::collection::vec((0u8..3, 0u64..700), 0..40),
        probes in proptest::collection::vec((0u64..5_000_000, any::<u64>()), 1..6),
    ) {
        let p = policy(breaker, budget, deadline_s, timeout_s);
        let mut shared = SharedState::default();
        let mut now = 1_000_000u64;
        for (i, &(kind, gap)) in history.iter().enumerate() {
            let fp = p.fast_path(&shared).unwrap();
            prop_assert_eq!(fp.success_records_nothing, p.after_success(&shared).unwrap() == shared, "after step {}", i);
            if let Some(permit) = &fp.fresh_permit {
                for &(t, seed) in &probes {
                    let fresh = RetryState { seed, ..RetryState::default() };
                    let mut expected = permit.clone();
                    expected.state.started_at_ms = Some(t);
                    expected.state.seed = seed;
                    prop_assert_eq!(p.begin_attempt(&fresh, &shared, t).unwrap(), expected);
                }
            }
            now += gap;
            shared = step(&p, shared, kind, now);
        }
    }
}

/// The states the hosts' fast path is for: no breaker, or a closed one whose
/// window is all successes, and a full budget.
#[test]
fn the_steady_state_skips_both_calls() {
    for b in [None, Some((5, 10, 1))] {
        let p = policy(b, Some(10), Some(30), Some(5));
        let mut shared = SharedState::default();
        for i in 0..20 {
            shared = step(&p, shared, 0, 1_000 + i);
        }
        let fp = p.fast_path(&shared).unwrap();
        assert!(fp.success_records_nothing, "{b:?}");
        let permit = fp
            .fresh_permit
            .expect("a closed breaker admits a fresh attempt");
        assert_eq!((permit.attempt, permit.timeout_ms), (1, Some(5_000)));
        // Without a breaker, even the all-zero state records nothing.
        if b.is_none() {
            assert!(
                p.fast_path(&SharedState::default())
                    .unwrap()
                    .success_records_nothing
            );
        }
    }
    // An open circuit never has a fresh permit: it depends on the clock.
    let p = policy(Some((1, 10, 1)), None, None, None);
    let open = step(&p, SharedState::default(), 1, 5_000);
    assert!(p.fast_path(&open).unwrap().fresh_permit.is_none());
}
