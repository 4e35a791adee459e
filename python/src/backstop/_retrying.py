"""Retry helpers driven by the planner: a decorator and tenacity-style
``for attempt in Retrying(policy): with attempt: ...`` loops, sync and async.

Every decision (retry or not, how long to wait, the next attempt's timeout,
the breaker and the budget) comes from the engine; this module only keeps the
clock, sleeps, and keeps the state. Times here are seconds, like ``time.sleep``
and tenacity.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import inspect
import logging
import math
import os
import struct
import sys
import threading
import time
import uuid
import weakref
from typing import (Any, Awaitable, Callable, Iterator, Mapping, Optional, Protocol, TypeVar,
                    Union, overload)

from ._exceptions import _failure_fields_and_pushback
from ._model import Failure
from ._planner import (_ZERO_SHARED, AttemptFailure, Decision, GiveUpReason, Permit, PlannedFailure,
                       RetryState, SharedState, _new_retry_state)
from ._policy import Policy, default_policy, derive_seed
from ._recording import RecordedAttempt, RecordedRun, Recorder, encode_retry_state, hostname

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

logger = logging.getLogger("backstop")

_HAS_ASYNCIO_TIMEOUT = sys.version_info >= (3, 11)


class AttemptTimeout(TimeoutError):
    """An attempt ran past its timeout and was cancelled (async attempts).

    The built-in rule ``builtin.attempt-timeout`` classifies it as transient:
    it is reported to the classifier as ``backstop.AttemptTimeout``, the name
    every host uses.
    """

    def __init__(self, attempt: int, timeout: float) -> None:
        super().__init__(f"attempt {attempt} timed out after {timeout:g}s")
        self.attempt = attempt
        self.timeout = timeout


AttemptTimeout.__module__ = "backstop"  # its classifier name: backstop.AttemptTimeout


class RetryError(Exception):
    """The loop gave up, for any reason (a permanent failure included).
    ``__cause__`` (and :attr:`last_exception`) is the last attempt's
    exception, if an attempt ran: ``raise RetryError(...) from exc``.

    Pass ``reraise=True`` to get the last exception itself instead, for every
    reason alike (tenacity's option).
    """

    def __init__(self, message: str, reason: GiveUpReason, attempts: int,
                 decision: Optional[Decision] = None, permit: Optional[Permit] = None,
                 last_exception: Optional[BaseException] = None) -> None:
        super().__init__(message)
        self.reason = reason
        """Why it gave up."""
        self.attempts = attempts
        """How many attempts ran."""
        self.decision = decision
        """The planner's decision after the last failed attempt (a decision to
        retry when the caller's deadline or a refused permit ended the loop);
        ``None`` when no attempt failed."""
        self.permit = permit
        """The refused permit, when the next attempt was refused (open circuit, deadline);
        its ``retry_after`` says when the circuit half-opens."""
        self.last_exception = last_exception


class SharedStateStore(Protocol):
    """Where the state shared by every operation against one dependency (its
    circuit breaker and retry budget) lives.

    ``update`` must apply ``fn`` atomically: call it with the current state
    for ``key`` (a fresh ``SharedState()`` if there is none), store the state
    it returns first, and return its second value. A store shared between
    processes (a file with a lock, a database row, Redis with WATCH) keeps
    every worker's breaker in step.
    """

    def update(self, key: str, fn: Callable[[SharedState], tuple[SharedState, T]]) -> T: ...


class InMemoryStateStore:
    """A thread-safe, in-process :class:`SharedStateStore`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, SharedState] = {}

    def update(self, key: str, fn: Callable[[SharedState], tuple[SharedState, T]]) -> T:
        with self._lock:
            state, result = fn(self._states.get(key, _FRESH))
            if not isinstance(state, SharedState):
                raise TypeError(f"update() needs a SharedState, not {type(state).__name__}")
            self._states[key] = state
            return result

    def get(self, key: str = "default") -> SharedState:
        """The state for ``key`` (fresh if never stored), e.g. to persist it."""
        with self._lock:
            return self._states.get(key, _FRESH)

    def set(self, key: str, state: SharedState) -> None:
        """Replace the state for ``key``, e.g. with one restored from disk."""
        if not isinstance(state, SharedState):
            raise TypeError(f"set() needs a SharedState, not {type(state).__name__}")
        with self._lock:
            self._states[key] = state

    def __repr__(self) -> str:
        with self._lock:
            return f"<InMemoryStateStore {sorted(self._states)}>"


_FRESH = _ZERO_SHARED

#: By default every operation with one Policy object shares one store: its
#: breaker and budget. Weak keys, so the store goes with the policy.
_DEFAULT_STORES: "weakref.WeakKeyDictionary[Policy, InMemoryStateStore]" = weakref.WeakKeyDictionary()
_DEFAULT_STORES_LOCK = threading.Lock()


