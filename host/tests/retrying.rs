//! The Rust retry helpers, with a fake clock: every wait comes from the planner.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use backstop::retrying::{Clock, Retry, RetryError, ToFailure, failure_from_error};
use backstop::{CacheMode, Engine, Failure, Format, GiveUpReason, Session};

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
        .on_retry(|d| retried.push(d.attempt))
        .run(&clock, |attempt| {
            if attempt.number < 3 {
                Err(HttpError(503))
            } else {
                Ok(attempt.number)
            }
        });
    assert_eq!(result.unwrap(), 3);
    assert_eq!(*clock.slept.borrow(), [100, 200]);
    assert_eq!(retried, [1, 2]);
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
    // Two failing runs open the breaker; the shared state carries it to the third.
    let first: Result<(), _> = Retry::new(&mut s, policy).run(&clock, |_| Err(HttpError(503)));
    let Err(RetryError::GaveUp {
        reason,
        decision: Some(decision),
        ..
    }) = first
    else {
        panic!()
    };
    assert_eq!(reason, GiveUpReason::CircuitOpen);
    let mut calls = 0;
    let third = Retry::new(&mut s, policy)
        .shared_state(decision.shared)
        .run(&clock, |_| {
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
