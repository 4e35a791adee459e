//! Retry helpers for Rust code, driven by the planner: the guest decides every
//! wait and every give-up; this module only keeps time, sleeps and holds state.
//! It behaves as the Node, Python and Go helpers do (docs/ARCHITECTURE.md,
//! "Retry helpers: one behaviour in every host"; tests/helpers/*.json).
//!
//! ```no_run
//! use backstop::{Engine, Format, retrying::{Retry, SystemClock}};
//! let engine = Engine::new()?;
//! let mut session = engine.session()?;
//! let policy = session.load_policy("[retry]\nmax_attempts = 4\n", Format::Toml)?;
//! let body = Retry::new(&mut session, policy)
//!     .idempotency_key("nightly-2024-01-01/extract")
//!     .run(&SystemClock, |attempt| std::fs::read_to_string(format!("/data/part-{}.csv", attempt.number)))
//!     .map_err(|e| e.to_string());
//! # Ok::<(), backstop::Error>(())
//! ```

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::engine::{FreshPermit, Policy, Session};
use crate::error::Error;
use crate::planner::{AttemptFailure, Decision, GiveUpReason, Permit, RetryState, SharedState};
pub use crate::pushback::{Pushback, parse_grpc_pushback, parse_retry_after};
use crate::types::Failure;

/// How a host error describes itself to the classifier.
pub trait ToFailure {
    fn to_failure(&self) -> Failure;
    /// Server pushback carried by the error, if any: parse a `Retry-After`
    /// header with [`parse_retry_after`] and `grpc-retry-pushback-ms` with
    /// [`parse_grpc_pushback`] (whose [`Pushback::Never`] means "do not retry").
    fn pushback(&self) -> Option<Pushback> {
        None
    }
}

impl ToFailure for std::io::Error {
    fn to_failure(&self) -> Failure {
        failure_from_error(self)
    }
}

/// A [`Failure`] from any error: its type name, its `source()` chain's
/// messages, and the errno name of the first `std::io::Error` in the chain.
pub fn failure_from_error<E: std::error::Error + 'static>(error: &E) -> Failure {
    let mut failure = Failure {
        error_types: vec![std::any::type_name::<E>().to_string()],
        ..Failure::default()
    };
    let mut messages = vec![error.to_string()];
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    // Bounded like the guest's own cause-chain limit; a cyclic chain stops here too.
    for depth in 0..64 {
        let Some(err) = current else { break };
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if failure.error_code.is_none() {
                failure.error_code = errno_name(io).map(str::to_string);
            }
            // (Compared by depth, not address: a wrapper's first field shares its address.)
            if depth > 0 {
                failure.error_types.push("std::io::Error".into());
            }
        }
        current = err.source();
        if let Some(next) = current {
            messages.push(next.to_string());
        }
    }
    failure.message = Some(messages.join("\n"));
    failure
}

fn errno_name(error: &std::io::Error) -> Option<&'static str> {
    use std::io::ErrorKind as K;
    Some(match error.kind() {
        K::ConnectionReset => "ECONNRESET",
        K::ConnectionRefused => "ECONNREFUSED",
        K::ConnectionAborted => "ECONNABORTED",
        K::TimedOut => "ETIMEDOUT",
        K::BrokenPipe => "EPIPE",
        K::NotFound => "ENOENT",
        K::PermissionDenied => "EACCES",
        K::HostUnreachable => "EHOSTUNREACH",
        K::NetworkUnreachable => "ENETUNREACH",
        K::NetworkDown => "ENETDOWN",
        _ => return None,
    })
}