def _store_for(policy: Policy) -> InMemoryStateStore:
    with _DEFAULT_STORES_LOCK:
        store = _DEFAULT_STORES.get(policy)
        if store is None:
            store = _DEFAULT_STORES[policy] = InMemoryStateStore()
        return store


#: What a cancelled half-open probe is reported as, in every host: the probe
#: did not succeed, so the breaker must hear of it (or it would wait for the
#: probe's lease to run out); no rule matches it, so it counts as a failure.
CANCELLED_PROBE_FAILURE = Failure(error_types=["backstop.Cancelled"],
                                  message="the caller cancelled the half-open probe")
_current: contextvars.ContextVar[Optional["Attempt"]] = contextvars.ContextVar(
    "backstop_attempt", default=None)


def current_attempt() -> Optional["Attempt"]:
    """The attempt running in this context (thread or task), or ``None``.

    For code inside a decorated function that wants its attempt's timeout:
    ``requests.get(url, timeout=backstop.current_attempt().timeout)``.
    """
    return _current.get()


_RUNNING, _SUCCEEDED, _RETRYING, _GAVE_UP = "running", "succeeded", "retrying", "gave-up"


class Attempt:
    """One attempt. Run its body in ``with attempt:`` (or ``async with`` in an
    async loop, which also enforces the timeout).

    An exception from the body is classified and planned for when the block
    exits: a retry suppresses it (the loop sleeps, then yields the next
    attempt); giving up lets it (or a :class:`RetryError`) propagate.
    """

    def __init__(self, operation: "_Operation", permit: Permit) -> None:
        self._operation = operation
        self.permit = permit
        """The engine's permit for this attempt."""
        self.decision: Optional[Decision] = None
        """After a failure: the planner's decision."""
        self._status = ""
        self._started = 0.0
        self._token: Optional[contextvars.Token[Optional[Attempt]]] = None
        self._timeout_cm: Any = None

    @property
    def number(self) -> int:
        """1-based."""
        return self.permit.attempt

    @property
    def timeout(self) -> Optional[float]:
        """This attempt's timeout in seconds (the policy's attempt timeout,
        clamped to what remains of the deadline), or ``None``. Sync attempts
        are not interrupted: pass it to your client (``timeout=attempt.timeout``).
        ``async with attempt:`` enforces it."""
        return self.permit.timeout

    @property
    def probe(self) -> bool:
        """Whether this attempt is a half-open circuit breaker's probe."""
        return self.permit.probe

    # -- sync ---------------------------------------------------------------

    def __enter__(self) -> "Attempt":
        if self._status:
            raise RuntimeError(f"attempt {self.number} was already entered")
        self._status = _RUNNING
        self._token = _current.set(self)
        self._started = self._operation.clock()
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> bool:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
        return self._conclude(exc, substituted=False)

    # -- async --------------------------------------------------------------

    async def __aenter__(self) -> "Attempt":
        self.__enter__()
        if self.timeout is not None and _HAS_ASYNCIO_TIMEOUT:
            self._timeout_cm = asyncio.timeout(self.timeout)
            await self._timeout_cm.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> bool:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
        substituted = False
        cm, self._timeout_cm = self._timeout_cm, None
        if cm is not None:
            try:
                await cm.__aexit__(exc_type, exc, tb)
            except TimeoutError as fired:
                # Our timeout cancelled the body: report it as the attempt's failure.
                assert self.timeout is not None
                timeout_exc = AttemptTimeout(self.number, self.timeout)
                timeout_exc.__cause__ = fired
                exc, substituted = timeout_exc, True
        return self._conclude(exc, substituted)

    # -- both -----------------------------------------------------------------

    def _conclude(self, exc: Optional[BaseException], substituted: bool) -> bool:
        """Record the outcome. True suppresses the body's exception (retry);
        False lets it propagate; a substituted exception is raised here."""
        op = self._operation
        if exc is None:
            self._status = _SUCCEEDED
            ended = op.clock()
            op.succeeded()
            if op.recording is not None:
                # After the shared state took it: a call that ends in a store
                # error is not recorded.
                op.recording.attempt(self, ended, "succeeded")
                op.recording.finish(op, "succeeded", "succeeded")
            return False
        now = op.clock()
        duration_ms = max(0, round((now - self._started) * 1000))
        if not isinstance(exc, Exception):
            # KeyboardInterrupt, SystemExit, cancellation: the caller stopped,
            # not the dependency, so it is not planned for; except that a
            # half-open probe must report, or the breaker waits for it.
            self._status = _GAVE_UP
            if op.recording is not None:
                # As `backstop run` stopped by a signal: the run stays running.
                op.recording.attempt(self, now, "interrupted",
                                     explanation=f"the caller stopped it ({type(exc).__name__})")
                op.recording.finish(op, "running", None)
            if self.probe:
                op.cancelled_probe(duration_ms)
            return False
        self.decision = decision = op.failed(exc, duration_ms, now)
        past_deadline = op.config.deadline is not None and op.past_deadline(decision)
        if decision.give_up is None and not past_deadline:
            self._status = _RETRYING
            if op.recording is not None:
                op.recording.attempt(self, now, "retry", decision=decision, exc=exc)
            return True
        self._status = _GAVE_UP
        error = op.give_up_error(decision, exc, GiveUpReason.DEADLINE if past_deadline else None)
        if op.recording is not None:
            reason = GiveUpReason.DEADLINE if past_deadline else decision.give_up
            assert reason is not None
            op.recording.attempt(self, now, "give-up", decision=decision, exc=exc, reason=reason,
                                 explanation=op.give_up_explanation(decision, reason))
            op.recording.finish(op, "failed", reason.value)
        if error is not exc:
            raise error from exc
        if not substituted:
            return False  # re-raise the original, traceback intact
        raise error


