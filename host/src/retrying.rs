//! Retry helpers for Rust code, driven by the planner: the guest decides every
//! wait and every give-up; this module only keeps time, sleeps and holds state.
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

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::engine::{Policy, Session};
use crate::error::Error;
use crate::retry::{AttemptFailure, Decision, GiveUpReason, RetryState, SharedState};
use crate::types::Failure;

/// How a host error describes itself to the classifier.
pub trait ToFailure {
    fn to_failure(&self) -> Failure;
    /// Server pushback (Retry-After) carried by the error, if any.
    fn pushback(&self) -> Option<Duration> {
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

/// The attempt about to run.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    /// 1-based.
    pub number: u32,
    /// The attempt's timeout (the policy's, clamped to the deadline); pass it
    /// to your client: the helper cannot interrupt a running closure.
    pub timeout: Option<Duration>,
}

/// Why [`Retry::run`] returned without a success.
#[derive(Debug, thiserror::Error)]
pub enum RetryError<E> {
    /// The planner gave up; `last` is the last attempt's error (none when the
    /// first attempt was refused, e.g. by an open circuit).
    #[error("gave up after {attempts} attempt(s): {reason}")]
    GaveUp {
        reason: GiveUpReason,
        attempts: u32,
        last: Option<E>,
        decision: Option<Box<Decision>>,
    },
    /// The engine failed (a trap, an invalid policy state).
    #[error(transparent)]
    Engine(#[from] Error),
}

/// Called with every decision to retry.
type RetryHook<'s> = Box<dyn FnMut(&Decision) + 's>;

/// A retry loop for one operation. Build with [`Retry::new`], then `run` it.
pub struct Retry<'s> {
    session: &'s mut Session,
    policy: Policy,
    key: Option<String>,
    shared: SharedState,
    on_retry: Option<RetryHook<'s>>,
}

impl<'s> Retry<'s> {
    pub fn new(session: &'s mut Session, policy: Policy) -> Self {
        Retry {
            session,
            policy,
            key: None,
            shared: SharedState::default(),
            on_retry: None,
        }
    }

    /// Seed jitter from this key (`"<run id>/<step>"`): reproducible per run,
    /// spread across runs. Without it the seed is 0.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Start from this breaker/budget state (persist [`Retry::shared_state`] after).
    pub fn shared_state(mut self, shared: SharedState) -> Self {
        self.shared = shared;
        self
    }

    /// Called with every decision to retry, before the wait.
    pub fn on_retry(mut self, hook: impl FnMut(&Decision) + 's) -> Self {
        self.on_retry = Some(Box::new(hook));
        self
    }

    fn initial_state(&mut self) -> Result<RetryState, Error> {
        let seed = match &self.key {
            Some(key) => self.session.derive_seed(key)?,
            None => 0,
        };
        Ok(RetryState {
            seed,
            ..RetryState::default()
        })
    }

    /// Run `op` until it succeeds or the planner gives up, sleeping on `clock`.
    pub fn run<T, E: ToFailure>(
        mut self,
        clock: &impl Clock,
        mut op: impl FnMut(Attempt) -> Result<T, E>,
    ) -> Result<T, RetryError<E>> {
        let mut state = self.initial_state()?;
        loop {
            let attempt = self.begin(&mut state, clock.now_ms())?;
            let started = clock.now_ms();
            match op(attempt) {
                Ok(value) => {
                    self.shared = self.session.after_success(self.policy, &self.shared)?;
                    return Ok(value);
                }
                Err(err) => {
                    let now = clock.now_ms();
                    let delay = self.after_failure(&mut state, &err, started, now)?;
                    match delay {
                        Ok(delay) => clock.sleep(delay),
                        Err((reason, decision)) => {
                            return Err(gave_up(reason, Some(err), Some(decision)));
                        }
                    }
                }
            }
        }
    }

    /// The async twin of [`Retry::run`]: `sleep` is your runtime's sleep
    /// (e.g. `tokio::time::sleep`), so this works on any executor.
    pub async fn run_async<T, E, Fut, S, SleepFut>(
        mut self,
        clock_ms: impl Fn() -> u64,
        sleep: S,
        mut op: impl FnMut(Attempt) -> Fut,
    ) -> Result<T, RetryError<E>>
    where
        E: ToFailure,
        Fut: Future<Output = Result<T, E>>,
        S: Fn(Duration) -> SleepFut,
        SleepFut: Future<Output = ()>,
    {
        let mut state = self.initial_state()?;
        loop {
            let attempt = self.begin(&mut state, clock_ms())?;
            let started = clock_ms();
            match op(attempt).await {
                Ok(value) => {
                    self.shared = self.session.after_success(self.policy, &self.shared)?;
                    return Ok(value);
                }
                Err(err) => match self.after_failure(&mut state, &err, started, clock_ms())? {
                    Ok(delay) => sleep(delay).await,
                    Err((reason, decision)) => {
                        return Err(gave_up(reason, Some(err), Some(decision)));
                    }
                },
            }
        }
    }

    fn begin<E>(&mut self, state: &mut RetryState, now: u64) -> Result<Attempt, RetryError<E>> {
        let permit = self
            .session
            .begin_attempt(self.policy, state, &self.shared, now)?;
        self.shared = permit.shared;
        if let Some(reason) = permit.refused {
            return Err(gave_up(reason, None, None));
        }
        *state = permit.state;
        Ok(Attempt {
            number: permit.attempt,
            timeout: permit.timeout_ms.map(Duration::from_millis),
        })
    }

    /// `Ok(delay)` to retry, `Err((reason, decision))` to give up.
    #[allow(clippy::type_complexity)]
    fn after_failure<E: ToFailure>(
        &mut self,
        state: &mut RetryState,
        err: &E,
        started_ms: u64,
        now_ms: u64,
    ) -> Result<Result<Duration, (GiveUpReason, Box<Decision>)>, Error> {
        let outcome = AttemptFailure {
            failure: err.to_failure(),
            duration_ms: now_ms.saturating_sub(started_ms),
            pushback_ms: err
                .pushback()
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        };
        let decision =
            self.session
                .after_failure(self.policy, state, &self.shared, &outcome, now_ms)?;
        *state = decision.state;
        self.shared = decision.shared;
        match decision.give_up {
            Some(reason) => Ok(Err((reason, Box::new(decision)))),
            None => {
                if let Some(hook) = &mut self.on_retry {
                    hook(&decision);
                }
                Ok(Ok(Duration::from_millis(decision.delay_ms)))
            }
        }
    }
}

fn gave_up<E>(
    reason: GiveUpReason,
    last: Option<E>,
    decision: Option<Box<Decision>>,
) -> RetryError<E> {
    let attempts = decision.as_ref().map_or(0, |d| d.attempt);
    RetryError::GaveUp {
        reason,
        attempts,
        last,
        decision,
    }
}