/// The host's clock. Decisions use milliseconds on one clock throughout; the
/// shared breaker state is compared across processes, so the default is wall time.
pub trait Clock {
    fn now_ms(&self) -> u64;
    fn sleep(&self, duration: Duration);
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// The error of an attempt that ran past its timeout: return it (or an error
/// of yours that reports the same failure) when your client gives up at
/// [`Attempt::timeout`]. Its type name is the one every Backstop host reports,
/// `backstop.AttemptTimeout`, which the built-in rule `builtin.attempt-timeout`
/// classifies as transient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("attempt {attempt} timed out after {timeout:?}")]
pub struct AttemptTimeout {
    pub attempt: u32,
    pub timeout: Duration,
}

impl ToFailure for AttemptTimeout {
    fn to_failure(&self) -> Failure {
        Failure {
            error_types: vec!["backstop.AttemptTimeout".into()],
            message: Some(self.to_string()),
            ..Failure::default()
        }
    }
}

/// What a half-open probe cancelled by the caller is reported as, in every
/// host: the breaker must hear of it (or it would wait for the probe's lease
/// to run out); no rule matches it, so it counts as a failure.
pub fn cancelled_probe_failure() -> Failure {
    Failure {
        error_types: vec!["backstop.Cancelled".into()],
        message: Some("the caller cancelled the half-open probe".into()),
        ..Failure::default()
    }
}

/// Where the state shared by every operation against one dependency (its
/// circuit breaker and retry budget) lives. By default [`Retry`] keeps it in
/// the [`Session`], one per policy; a store of yours (a file with a lock, a
/// database row) shares it between processes.
pub trait SharedStore {
    /// Replace the state with `f(current)`, atomically (under a lock, in a
    /// transaction); a fresh store holds `SharedState::default()`.
    fn update(
        &self,
        f: &mut dyn FnMut(SharedState) -> SharedState,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// An in-memory [`SharedStore`], safe to share between threads.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<SharedState>,
}

impl MemoryStore {
    /// A store holding `state` (e.g. one restored from disk).
    pub fn new(state: SharedState) -> Self {
        MemoryStore {
            state: Mutex::new(state),
        }
    }

    /// The current state, e.g. to persist it.
    pub fn get(&self) -> SharedState {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SharedStore for MemoryStore {
    fn update(
        &self,
        f: &mut dyn FnMut(SharedState) -> SharedState,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *state = f(*state);
        Ok(())
    }
}

/// The attempt about to run.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    /// 1-based.
    pub number: u32,
    /// The attempt's timeout (the policy's, clamped to the deadline); pass it
    /// to your client: the helper cannot interrupt a running closure.
    pub timeout: Option<Duration>,
    /// Whether this attempt is a half-open circuit breaker's probe.
    pub probe: bool,
}

/// Why [`Retry::run`] returned without a success.
#[derive(Debug)]
pub enum RetryError<E> {
    /// The loop gave up, for any reason (a permanent failure included).
    /// `last` is the last attempt's error, also the [`source`](std::error::Error::source)
    /// (none when no attempt ran, e.g. an open circuit refused the first);
    /// `decision` is the planner's last decision (a decision to retry when the
    /// caller's deadline or a refused permit ended the loop).
    GaveUp {
        reason: GiveUpReason,
        attempts: u32,
        last: Option<E>,
        decision: Option<Box<Decision>>,
    },
    /// The caller cancelled (see [`Retry::cancel_on`]); `last` is the last
    /// attempt's error, if one ran.
    Cancelled { attempts: u32, last: Option<E> },
    /// The shared-state store failed.
    Store(Box<dyn std::error::Error + Send + Sync>),
    /// The engine failed (a trap, an invalid policy state).
    Engine(Error),
}

impl<E> From<Error> for RetryError<E> {
    fn from(e: Error) -> Self {
        RetryError::Engine(e)
    }
}

impl<E> fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryError::GaveUp {
                reason,
                decision: Some(d),
                ..
            } if d.give_up == Some(*reason) => f.write_str(&d.explanation),
            RetryError::GaveUp {
                reason, attempts, ..
            } => write!(f, "gave up after {attempts} attempt(s): {reason}"),
            RetryError::Cancelled { attempts, .. } => {
                write!(f, "cancelled after {attempts} attempt(s)")
            }
            RetryError::Store(e) => write!(f, "the shared-state store failed: {e}"),
            RetryError::Engine(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RetryError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RetryError::GaveUp { last, .. } | RetryError::Cancelled { last, .. } => last
                .as_ref()
                .map(|e| e as &(dyn std::error::Error + 'static)),
            RetryError::Store(e) => Some(&**e),
            RetryError::Engine(e) => Some(e),
        }
    }
}

/// Called with (the failed attempt's error, its number, the decision to retry).
type RetryHook<'s, E> = Box<dyn FnMut(&E, u32, &Decision) + 's>;

/// A retry loop for one operation. Build with [`Retry::new`], then `run` it.
pub struct Retry<'s, E> {
    session: &'s mut Session,
    policy: Policy,
    key: Option<String>,
    seed: Option<u64>,
    deadline_ms: Option<u64>,
    store: Option<&'s dyn SharedStore>,
    cancel: Option<&'s AtomicBool>,
    on_retry: Option<RetryHook<'s, E>>,
    _error: PhantomData<fn(&E)>,
}

/// The first attempt, run by [`Retry::run`] before the loop, when it failed:
/// the loop carries on from its failure.
struct FirstFailure<E> {
    permit: Permit,
    started: u64,
    err: E,
}

/// After a failed attempt: wait and retry, or give up.
enum Next {
    Retry(Box<Decision>),
    GiveUp(GiveUpReason, Box<Decision>),
}

impl<'s, E: ToFailure> Retry<'s, E> {
    pub fn new(session: &'s mut Session, policy: Policy) -> Self {
        Retry {
            session,
            policy,
            key: None,
            seed: None,
            deadline_ms: None,
            store: None,
            cancel: None,
            on_retry: None,
            _error: PhantomData,
        }
    }