class _Operation:
    """One operation's retry state and its calls into the planner."""

    def __init__(self, config: "_Config") -> None:
        self.config = config
        self.clock = config.clock
        # A fresh state; the seed is checked already (see _Config.seed).
        self.state: RetryState = _new_retry_state(0, None, 0, config.seed())
        self.last_exception: Optional[BaseException] = None
        self.last_decision: Optional[Decision] = None
        # The engine's last plan_failures answer, the failure and pushback it
        # answered for, and the entry the last decision came from.
        self._plan: tuple[PlannedFailure, ...] = ()
        self._plan_for: Optional[tuple[tuple[Any, ...], Optional[int]]] = None
        self._plan_at = -1
        self.recording: Optional[_Recording] = (
            None if config.recorder is None else _Recording(config, self._now_ms()))

    def _now_ms(self) -> int:
        return _clock_ms(self.clock())

    def begin(self) -> Attempt:
        cfg = self.config
        now_ms = self._now_ms()

        def begin(shared: SharedState) -> tuple[SharedState, Permit]:
            if not isinstance(shared, SharedState):  # from a custom store
                raise TypeError(f"shared must be a SharedState, not {type(shared).__name__}")
            permit = self._planned_permit(shared)
            if permit is None:
                permit = cfg.policy._begin_attempt(self.state, shared, now_ms)
            return permit.shared, permit

        permit = cfg.store.update(cfg.dependency, begin)
        if permit.refused is not None:
            if self.recording is not None:
                self.recording.finish(self, "failed", permit.refused.value, state=permit.state)
            raise self._refused(permit)
        self.state = permit.state
        return Attempt(self, permit)

    def _refused(self, permit: Permit) -> BaseException:
        reason = permit.refused
        assert reason is not None
        last = self.last_exception
        if reason is GiveUpReason.CIRCUIT_OPEN:
            message = (f"attempt {permit.attempt} refused: the circuit is open "
                       f"(half-opens in {permit.retry_after:g}s)")
        else:
            message = f"attempt {permit.attempt} refused: {reason.value}"
        logger.debug("backstop: %s", message)
        if self.config.reraise and last is not None:
            _add_note(last, f"backstop: {message}")
            return last
        error = RetryError(message, reason, self.state.attempts, decision=self.last_decision,
                           permit=permit, last_exception=last)
        error.__cause__ = last
        return error

    def _report(self, failure: tuple[Any, ...], duration_ms: int, pushback_ms: Optional[int],
                now_ms: int) -> Decision:
        cfg = self.config

        def after(shared: SharedState) -> tuple[SharedState, Decision]:
            if not isinstance(shared, SharedState):  # from a custom store
                raise TypeError(f"shared must be a SharedState, not {type(shared).__name__}")
            decision = cfg.policy._after_failure(self.state, shared, failure, duration_ms,
                                                 pushback_ms, now_ms)
            return decision.shared, decision

        return cfg.store.update(cfg.dependency, after)

    def _planned_permit(self, shared: SharedState) -> Optional[Permit]:
        """The next permit of the plan entry the last decision came from, if
        the engine said it holds at any time and the states are the ones that
        entry answered for."""
        if self._plan_at < 0:
            return None
        entry = self._plan[self._plan_at]
        decision = entry.decision
        if (entry.next_permit is not None and _same(decision.shared, shared)
                and _same(decision.state, self.state)):
            return entry.next_permit
        return None

    def _report_repeatable(self, failure: tuple[Any, ...], duration_ms: int,
                           pushback_ms: Optional[int], now_ms: int) -> Decision:
        """A failed attempt, through the engine's plan_failures: the next
        entry of the last answer when it answered for this failure and
        pushback and for the states held now (no engine call), else a new
        answer."""
        cfg = self.config
        key = (failure, pushback_ms)
        plan, at = self._plan, self._plan_at

        def after(shared: SharedState) -> tuple[SharedState, tuple[tuple[PlannedFailure, ...], int]]:
            if not isinstance(shared, SharedState):  # from a custom store
                raise TypeError(f"shared must be a SharedState, not {type(shared).__name__}")
            if 0 <= at < len(plan) - 1 and self._plan_for == key:
                permit = plan[at].next_permit
                if permit is not None and _same(permit.shared, shared) and _same(permit.state, self.state):
                    return plan[at + 1].decision.shared, (plan, at + 1)
            entries = cfg.policy._plan_failures(self.state, shared, failure, duration_ms, pushback_ms,
                                                now_ms, _PLANNED_FAILURES)
            return entries[0].decision.shared, (entries, 0)

        # The store may run `after` more than once (a transaction retried),
        # so the plan is kept only once the store has taken its answer.
        self._plan, self._plan_at = cfg.store.update(cfg.dependency, after)
        self._plan_for = key
        return self._plan[self._plan_at].decision

    def failed(self, exc: Exception, duration_ms: int, now: float) -> Decision:
        """Report a failed attempt that ended at ``now`` (on the clock)."""
        self.last_exception = exc
        now_ms = _clock_ms(now)
        failure, pushback = _failure_fields_and_pushback(exc, now)
        never = pushback is not None and math.isinf(pushback)
        # Checked values only (a duration from the clock, a pushback parsed
        # to whole milliseconds, a failure built from the exception), so no
        # AttemptFailure is built and checked just to be taken apart.
        decision = self._report_repeatable(failure, duration_ms,
                                           None if pushback is None or never else int(pushback), now_ms)
        self.state = decision.state
        if never and decision.give_up is None:
            # The planner would retry, but the server asked not to (gRPC A6).
            decision = dataclasses.replace(
                decision, give_up=GiveUpReason.PUSHBACK_BEYOND_DEADLINE, delay_ms=0, next_timeout_ms=None,
                explanation=(f"attempt {decision.attempt} failed ({decision.classification.failure_class.value}); "
                             "give up: pushback-beyond-deadline (the server asked not to retry)"))
        self.last_decision = decision
        logger.debug("backstop: %s", decision.explanation)
        return decision

    def cancelled_probe(self, duration_ms: int) -> None:
        outcome = AttemptFailure(CANCELLED_PROBE_FAILURE, duration_ms, None)
        self._report(outcome._failure_fields(), outcome.duration_ms, None, self._now_ms())

    def succeeded(self) -> None:
        policy = self.config.policy
        self.config.store.update(self.config.dependency, lambda shared: (policy.after_success(shared), None))

    def past_deadline(self, decision: Decision) -> bool:
        """Would the wait of a decision to retry end at or past the caller's deadline?"""
        deadline = self.config.deadline
        return (decision.should_retry and deadline is not None
                and self._now_ms() + decision.delay_ms >= round(deadline * 1000))

    def give_up_explanation(self, decision: Decision, reason: Optional[GiveUpReason]) -> str:
        if reason is GiveUpReason.DEADLINE and decision.give_up is None:
            return (f"attempt {decision.attempt} failed ({decision.classification.failure_class.value}); "
                    f"give up: deadline (a wait of {decision.delay_ms} ms would end past the caller's deadline)")
        return decision.explanation

    def give_up_error(self, decision: Decision, exc: BaseException,
                      reason: Optional[GiveUpReason] = None) -> BaseException:
        explanation = self.give_up_explanation(decision, reason)
        if reason is not GiveUpReason.DEADLINE:
            reason = decision.give_up
        assert reason is not None
        _add_note(exc, f"backstop: {explanation}")
        if self.config.reraise:
            return exc
        return RetryError(explanation, reason, decision.attempt, decision=decision, last_exception=exc)


