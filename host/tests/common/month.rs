//! A month of nightly runs, recorded through the real store API with
//! historical times: what host/tests/stats_trends.rs checks figure by figure
//! and the README's stats snippet shows (host/tests/snippets.rs).

use std::path::Path;
use std::time::Duration;

use backstop::store::{AlertLogRow, Observed, Owner, RunKey, Store, StoredPolicy};
use backstop::{
    Classification, Decision, FailureClass, GiveUpReason, Permit, RetryState, SharedState,
};

const MIN: u64 = 60_000;
const DAY: u64 = 24 * 60 * MIN;
/// 2024-01-01T00:00:00Z, a Monday.
const JAN_1: u64 = 1_704_067_200_000;
/// Each attempt runs 60 s and the next starts 30 s after it ended, so a run
/// that fails k times and then succeeds recovers in k * 90 s.
const ATTEMPT: u64 = MIN;
const WAIT: u64 = 30_000;

/// What one night's run does.
#[derive(Clone, Copy)]
enum Night {
    /// Fails this many times, then succeeds.
    Recovers(u32),
    /// Fails this many times, then gives up for this reason.
    GivesUp(u32, GiveUpReason),
}
use Night::{GivesUp, Recovers};

/// The nightly pipeline's 28 nights, a week a line.
fn nights() -> [Night; 28] {
    use GiveUpReason::{AttemptsExhausted, Permanent};
    [
        // Week 1: two recoveries (90 s, 180 s).
        Recovers(0),
        Recovers(1),
        Recovers(0),
        Recovers(2),
        Recovers(0),
        Recovers(0),
        Recovers(0),
        // Week 2: a permanent failure, recoveries of 270 s and 90 s.
        Recovers(0),
        Recovers(0),
        Recovers(3),
        GivesUp(1, Permanent),
        Recovers(0),
        Recovers(1),
        Recovers(0),
        // Week 3: an outage; two runs exhaust their 3 attempts.
        Recovers(2),
        Recovers(2),
        GivesUp(3, AttemptsExhausted),
        GivesUp(3, AttemptsExhausted),
        Recovers(1),
        Recovers(0),
        Recovers(0),
        // Week 4: quiet.
        Recovers(0),
        Recovers(0),
        Recovers(0),
        Recovers(0),
        Recovers(0),
        Recovers(1),
        Recovers(0),
    ]
}

fn permit(state: &RetryState, shared: &SharedState) -> Permit {
    Permit {
        refused: None,
        attempt: state.attempts + 1,
        timeout_ms: None,
        retry_after_ms: 0,
        probe: false,
        state: RetryState {
            attempts: state.attempts + 1,
            ..*state
        },
        shared: *shared,
    }
}

fn decision(state: &RetryState, shared: &SharedState, give_up: Option<GiveUpReason>) -> Decision {
    Decision {
        give_up,
        delay_ms: WAIT,
        attempt: state.attempts,
        next_timeout_ms: None,
        classification: Classification {
            class: if give_up == Some(GiveUpReason::Permanent) {
                FailureClass::Permanent
            } else {
                FailureClass::Transient
            },
            rule: Some("storage-5xx".into()),
            reason: "generated".into(),
        },
        explanation: "generated".into(),
        state: *state,
        shared: *shared,
    }
}