    /// Seed jitter from this key (`"<run id>/<step>"`): reproducible per run,
    /// spread across runs. Without it (or [`Retry::seed`]) the seed is 64 bits
    /// of the operating system's randomness, never 0.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// An explicit jitter seed, over the idempotency key: fixes the waits in tests.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The caller's deadline, on the clock's timeline (Unix time for
    /// [`SystemClock`]): when the next wait would end at or past it, give up at
    /// once with [`GiveUpReason::Deadline`] instead of sleeping into it.
    pub fn deadline(mut self, deadline: SystemTime) -> Self {
        self.deadline_ms = Some(
            deadline
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        );
        self
    }

    /// Keep the breaker and budget in `store` instead of the session's
    /// per-policy default (shared by every `Retry` with this policy).
    pub fn shared_store(mut self, store: &'s dyn SharedStore) -> Self {
        self.store = Some(store);
        self
    }

    /// Stop when `flag` is set: checked before each attempt, after each
    /// attempt and after each wait (a running closure or a sleep is not
    /// interrupted). Returns [`RetryError::Cancelled`]; a failed half-open
    /// probe that saw the flag is reported to the breaker as a failure.
    pub fn cancel_on(mut self, flag: &'s AtomicBool) -> Self {
        self.cancel = Some(flag);
        self
    }

    /// Called with the failed attempt's error, its number and the decision to
    /// retry, before the wait.
    pub fn on_retry(mut self, hook: impl FnMut(&E, u32, &Decision) + 's) -> Self {
        self.on_retry = Some(Box::new(hook));
        self
    }