class _Recording:
    """One call's run for the recorder: its attempts as they end, written
    once when the call ends. A recorder's error is logged, never raised."""

    def __init__(self, config: "_Config", now_ms: int) -> None:
        self.recorder: Recorder = config.recorder  # type: ignore[assignment]
        self.run_id = config.run_id if config.run_id is not None else uuid.uuid4().hex
        self.step = config.step if config.step is not None else config.dependency
        self.started_ms = now_ms
        self.attempts: list[RecordedAttempt] = []
        self.delay_before_ms = 0
        self.done = False

    def attempt(self, attempt: Attempt, now: float, verdict: str, *, decision: Optional[Decision] = None,
                exc: Optional[BaseException] = None, reason: Optional[GiveUpReason] = None,
                explanation: Optional[str] = None) -> None:
        c = None if decision is None else decision.classification
        retrying = verdict == "retry" and decision is not None
        self.attempts.append(RecordedAttempt(
            attempt=attempt.number, started_at_ms=max(0, round(attempt._started * 1000)),
            ended_at_ms=max(0, round(now * 1000)), delay_before_ms=self.delay_before_ms,
            timeout_ms=attempt.permit.timeout_ms, decision=verdict,
            timed_out=isinstance(exc, AttemptTimeout),
            failure_class=None if c is None else c.failure_class.value, rule=None if c is None else c.rule,
            give_up_reason=None if reason is None else reason.value,
            delay_after_ms=decision.delay_ms if retrying else None,  # type: ignore[union-attr]
            explanation=explanation if explanation is not None else (
                None if decision is None else decision.explanation)))
        if retrying:
            self.delay_before_ms = decision.delay_ms  # type: ignore[union-attr]

    def finish(self, op: "_Operation", status: str, outcome: Optional[str],
               state: Optional[RetryState] = None) -> None:
        if self.done:
            return
        self.done = True
        run = RecordedRun(run_id=self.run_id, step=self.step, status=status, outcome=outcome,
                          retry_state=encode_retry_state(op.state if state is None else state),
                          started_at_ms=self.started_ms, ended_at_ms=op._now_ms(),
                          attempts=tuple(self.attempts), host=_HOST)
        try:
            self.recorder.record(run)
        except Exception as exc:  # recording never changes the call's result
            logger.warning("backstop: the run %r of %r was not recorded: %s", self.run_id, self.step, exc)