/// Record one run starting at `start` through the store, as `backstop run`
/// would with the clock at those times.
fn record(store: &mut Store, pipeline: &str, run_id: &str, start: u64, night: Night) {
    let key = RunKey {
        run_id,
        step: "train",
    };
    store.label_run(key, pipeline).unwrap();
    let owner = Owner::this_process("gen", 1).to_string();
    let grant = match store
        .acquire(key, &owner, start, 3_600_000, 1, false)
        .unwrap()
    {
        backstop::store::Acquired::Granted(g) => g,
        other => panic!("{other:?}"),
    };
    let (failures, give_up) = match night {
        Recovers(k) => (k, None),
        GivesUp(k, reason) => (k, Some(reason)),
    };
    let mut t = start;
    for n in 1..=failures + u32::from(give_up.is_none()) {
        let p = store
            .begin_attempt(
                key,
                &grant.fence,
                grant.round,
                "gen",
                t,
                0,
                |_| 1,
                |s, sh| Ok(permit(s, sh)),
            )
            .unwrap();
        assert_eq!(p.attempt, n);
        t += ATTEMPT;
        if n <= failures {
            let last = n == failures;
            let why = if last { give_up } else { None };
            let observed = Observed {
                exit_code: Some(1),
                signal: None,
                timed_out: false,
            };
            store
                .finish_failure(
                    key,
                    &grant.fence,
                    grant.round,
                    n,
                    t,
                    &observed,
                    1,
                    |s, sh| Ok(decision(s, sh, why)),
                )
                .unwrap();
            t += WAIT;
        } else {
            store
                .finish_success(key, &grant.fence, grant.round, n, t, |sh| Ok(*sh))
                .unwrap();
        }
    }
}

/// One notification, sent through `routes` sinks (a log row per route).
fn notify(store: &mut Store, pipeline: &str, at: u64, kind: &str, severity: &str, routes: u32) {
    let dedup_key = format!("backstop/rule-1/{pipeline}/train/{at}");
    let rows = (0..routes)
        .map(|r| AlertLogRow {
            at_ms: at,
            kind: kind.into(),
            severity: severity.into(),
            rule: "rule-1".into(),
            dedup_key: dedup_key.clone(),
            targets: "[\"oncall\"]".into(),
            summary: "generated".into(),
            sink: format!("sink-{r}"),
            outbox: None,
        })
        .collect::<Vec<_>>();
    store
        .update_alerts(pipeline, &StoredPolicy::default(), at, |_| {
            Ok(("{}".to_string(), rows, ()))
        })
        .unwrap();
}

/// The month: the nightly pipeline at 02:00 each night, its alerts (an info
/// on each failed night, a page to two sinks on each give-up, a resolve on
/// each recovery), and another pipeline's runs of the same step name, plus
/// runs just outside the window.
pub fn generate(state: &Path) {
    let mut store = Store::open(state, Duration::from_secs(10)).unwrap();
    for (d, night) in nights().into_iter().enumerate() {
        let start = JAN_1 + d as u64 * DAY + 2 * 60 * MIN;
        record(&mut store, "nightly", &format!("nightly-{d}"), start, night);
        let first_failure = start + ATTEMPT;
        match night {
            Recovers(0) => {}
            Recovers(k) => {
                notify(&mut store, "nightly", first_failure, "trigger", "info", 1);
                notify(
                    &mut store,
                    "nightly",
                    first_failure + u64::from(k) * 90_000,
                    "resolve",
                    "info",
                    1,
                );
            }
            GivesUp(..) => notify(&mut store, "nightly", first_failure, "trigger", "high", 2),
        }
    }
    // Another pipeline, same step name: three give-ups in week 2, paging.
    for i in 0..3u64 {
        let start = JAN_1 + 8 * DAY + i * 60 * MIN;
        record(
            &mut store,
            "adhoc",
            &format!("adhoc-{i}"),
            start,
            GivesUp(2, GiveUpReason::Deadline),
        );
        notify(
            &mut store,
            "adhoc",
            start + ATTEMPT,
            "trigger",
            "critical",
            1,
        );
    }
    // Outside the window: the night before and the night after.
    record(
        &mut store,
        "nightly",
        "nightly-before",
        JAN_1 - 22 * 60 * MIN,
        GivesUp(1, GiveUpReason::Permanent),
    );
    record(
        &mut store,
        "nightly",
        "nightly-after",
        JAN_1 + 28 * DAY + 2 * 60 * MIN,
        Recovers(1),
    );
}