    /// Run `op` until it succeeds or the loop gives up, sleeping on `clock`.
    pub fn run<T>(
        mut self,
        clock: &impl Clock,
        mut op: impl FnMut(Attempt) -> Result<T, E>,
    ) -> Result<T, RetryError<E>> {
        // The common case without building the loop's future (work a success
        // need not do): a fresh operation whose permit the guest's known
        // fast-path answer gives, succeeding.
        let mut first = None;
        if let Some((fresh, success_free)) = self.fresh_start() {
            let started = clock.now_ms();
            match op(attempt_of(fresh.get())) {
                Ok(value) => {
                    if !success_free {
                        self.record_success()?;
                    }
                    return Ok(value);
                }
                Err(err) => {
                    first = Some(FirstFailure {
                        permit: fresh.started_at(started),
                        started,
                        err,
                    });
                }
            }
        }
        // One loop for both: with ready futures, the async loop completes in one poll.
        let fut = self.run_loop(
            first,
            || clock.now_ms(),
            |d| {
                clock.sleep(d);
                std::future::ready(())
            },
            |attempt| std::future::ready(op(attempt)),
        );
        let mut fut = std::pin::pin!(fut);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    /// The async twin of [`Retry::run`]: `sleep` is your runtime's sleep
    /// (e.g. `tokio::time::sleep`), so this works on any executor.
    pub async fn run_async<T, Fut, S, SleepFut>(
        self,
        clock_ms: impl Fn() -> u64,
        sleep: S,
        op: impl FnMut(Attempt) -> Fut,
    ) -> Result<T, RetryError<E>>
    where
        Fut: Future<Output = Result<T, E>>,
        S: Fn(Duration) -> SleepFut,
        SleepFut: Future<Output = ()>,
    {
        self.run_loop(None, clock_ms, sleep, op).await
    }

    /// The loop of [`Retry::run_async`], or of [`Retry::run`] carrying on
    /// from a `first` attempt that failed.
    async fn run_loop<T, Fut, S, SleepFut>(
        mut self,
        mut first: Option<FirstFailure<E>>,
        clock_ms: impl Fn() -> u64,
        sleep: S,
        mut op: impl FnMut(Attempt) -> Fut,
    ) -> Result<T, RetryError<E>>
    where
        Fut: Future<Output = Result<T, E>>,
        S: Fn(Duration) -> SleepFut,
        SleepFut: Future<Output = ()>,
    {
        // The seed stays 0 (unset) until the first failure: only jitter reads
        // it, so a call that succeeds at once draws none (and makes no
        // `derive-seed` call for its key).
        let mut state = RetryState::default();
        let mut attempts = 0;
        let mut last: Option<E> = None;
        let mut last_decision: Option<Box<Decision>> = None;
        loop {
            let (permit, started, err) = if let Some(f) = first.take() {
                (f.permit, f.started, f.err)
            } else {
                if self.cancelled() {
                    return Err(RetryError::Cancelled { attempts, last });
                }
                // One clock read per attempt, its start: a permit takes
                // microseconds at most (none on the fast path).
                let (permit, started, success_free) = match self.fresh_start_at(&state) {
                    Some((fresh, success_free)) => {
                        let now = clock_ms();
                        (fresh.started_at(now), now, success_free)
                    }
                    None => {
                        let now = clock_ms();
                        let permit = self.with_shared(|session, policy, shared| {
                            let p = session.begin_attempt(policy, &state, &shared, now)?;
                            Ok((p.shared, p))
                        })?;
                        (permit, now, false)
                    }
                };
                if let Some(reason) = permit.refused {
                    return Err(RetryError::GaveUp {
                        reason,
                        attempts,
                        last,
                        decision: last_decision,
                    });
                }
                match op(attempt_of(&permit)).await {
                    Ok(value) => {
                        if !success_free {
                            self.record_success()?;
                        }
                        return Ok(value);
                    }
                    Err(err) => (permit, started, err),
                }
            };
            state = permit.state;
            attempts = permit.attempt;
            // Read only for a failure: a success needs no duration.
            let ended = clock_ms();
            if self.cancelled() {
                // The caller stopped, not the dependency: nothing is recorded,
                // except that a half-open probe must report, or the breaker
                // waits for it.
                if permit.probe {
                    let outcome = AttemptFailure {
                        failure: cancelled_probe_failure(),
                        duration_ms: ended.saturating_sub(started),
                        pushback_ms: None,
                    };
                    self.with_shared(|session, policy, shared| {
                        let d = session.after_failure(policy, &state, &shared, &outcome, ended)?;
                        Ok((d.shared, ()))
                    })?;
                }
                return Err(RetryError::Cancelled {
                    attempts,
                    last: Some(err),
                });
            }
            match self.after_failure(&mut state, &err, started, ended)? {
                Next::GiveUp(reason, decision) => {
                    return Err(RetryError::GaveUp {
                        reason,
                        attempts,
                        last: Some(err),
                        decision: Some(decision),
                    });
                }
                Next::Retry(decision) => {
                    if self
                        .deadline_ms
                        .is_some_and(|deadline| ended.saturating_add(decision.delay_ms) >= deadline)
                    {
                        // Sleeping into the caller's deadline only to fail there helps no one.
                        return Err(RetryError::GaveUp {
                            reason: GiveUpReason::Deadline,
                            attempts,
                            last: Some(err),
                            decision: Some(decision),
                        });
                    }
                    if let Some(hook) = &mut self.on_retry {
                        hook(&err, decision.attempt, &decision);
                    }
                    sleep(Duration::from_millis(decision.delay_ms)).await;
                    last = Some(err);
                    last_decision = Some(decision);
                }
            }
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|flag| flag.load(Ordering::SeqCst))
    }

    /// The first attempt's permit, not cancelled, from the guest's known
    /// fast-path answer for the session's own shared state (see
    /// [`Session::fresh_start`]), and whether its success records nothing.
    fn fresh_start(&mut self) -> Option<(FreshPermit<'_>, bool)> {
        if self.cancelled() {
            return None;
        }
        self.fresh_start_at(&RetryState::default())
    }

    /// [`Session::fresh_start`] for a fresh operation on the session's own
    /// shared state: the session is borrowed by this loop alone, so nothing
    /// else changes that state before the attempt ends, and a success the
    /// answer says records nothing needs no second look-up. A custom store is
    /// read (and may be changed by others) inside its `update`, so it takes
    /// the general path.
    fn fresh_start_at(&mut self, state: &RetryState) -> Option<(FreshPermit<'_>, bool)> {
        if self.store.is_some() || *state != RetryState::default() {
            return None;
        }
        self.session.fresh_start(self.policy)
    }

    /// After a successful attempt: close a half-open circuit, refill the budget.
    fn record_success(&mut self) -> Result<(), RetryError<E>> {
        self.with_shared(|session, policy, shared| {
            Ok((session.after_success(policy, &shared)?, ()))
        })
    }

    /// Explicit seed > idempotency key > the OS's randomness.
    fn jitter_seed(&mut self) -> Result<u64, Error> {
        Ok(match (self.seed, &self.key) {
            (Some(seed), _) => seed,
            (None, Some(key)) => self.session.derive_seed(key)?,
            (None, None) => random_seed(),
        })
    }

    /// One planner call on the shared state: `f` gets the current state and
    /// returns the next one and its result.
    fn with_shared<T>(
        &mut self,
        mut f: impl FnMut(&mut Session, Policy, SharedState) -> Result<(SharedState, T), Error>,
    ) -> Result<T, RetryError<E>> {
        let policy = self.policy;
        let Some(store) = self.store else {
            // An unloaded policy has no state; the planner call reports it.
            let shared = self
                .session
                .retry_shared(policy)
                .map_or_else(SharedState::default, |s| *s);
            let (next, out) = f(self.session, policy, shared)?;
            if let Some(slot) = self.session.retry_shared(policy) {
                *slot = next;
            }
            return Ok(out);
        };
        let session = &mut *self.session;
        let mut result: Option<Result<T, Error>> = None;
        store
            .update(&mut |shared| match f(session, policy, shared) {
                Ok((next, out)) => {
                    result = Some(Ok(out));
                    next
                }
                Err(e) => {
                    result = Some(Err(e));
                    shared
                }
            })
            .map_err(RetryError::Store)?;
        match result {
            Some(out) => Ok(out?),
            None => Err(RetryError::Store(
                "SharedStore::update returned without calling its function".into(),
            )),
        }
    }

    fn after_failure(
        &mut self,
        state: &mut RetryState,
        err: &E,
        started_ms: u64,
        now_ms: u64,
    ) -> Result<Next, RetryError<E>> {
        let pushback = err.pushback();
        let outcome = AttemptFailure {
            failure: err.to_failure(),
            duration_ms: now_ms.saturating_sub(started_ms),
            pushback_ms: match pushback {
                Some(Pushback::After(d)) => Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                // The planner records the failure; the refusal is applied below.
                Some(Pushback::Never) | None => None,
            },
        };
        if state.seed == 0 && state.attempts <= 1 {
            state.seed = self.jitter_seed()?;
        }
        let current = *state;
        let mut decision = self.with_shared(|session, policy, shared| {
            let d = session.after_failure(policy, &current, &shared, &outcome, now_ms)?;
            Ok((d.shared, d))
        })?;
        *state = decision.state;
        if decision.give_up.is_none() && pushback == Some(Pushback::Never) {
            // The planner would retry, but the server asked not to (gRPC A6).
            decision.give_up = Some(GiveUpReason::PushbackBeyondDeadline);
            decision.delay_ms = 0;
            decision.next_timeout_ms = None;
            decision.explanation = format!(
                "attempt {} failed ({}); give up: pushback-beyond-deadline (the server asked not to retry)",
                decision.attempt, decision.classification.class
            );
        }
        Ok(match decision.give_up {
            Some(reason) => Next::GiveUp(reason, Box::new(decision)),
            None => Next::Retry(Box::new(decision)),
        })
    }
}

/// What the closure is told about the attempt a permit starts.
fn attempt_of(permit: &Permit) -> Attempt {
    Attempt {
        number: permit.attempt,
        timeout: permit.timeout_ms.map(Duration::from_millis),
        probe: permit.probe,
    }
}

/// 64 bits of the operating system's randomness, never 0 (every worker
/// without a key would otherwise retry in lockstep).
fn random_seed() -> u64 {
    // Seeds are read from the OS 64 at a time: one getrandom call per retry
    // loop was most of a successful call's cost (the Node and Python hosts
    // batch theirs the same way).
    thread_local! {
        static POOL: std::cell::RefCell<([u64; 64], usize)> = const { std::cell::RefCell::new(([0; 64], 64)) };
    }
    POOL.with_borrow_mut(|(seeds, next)| {
        loop {
            if *next == seeds.len() {
                let mut bytes = [0u8; 64 * 8];
                if getrandom::fill(&mut bytes).is_ok() {
                    for (seed, chunk) in seeds.iter_mut().zip(bytes.chunks_exact(8)) {
                        *seed = u64::from_ne_bytes(chunk.try_into().expect("8 bytes"));
                    }
                } else {
                    // Without an OS random source there is nothing better than the clock.
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(1, |d| d.as_nanos() as u64);
                    seeds.fill(0);
                    seeds[63] = now;
                }
                *next = 0;
            }
            let seed = seeds[*next];
            *next += 1;
            if seed != 0 {
                return seed;
            }
        }
    })
}