_HOST = hostname()
#: Entries asked of plan_failures at once (the engine answers at most 64).
_PLANNED_FAILURES = 16


def _same(a: Any, b: Any) -> bool:
    """Equal states; the loop usually holds the very object the engine gave."""
    return a is b or a == b


_U64_MAX = (1 << 64) - 1


def _clock_ms(seconds: float) -> int:
    """A clock reading as the engine's ``now_ms``, checked as the public
    methods check it (the loop calls the engine past those checks)."""
    ms = max(0, round(seconds * 1000))
    if ms > _U64_MAX:
        raise ValueError(f"now_ms {ms} is outside 0..2^64-1")
    return ms


def _add_note(exc: BaseException, note: str) -> None:
    add_note = getattr(exc, "add_note", None)  # Python 3.11+
    if add_note is not None and note not in getattr(exc, "__notes__", ()):
        add_note(note)


#: 64-bit seeds from the OS's randomness, read 512 at a time: one system call
#: per operation was a measurable part of a successful call. Taking the next
#: one is atomic under the GIL, so no two operations share a seed; a forked
#: child starts a new batch rather than repeat its parent's.
_SEED_BATCH = struct.Struct("<512Q")
_seeds: Iterator[int] = iter(())


def _random_seed() -> int:
    global _seeds
    while True:
        for seed in _seeds:
            if seed:  # never 0
                return seed
        _seeds = iter(_SEED_BATCH.unpack(os.urandom(_SEED_BATCH.size)))


def _reset_seeds() -> None:
    global _seeds
    _seeds = iter(())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_seeds)


