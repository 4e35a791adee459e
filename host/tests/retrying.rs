#![allow(
    clippy::result_large_err,
    reason = "the helper-vector fixture error carries a whole failure; size does not matter in a test"
)]
//! The Rust retry helpers, with a fake clock: every wait comes from the planner.
//! The helper conformance vectors (tests/helpers/*.json) run at the end.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use backstop::retrying::{
    AttemptTimeout, Clock, MemoryStore, Pushback, Retry, RetryError, SharedStore, ToFailure,
    failure_from_error, parse_grpc_pushback, parse_retry_after,
};
use backstop::{
    AttemptFailure, CacheMode, Decision, Engine, Failure, Format, GiveUpReason, RetryState,
    Session, SharedState,
};
use serde_json::{Value, json};

struct FakeClock {
    now: Cell<u64>,
    slept: RefCell<Vec<u64>>,
}

impl FakeClock {
    fn new() -> Self {
        FakeClock {
            now: Cell::new(1_000_000),
            slept: RefCell::new(Vec::new()),
        }
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> u64 {
        self.now.get()
    }
    fn sleep(&self, d: Duration) {
        self.slept.borrow_mut().push(d.as_millis() as u64);
        self.now.set(self.now.get() + d.as_millis() as u64);
    }
}

#[derive(Debug)]
struct HttpError(u16);

impl ToFailure for HttpError {
    fn to_failure(&self) -> Failure {
        Failure {
            http_status: Some(self.0),
            ..Failure::default()
        }
    }
}

const POLICY: &str = "[retry]\nmax_attempts = 4\njitter = \"none\"\nbase_delay = \"100ms\"\n";

fn session() -> Session {
    Engine::builder()
        .cache(CacheMode::Disabled)
        .build()
        .unwrap()
        .session()
        .unwrap()
}

#[test]
fn transient_failures_are_retried_with_the_planned_waits() {
    let mut s = session();
    let policy = s.load_policy(POLICY, Format::Toml).unwrap();
    let clock = FakeClock::new();
    let mut retried = Vec::new();
    let result = Retry::new(&mut s, policy)
        .on_retry(|e: &HttpError, n, d| retried.push((e.0, n, d.attempt)))
        .run(&clock, |attempt| {
            if attempt.number < 3 {
                Err(HttpError(503))
            } else {
                Ok(attempt.number)
            }
        });
    assert_eq!(result.unwrap(), 3);
    assert_eq!(*clock.slept.borrow(), [100, 200]);
    assert_eq!(retried, [(503, 1, 1), (503, 2, 2)]);
}

#[test]
fn permanent_failures_fail_fast() {
    let mut s = session();
    let policy = s.load_policy(POLICY, Format::Toml).unwrap();
    let clock = FakeClock::new();
    let mut calls = 0;
    let result: Result<(), _> = Retry::new(&mut s, policy).run(&clock, |_| {
        calls += 1;
        Err(HttpError(404))
    });
    match result {
        Err(RetryError::GaveUp {
            reason,
            attempts,
            last,
            ..
        }) => {
            assert_eq!(reason, GiveUpReason::Permanent);
            assert_eq!(attempts, 1);
            assert_eq!(last.unwrap().0, 404);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(calls, 1);
    assert!(clock.slept.borrow().is_empty());
}

#[test]
fn attempts_run_out() {
    let mut s = session();
    let policy = s.load_policy(POLICY, Format::Toml).unwrap();
    let clock = FakeClock::new();
    let result: Result<(), _> = Retry::new(&mut s, policy).run(&clock, |_| Err(HttpError(503)));
    assert!(matches!(
        result,
        Err(RetryError::GaveUp {
            reason: GiveUpReason::AttemptsExhausted,
            attempts: 4,
            ..
        })
    ));
    assert_eq!(*clock.slept.borrow(), [100, 200, 400]);
}

#[test]
fn an_open_circuit_refuses_before_calling() {
    let mut s = session();
    let policy = s
        .load_policy(
            &format!("{POLICY}[retry.circuit_breaker]\nconsecutive_failures = 2\n"),
            Format::Toml,
        )
        .unwrap();
    let clock = FakeClock::new();
    // Two failures open the breaker; it is the policy's, so the next loop sees it.
    let first: Result<(), _> = Retry::new(&mut s, policy).run(&clock, |_| Err(HttpError(503)));
    let Err(RetryError::GaveUp { reason, .. }) = first else {
        panic!()
    };
    assert_eq!(reason, GiveUpReason::CircuitOpen);
    let mut calls = 0;
    let third = Retry::new(&mut s, policy).run(&clock, |_| {
        calls += 1;
        Ok::<(), HttpError>(())
    });
    assert!(matches!(
        third,
        Err(RetryError::GaveUp {
            reason: GiveUpReason::CircuitOpen,
            last: None,
            ..
        })
    ));
    assert_eq!(calls, 0);
}

#[test]
fn the_same_key_gives_the_same_jittered_waits() {
    let waits = |key: &str| {
        let mut s = session();
        let policy = s
            .load_policy(
                "[retry]\nmax_attempts = 4\njitter = \"full\"\n",
                Format::Toml,
            )
            .unwrap();
        let clock = FakeClock::new();
        let _: Result<(), _> = Retry::new(&mut s, policy)
            .idempotency_key(key)
            .run(&clock, |_| Err(HttpError(503)));
        clock.slept.take()
    };
    assert_eq!(waits("run-1/train"), waits("run-1/train"));
    assert_ne!(waits("run-1/train"), waits("run-2/train"));
}

#[test]
fn async_closures_use_the_callers_sleep() {
    let mut s = session();
    let policy = s.load_policy(POLICY, Format::Toml).unwrap();
    let now = Cell::new(0u64);
    let slept = RefCell::new(Vec::new());
    let fut = Retry::new(&mut s, policy).run_async(
        || now.get(),
        |d: Duration| {
            slept.borrow_mut().push(d.as_millis() as u64);
            now.set(now.get() + d.as_millis() as u64);
            std::future::ready(())
        },
        |attempt| {
            std::future::ready(if attempt.number < 2 {
                Err(HttpError(502))
            } else {
                Ok("done")
            })
        },
    );
    assert_eq!(block_on(fut).unwrap(), "done");
    assert_eq!(*slept.borrow(), [100]);
}

#[test]
fn io_errors_classify_by_errno_through_the_source_chain() {
    #[derive(Debug, thiserror::Error)]
    #[error("fetching part-0")]
    struct Fetch(#[source] std::io::Error);
    let err = Fetch(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
    let failure = failure_from_error(&err);
    assert_eq!(failure.error_code.as_deref(), Some("ECONNRESET"));
    assert_eq!(failure.error_types.len(), 2);
    assert!(failure.error_types[0].ends_with("Fetch"));
    assert_eq!(failure.error_types[1], "std::io::Error");
    assert!(failure.message.unwrap().starts_with("fetching part-0\n"));
}

/// A minimal executor: the futures in these tests are always ready.
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[test]
fn a_custom_store_holds_the_breaker_and_seeds_are_random_without_a_key() {
    let mut s = session();
    let policy = s
        .load_policy(
            "[retry]\nmax_attempts = 2\njitter = \"full\"\n[retry.circuit_breaker]\nconsecutive_failures = 2\n",
            Format::Toml,
        )
        .unwrap();
    let store = MemoryStore::default();
    let clock = FakeClock::new();
    let mut seeds = Vec::new();
    let _: Result<(), _> = Retry::new(&mut s, policy)
        .shared_store(&store)
        .on_retry(|_: &HttpError, _, d| seeds.push(d.state.seed))
        .run(&clock, |_| Err(HttpError(503)));
    assert_eq!(store.get().breaker.circuit, backstop::Circuit::Open);
    // The session's own per-policy state was not touched: its breaker is closed.
    let ok: Result<u8, _> = Retry::new(&mut s, policy)
        .on_retry(|_: &HttpError, _, d| seeds.push(d.state.seed))
        .run(&clock, |a| {
            if a.number == 1 {
                Err(HttpError(503))
            } else {
                Ok(1)
            }
        });
    assert_eq!(ok.unwrap(), 1);
    assert_eq!(seeds.len(), 2);
    assert!(
        seeds[0] != 0 && seeds[1] != 0 && seeds[0] != seeds[1],
        "{seeds:?}"
    );
}

#[test]
fn the_give_up_error_has_the_last_error_as_its_source() {
    let mut s = session();
    let policy = s.load_policy(POLICY, Format::Toml).unwrap();
    let clock = FakeClock::new();
    let err = Retry::new(&mut s, policy)
        .run(&clock, |_| -> Result<(), std::io::Error> {
            Err(std::io::Error::new(std::io::ErrorKind::NotFound, "gone"))
        })
        .unwrap_err();
    let source = std::error::Error::source(&err).expect("a source");
    assert_eq!(source.to_string(), "gone");
}

#[test]
fn pushback_parsers() {
    let now = UNIX_EPOCH + Duration::from_secs(1_767_225_600); // 2026-01-01T00:00:00Z
    assert_eq!(
        parse_retry_after("Thu, 01 Jan 2026 00:00:05 GMT", now),
        Some(Duration::from_secs(5))
    );
    assert_eq!(parse_retry_after("1.5", now), None);
    assert_eq!(parse_grpc_pushback("-1"), Pushback::Never);
}

const BREAKER_POLICY: &str = "[retry]\nmax_attempts = 6\njitter = \"none\"\nbase_delay = \"100ms\"\n[retry.circuit_breaker]\nconsecutive_failures = 4\n";

/// Attempt numbers and decisions of one operation against `BREAKER_POLICY`
/// whose every attempt fails with a 503, through `Retry` with a shared store;
/// during attempt `interfere_at` another process's operation records a 503
/// of its own in that store.
fn helper_run(interfere_at: Option<u32>) -> (Vec<u32>, Vec<Decision>, SharedState) {
    let mut s = session();
    let policy = s.load_policy(BREAKER_POLICY, Format::Toml).unwrap();
    let mut other = session();
    let other_policy = other.load_policy(BREAKER_POLICY, Format::Toml).unwrap();
    let store = MemoryStore::default();
    let clock = FakeClock::new();
    let mut attempts = Vec::new();
    let mut decisions = Vec::new();
    let result: Result<(), _> = Retry::new(&mut s, policy)
        .seed(7)
        .shared_store(&store)
        .on_retry(|_: &HttpError, _, d| decisions.push(d.clone()))
        .run(&clock, |a| {
            attempts.push(a.number);
            if interfere_at == Some(a.number) {
                let now = clock.now_ms();
                let d = other
                    .after_failure(
                        other_policy,
                        &other_state(now),
                        &store.get(),
                        &failure_503(),
                        now,
                    )
                    .unwrap();
                store.update(&mut |_| d.shared).unwrap();
            }
            Err(HttpError(503))
        });
    let last = match result {
        Err(RetryError::GaveUp {
            decision: Some(last),
            ..
        }) => last,
        other => panic!("{other:?}"),
    };
    // A refused permit ends the loop on the last decision to retry, already seen.
    if last.give_up.is_some() {
        decisions.push(*last);
    }
    (attempts, decisions, store.get())
}

fn failure_503() -> AttemptFailure {
    AttemptFailure {
        failure: Failure {
            http_status: Some(503),
            ..Failure::default()
        },
        duration_ms: 0,
        pushback_ms: None,
    }
}

/// The other process's operation: its first attempt, started at `now`.
fn other_state(now: u64) -> RetryState {
    RetryState {
        attempts: 1,
        started_at_ms: Some(now),
        seed: 1,
        ..RetryState::default()
    }
}

/// The same operation with single-step `begin_attempt` / `after_failure`
/// calls, in the order the helper makes them, on the same clock.
fn single_step_run(interfere_at: Option<u32>) -> (Vec<u32>, Vec<Decision>, SharedState) {
    let mut s = session();
    let policy = s.load_policy(BREAKER_POLICY, Format::Toml).unwrap();
    let mut other = session();
    let other_policy = other.load_policy(BREAKER_POLICY, Format::Toml).unwrap();
    let (mut state, mut shared) = (RetryState::default(), SharedState::default());
    let mut now = FakeClock::new().now_ms();
    let (mut attempts, mut decisions) = (Vec::new(), Vec::new());
    loop {
        let permit = s.begin_attempt(policy, &state, &shared, now).unwrap();
        shared = permit.shared;
        if permit.refused.is_some() {
            break;
        }
        state = permit.state;
        attempts.push(permit.attempt);
        if interfere_at == Some(permit.attempt) {
            shared = other
                .after_failure(
                    other_policy,
                    &other_state(now),
                    &shared,
                    &failure_503(),
                    now,
                )
                .unwrap()
                .shared;
        }
        if state.seed == 0 {
            state.seed = 7;
        }
        let d = s
            .after_failure(policy, &state, &shared, &failure_503(), now)
            .unwrap();
        (state, shared) = (d.state, d.shared);
        now += d.delay_ms;
        let done = d.give_up.is_some();
        decisions.push(d);
        if done {
            break;
        }
    }
    (attempts, decisions, shared)
}

#[test]
fn another_operations_failure_in_the_shared_state_counts_as_the_single_step_calls_say() {
    // Alone, the operation's own four failures open the breaker.
    let alone = helper_run(None);
    assert_eq!(alone, single_step_run(None));
    assert_eq!(alone.0, [1, 2, 3, 4]);
    // Another process's failure during attempt 2 changes the shared state:
    // every decision is still the single-step calls' (the breaker now opens
    // at the third failure).
    let interfered = helper_run(Some(2));
    assert_eq!(interfered, single_step_run(Some(2)));
    assert_eq!(interfered.0, [1, 2, 3]);
    assert_eq!(
        interfered.1.last().and_then(|d| d.give_up),
        Some(GiveUpReason::CircuitOpen)
    );
    assert_eq!(interfered.2.breaker.circuit, backstop::Circuit::Open);
}

// ---- helper conformance vectors (tests/helpers/*.json, tests/README.md) ----

/// A virtual clock with the vector's cancel time: a sleep that reaches it
/// stops there and raises the cancel flag.
struct VClock<'a> {
    now: Cell<u64>,
    cancel_at: Option<u64>,
    flag: &'a AtomicBool,
}

impl VClock<'_> {
    /// Move to `target`, or to the cancel time if that comes first (true).
    fn advance_to(&self, target: u64) -> bool {
        if let Some(c) = self.cancel_at
            && c >= self.now.get()
            && c <= target
        {
            self.now.set(c);
            self.flag.store(true, Ordering::SeqCst);
            return true;
        }
        self.now.set(target);
        false
    }
}

impl Clock for VClock<'_> {
    fn now_ms(&self) -> u64 {
        self.now.get()
    }
    fn sleep(&self, d: Duration) {
        self.advance_to(self.now.get() + d.as_millis() as u64);
    }
}

#[derive(Debug)]
enum VectorError {
    Scripted {
        id: String,
        failure: Failure,
        pushback: Option<Pushback>,
    },
    Timeout(AttemptTimeout),
}

impl ToFailure for VectorError {
    fn to_failure(&self) -> Failure {
        match self {
            VectorError::Scripted { failure, .. } => failure.clone(),
            VectorError::Timeout(t) => t.to_failure(),
        }
    }
    fn pushback(&self) -> Option<Pushback> {
        match self {
            VectorError::Scripted { pushback, .. } => *pushback,
            VectorError::Timeout(_) => None,
        }
    }
}

fn error_id(e: &VectorError) -> Value {
    match e {
        VectorError::Scripted { id, .. } => json!(id),
        VectorError::Timeout(t) => json!(format!("timeout-{}", t.attempt)),
    }
}

/// Every key of `want` must equal `got`'s, recursively; lists match in length.
fn matches(got: &Value, want: &Value, path: &str) {
    match want {
        Value::Object(w) => {
            for (k, v) in w {
                if k == "seed" && v == "random" {
                    continue;
                }
                let g = got
                    .get(k)
                    .unwrap_or_else(|| panic!("{path}: no {k} in {got}"));
                matches(g, v, &format!("{path}.{k}"));
            }
        }
        Value::Array(w) => {
            let g = got
                .as_array()
                .unwrap_or_else(|| panic!("{path}: {got} is not a list"));
            assert_eq!(g.len(), w.len(), "{path}: {got} vs {want}");
            for (i, (g, w)) in g.iter().zip(w).enumerate() {
                matches(g, w, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(got, want, "{path}"),
    }
}

fn run_call(
    s: &mut Session,
    policy: backstop::Policy,
    origin: u64,
    now: u64,
    call: &Value,
) -> (Value, u64) {
    let flag = AtomicBool::new(false);
    let clock = VClock {
        now: Cell::new(now + call["advance_ms"].as_u64().unwrap_or(0)),
        cancel_at: call["cancel_at_ms"].as_u64().map(|c| origin + c),
        flag: &flag,
    };
    let outcomes = call["outcomes"].as_array().unwrap();
    let attempts = RefCell::new(Vec::new());
    let mut callbacks = Vec::new();
    let mut retry = Retry::new(s, policy)
        .cancel_on(&flag)
        .on_retry(|e: &VectorError, n, d| {
            assert_eq!(n, d.attempt);
            callbacks.push(json!({
                "error": error_id(e), "attempt": n, "delay_ms": d.delay_ms,
                "class": d.classification.class.as_str(), "rule": d.classification.rule,
                "seed": d.state.seed.to_string(),
            }));
        });
    if let Some(seed) = call["seed"].as_str() {
        retry = retry.seed(seed.parse().unwrap());
    }
    if let Some(key) = call["idempotency_key"].as_str() {
        retry = retry.idempotency_key(key);
    }
    if let Some(d) = call["deadline_ms"].as_u64() {
        retry = retry.deadline(UNIX_EPOCH + Duration::from_millis(origin + d));
    }
    let result = retry.run(&clock, |a| {
        let n = a.number;
        attempts.borrow_mut().push(json!({
            "attempt": n, "start_ms": clock.now.get() - origin,
            "timeout_ms": a.timeout.map(|t| t.as_millis() as u64),
        }));
        let o = &outcomes[(n - 1) as usize];
        let cancelled = VectorError::Scripted {
            id: "cancelled".into(),
            failure: Failure::default(),
            pushback: None,
        };
        if o["hang"] == json!(true) {
            // Rust's sync loop cannot interrupt a closure: this client honours
            // its timeout (or sees the cancel), as the loop asks callers to.
            let timeout = a.timeout.map(|t| clock.now.get() + t.as_millis() as u64);
            let target = timeout
                .or(clock.cancel_at)
                .expect("a hang with no timeout or cancel");
            if clock.advance_to(target) {
                return Err(cancelled);
            }
            return Err(VectorError::Timeout(AttemptTimeout {
                attempt: n,
                timeout: a.timeout.unwrap(),
            }));
        }
        if let Some(d) = o["duration_ms"].as_u64()
            && clock.advance_to(clock.now.get() + d)
        {
            return Err(cancelled);
        }
        if let Some(v) = o.get("ok") {
            return Ok(v.as_str().unwrap().to_string());
        }
        let f = &o["error"];
        let at = UNIX_EPOCH + Duration::from_millis(clock.now.get());
        let pushback = if let Some(v) = o["retry_after"].as_str() {
            parse_retry_after(v, at).map(Pushback::After)
        } else {
            o["grpc_retry_pushback_ms"]
                .as_str()
                .map(parse_grpc_pushback)
        };
        Err(VectorError::Scripted {
            id: format!("attempt-{n}"),
            failure: Failure {
                http_status: f["http_status"].as_u64().map(|v| v as u16),
                error_code: f["error_code"].as_str().map(str::to_string),
                error_types: vec!["ScriptedError".into()],
                message: Some(format!("attempt-{n}")),
                ..Failure::default()
            },
            pushback,
        })
    });
    let attempts = attempts.into_inner();
    let result = match result {
        Ok(v) => json!({ "value": v }),
        Err(RetryError::GaveUp {
            reason,
            attempts,
            last,
            decision,
        }) => json!({
            "give_up": reason.as_str(), "attempts": attempts,
            "class": decision.map(|d| d.classification.class.as_str()),
            "cause": last.as_ref().map(error_id),
        }),
        Err(RetryError::Cancelled { .. }) => {
            json!({ "cancelled": true, "attempts": attempts.len() })
        }
        Err(other) => panic!("{other}"),
    };
    let end = clock.now.get();
    (
        json!({ "attempts": attempts, "callbacks": callbacks, "result": result, "end_ms": end - origin }),
        end,
    )
}

#[test]
fn helper_vectors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/helpers");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let engine = Engine::builder()
        .cache(CacheMode::Disabled)
        .build()
        .unwrap();
    let mut count = 0;
    for file in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        let suite: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let origin = suite["origin_ms"].as_u64().unwrap();
        for vector in suite["vectors"].as_array().unwrap() {
            count += 1;
            let name = format!(
                "{}: {}",
                file.file_name().unwrap().to_string_lossy(),
                vector["name"]
            );
            let mut s = engine.session().unwrap();
            let policy = s
                .load_policy(vector["policy"].as_str().unwrap(), Format::Toml)
                .unwrap();
            let mut now = origin;
            let mut seeds = Vec::new();
            for (i, call) in vector["calls"].as_array().unwrap().iter().enumerate() {
                let (got, end) = run_call(&mut s, policy, origin, now, call);
                now = end;
                let mut want = call["expect"].clone();
                let end_ms = want.as_object_mut().unwrap().remove("end_ms").unwrap();
                matches(&got, &want, &format!("{name}, call {i}"));
                if !end_ms.is_null() {
                    assert_eq!(
                        got["end_ms"], end_ms,
                        "{name}, call {i}: the clock at the end"
                    );
                }
                for (j, cb) in want["callbacks"].as_array().unwrap().iter().enumerate() {
                    if cb["seed"] == "random" {
                        seeds.push(got["callbacks"][j]["seed"].as_str().unwrap().to_string());
                    }
                }
            }
            let unique: std::collections::HashSet<_> = seeds.iter().collect();
            assert!(
                !seeds.contains(&"0".to_string()) && unique.len() == seeds.len(),
                "{name}: seeds {seeds:?}"
            );
        }
    }
    assert!(count >= 40, "only {count} helper vectors");
}