class _Config:
    def __init__(self, policy: Optional[Policy], idempotency_key: Optional[str], seed: Optional[int],
                 shared_state: Optional[SharedStateStore], dependency: str,
                 on_retry: Optional[Callable[..., Any]], reraise: bool,
                 clock: Callable[[], float], deadline: Optional[float] = None,
                 recorder: Optional[Recorder] = None, run_id: Optional[str] = None,
                 step: Optional[str] = None) -> None:
        if policy is None:
            policy = default_policy()
        if not isinstance(policy, Policy):
            raise TypeError(f"policy must be a backstop.Policy, not {type(policy).__name__}")
        if idempotency_key is not None and not isinstance(idempotency_key, str):
            raise TypeError(f"idempotency_key must be str, not {type(idempotency_key).__name__}")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)
                                 or not 0 <= seed < 1 << 64):
            raise ValueError(f"seed must be an int in 0..2^64-1, not {seed!r}")
        if not isinstance(dependency, str):
            raise TypeError(f"dependency must be str, not {type(dependency).__name__}")
        if shared_state is not None and (isinstance(shared_state, (SharedState, Mapping))
                                         or not callable(getattr(shared_state, "update", None))):
            raise TypeError("shared_state must be a SharedStateStore such as InMemoryStateStore() "
                            f"(seed one with its set()), not {type(shared_state).__name__}")
        if on_retry is not None and not callable(on_retry):
            raise TypeError("on_retry must be callable")
        if deadline is not None and (isinstance(deadline, bool) or not isinstance(deadline, (int, float))
                                     or not math.isfinite(deadline)):
            raise TypeError(f"deadline must be a finite number of seconds on the clock, not {deadline!r}")
        if recorder is not None and not callable(getattr(recorder, "record", None)):
            raise TypeError("recorder must have a record(run) method, such as backstop.SqliteRecorder(path), "
                            f"not {type(recorder).__name__}")
        for name, value in (("run_id", run_id), ("step", step)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise TypeError(f"{name} must be a non-blank str, not {value!r}")
        self.recorder = recorder
        self.run_id = run_id
        self.step = step
        self.policy = policy
        self.idempotency_key = idempotency_key
        self.fixed_seed = seed
        self.store: SharedStateStore = _store_for(policy) if shared_state is None else shared_state
        self.dependency = dependency
        self.on_retry = on_retry
        self.reraise = reraise
        self.clock = clock
        self.deadline = deadline

    def seed(self) -> int:
        # An explicit seed (tests) > the idempotency key (a run's delays are
        # reproducible) > the OS's randomness (concurrent operations spread out
        # instead of retrying in lockstep; never 0).
        if self.fixed_seed is not None:
            return self.fixed_seed
        if self.idempotency_key is not None:
            return derive_seed(self.idempotency_key)
        return _random_seed()

    def with_key(self, key: Optional[str], run_id: Optional[str] = None) -> "_Config":
        if key is None and run_id is None:
            return self
        if key is not None and not isinstance(key, str):
            raise TypeError(f"idempotency_key must give a str, not {type(key).__name__}")
        if run_id is not None and (not isinstance(run_id, str) or not run_id.strip()):
            raise TypeError(f"run_id must give a non-blank str, not {run_id!r}")
        copy = object.__new__(_Config)
        copy.__dict__.update(self.__dict__)
        if key is not None:
            copy.idempotency_key = key
        if run_id is not None:
            copy.run_id = run_id
        return copy


class _BaseRetrying:
    def __init__(self, policy: Optional[Policy] = None, *, idempotency_key: Optional[str] = None,
                 seed: Optional[int] = None, shared_state: Optional[SharedStateStore] = None,
                 dependency: str = "default", on_retry: Optional[Callable[..., Any]] = None,
                 reraise: bool = False, clock: Callable[[], float] = time.time,
                 deadline: Optional[float] = None, recorder: Optional[Recorder] = None,
                 run_id: Optional[str] = None, step: Optional[str] = None) -> None:
        self._config = _Config(policy, idempotency_key, seed, shared_state, dependency, on_retry,
                               reraise, clock, deadline, recorder, run_id, step)

    @property
    def policy(self) -> Policy:
        return self._config.policy

    @property
    def shared_state(self) -> SharedStateStore:
        """The store holding the breaker and budget (shared across operations)."""
        return self._config.store


class Retrying(_BaseRetrying):
    """Run an operation under a policy, retrying as the engine decides.

    >>> for attempt in Retrying(policy, idempotency_key="run-42/extract"):  # doctest: +SKIP
    ...     with attempt:
    ...         data = fetch(timeout=attempt.timeout)

    Each iteration (``for``) is one operation with a fresh retry state; the
    circuit breaker and retry budget live in ``shared_state`` under
    ``dependency`` and carry over between operations.

    Options:

    * ``policy``: a loaded :class:`~backstop.Policy` (default: the built-in rules
      and retry defaults);
    * ``idempotency_key``: seeds the jitter (``"<run id>/<step>"``) so a run's
      delays are reproducible; without it (or ``seed``) the seed is 64 random
      bits from the OS (``os.urandom``), never 0;
    * ``seed``: an explicit jitter seed, over the key: fixes the waits in tests;
    * ``shared_state``, ``dependency``: a :class:`SharedStateStore` and the key
      of this dependency in it (default: an in-memory store per Policy object,
      shared by every loop using that policy);
    * ``on_retry(exception, attempt, decision)``: called before each wait;
    * ``deadline``: the caller's deadline, in seconds on ``clock``: when the
      next wait would end at or past it, give up at once with reason
      ``deadline`` rather than sleep into it;
    * ``reraise``: give up by re-raising the last exception instead of
      :class:`RetryError` (``raise RetryError(...) from exc``), for every reason;
    * ``sleep(seconds)``, ``clock()``: ``time.sleep`` and ``time.time`` (a wall
      clock, because shared state may cross processes); inject fakes in tests;
    * ``recorder``: record each operation, when it ends, as a run with its
      attempts into the state store ``backstop stats`` reads
      (:class:`~backstop.SqliteRecorder`, ``backstop.postgres.PostgresRecorder``);
      a recorder's error is logged (logger ``backstop``), never raised;
    * ``run_id``: the recorded run's id (default: a new one per operation);
      ``step``: its step (default: ``dependency``, as the CLI's ``--step``
      names both).
    """

    def __init__(self, policy: Optional[Policy] = None, *, idempotency_key: Optional[str] = None,
                 seed: Optional[int] = None, shared_state: Optional[SharedStateStore] = None,
                 dependency: str = "default", on_retry: Optional[Callable[..., Any]] = None,
                 reraise: bool = False, sleep: Callable[[float], Any] = time.sleep,
                 clock: Callable[[], float] = time.time, deadline: Optional[float] = None,
                 recorder: Optional[Recorder] = None, run_id: Optional[str] = None,
                 step: Optional[str] = None) -> None:
        super().__init__(policy, idempotency_key=idempotency_key, seed=seed,
                         shared_state=shared_state, dependency=dependency, on_retry=on_retry,
                         reraise=reraise, clock=clock, deadline=deadline, recorder=recorder,
                         run_id=run_id, step=step)
        self._sleep = sleep

    def __iter__(self) -> Iterator[Attempt]:
        return _Attempts(_Operation(self._config), self._sleep)

    def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call ``fn(*args, **kwargs)`` until it succeeds or the planner gives up."""
        if inspect.iscoroutinefunction(fn):
            raise TypeError(f"{getattr(fn, '__name__', fn)!r} is a coroutine function: use AsyncRetrying")
        return _call_sync(_Operation(self._config), self._sleep, fn, args, kwargs)


class _Attempts:
    """The sync attempt iterator (a class, not a generator, so an early
    ``return`` from the loop leaves nothing to finalise)."""

    def __init__(self, operation: _Operation, sleep: Callable[[float], Any]) -> None:
        self._operation = operation
        self._sleep = sleep
        self._attempt: Optional[Attempt] = None

    def __iter__(self) -> "_Attempts":
        return self

    def __next__(self) -> Attempt:
        previous = self._attempt
        if previous is not None:
            decision = _check_previous(previous)
            if decision is None:
                raise StopIteration
            on_retry = self._operation.config.on_retry
            if on_retry is not None:
                on_retry(self._operation.last_exception, decision.attempt, decision)
            self._sleep(decision.delay_ms / 1000)
        self._attempt = self._operation.begin()
        return self._attempt


def _check_previous(attempt: Attempt) -> Optional[Decision]:
    """The decision to retry after ``attempt``, or None when the loop is over."""
    if not attempt._status:
        raise RuntimeError("run each attempt's body inside `with attempt:`")
    if attempt._status == _RUNNING:
        raise RuntimeError(f"attempt {attempt.number} has not finished")
    if attempt._status == _RETRYING:
        return attempt.decision
    return None


def _call_sync(op: _Operation, sleep: Callable[[float], Any], fn: Callable[..., T],
               args: Any, kwargs: Any) -> T:
    for attempt in _Attempts(op, sleep):
        with attempt:
            return fn(*args, **kwargs)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


class AsyncRetrying(_BaseRetrying):
    """The async twin of :class:`Retrying`: ``async for attempt in
    AsyncRetrying(policy): async with attempt: ...``. ``async with`` cancels
    the body at the attempt's timeout (raising :class:`AttemptTimeout`, which
    is classified transient); ``sleep`` defaults to ``asyncio.sleep``, and
    ``on_retry`` may be a coroutine function."""

    def __init__(self, policy: Optional[Policy] = None, *, idempotency_key: Optional[str] = None,
                 seed: Optional[int] = None, shared_state: Optional[SharedStateStore] = None,
                 dependency: str = "default", on_retry: Optional[Callable[..., Any]] = None,
                 reraise: bool = False, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 clock: Callable[[], float] = time.time, deadline: Optional[float] = None,
                 recorder: Optional[Recorder] = None, run_id: Optional[str] = None,
                 step: Optional[str] = None) -> None:
        super().__init__(policy, idempotency_key=idempotency_key, seed=seed,
                         shared_state=shared_state, dependency=dependency, on_retry=on_retry,
                         reraise=reraise, clock=clock, deadline=deadline, recorder=recorder,
                         run_id=run_id, step=step)
        self._sleep = sleep

    def __aiter__(self) -> "_AsyncAttempts":
        return _AsyncAttempts(_Operation(self._config), self._sleep)

    async def __call__(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Await ``fn(*args, **kwargs)`` until it succeeds or the planner gives up."""
        return await _call_async(_Operation(self._config), self._sleep, fn, args, kwargs)


class _AsyncAttempts:
    def __init__(self, operation: _Operation, sleep: Callable[[float], Awaitable[Any]]) -> None:
        self._operation = operation
        self._sleep = sleep
        self._attempt: Optional[Attempt] = None

    def __aiter__(self) -> "_AsyncAttempts":
        return self

    async def __anext__(self) -> Attempt:
        previous = self._attempt
        if previous is not None:
            decision = _check_previous(previous)
            if decision is None:
                raise StopAsyncIteration
            on_retry = self._operation.config.on_retry
            if on_retry is not None:
                result = on_retry(self._operation.last_exception, decision.attempt, decision)
                if inspect.isawaitable(result):
                    await result
            await self._sleep(decision.delay_ms / 1000)
        self._attempt = self._operation.begin()
        return self._attempt


async def _call_async(op: _Operation, sleep: Callable[[float], Awaitable[Any]],
                      fn: Callable[..., Awaitable[T]], args: Any, kwargs: Any) -> T:
    async for attempt in _AsyncAttempts(op, sleep):
        async with attempt:
            if _HAS_ASYNCIO_TIMEOUT or attempt.timeout is None:
                return await fn(*args, **kwargs)
            # Python < 3.11 has no asyncio.timeout for `async with attempt`.
            try:
                return await asyncio.wait_for(fn(*args, **kwargs), attempt.timeout)
            except asyncio.TimeoutError as fired:
                raise AttemptTimeout(attempt.number, attempt.timeout) from fired
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


KeyArg = Union[str, Callable[..., str], None]


@overload
def retry(policy: F) -> F: ...


@overload
def retry(policy: Optional[Policy] = None, *, idempotency_key: KeyArg = None,
          seed: Optional[int] = None, shared_state: Optional[SharedStateStore] = None,
          dependency: str = "default", on_retry: Optional[Callable[..., Any]] = None,
          reraise: bool = False, sleep: Optional[Callable[[float], Any]] = None,
          clock: Callable[[], float] = time.time,
          deadline: Optional[float] = None, recorder: Optional[Recorder] = None,
          run_id: KeyArg = None, step: Optional[str] = None) -> Callable[[F], F]: ...


def retry(policy: Any = None, *, idempotency_key: KeyArg = None, seed: Optional[int] = None,
          shared_state: Optional[SharedStateStore] = None, dependency: str = "default",
          on_retry: Optional[Callable[..., Any]] = None, reraise: bool = False,
          sleep: Optional[Callable[[float], Any]] = None,
          clock: Callable[[], float] = time.time, deadline: Optional[float] = None,
          recorder: Optional[Recorder] = None, run_id: KeyArg = None, step: Optional[str] = None) -> Any:
    """Decorate a function (sync or ``async def``) to retry under a policy.

    >>> @retry(policy, idempotency_key=lambda run_id, step: f"{run_id}/{step}")  # doctest: +SKIP
    ... def train(run_id, step): ...

    ``idempotency_key`` and ``run_id`` (with ``recorder``) may be a string or
    a function of the call's arguments. Each call is one operation; calls share one circuit breaker and
    retry budget (``shared_state`` under ``dependency``; by default the
    in-memory store of the Policy object, shared with every loop using it). ``sleep`` defaults
    to ``time.sleep``, or ``asyncio.sleep`` for a coroutine function. Other
    options as in :class:`Retrying`. ``@retry`` alone uses the default policy.
    """
    if callable(policy) and not isinstance(policy, Policy):
        return retry()(policy)  # bare @retry
    key_fn: Optional[Callable[..., str]] = None
    fixed_key: Optional[str] = None
    if callable(idempotency_key):
        key_fn = idempotency_key
    else:
        fixed_key = idempotency_key  # _Config checks it is a str
    run_id_fn: Optional[Callable[..., str]] = None
    fixed_run_id: Optional[str] = None
    if callable(run_id):
        run_id_fn = run_id
    else:
        fixed_run_id = run_id
    config = _Config(policy, fixed_key, seed, shared_state,
                     dependency, on_retry, reraise, clock, deadline, recorder, fixed_run_id, step)

    def configure(args: Any, kwargs: Any) -> _Config:
        if key_fn is None and run_id_fn is None:
            return config
        return config.with_key(key_fn(*args, **kwargs) if key_fn else None,
                               run_id_fn(*args, **kwargs) if run_id_fn else None)

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            async_sleep = asyncio.sleep if sleep is None else sleep

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                cfg = configure(args, kwargs)
                return await _call_async(_Operation(cfg), async_sleep, fn, args, kwargs)

            async_wrapper.shared_state = config.store  # type: ignore[attr-defined]
            return async_wrapper  # type: ignore[return-value]

        sync_sleep = time.sleep if sleep is None else sleep

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            cfg = configure(args, kwargs)
            return _call_sync(_Operation(cfg), sync_sleep, fn, args, kwargs)

        wrapper.shared_state = config.store  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
