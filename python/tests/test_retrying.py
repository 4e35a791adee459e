"""The retry helpers, on a fake clock and sleeper: no test waits for real
except the async attempt timeout (cut after 20 ms; nothing is timed)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from typing import Any, Optional

import pytest

import backstop
from backstop import (AsyncRetrying, AttemptTimeout, BreakerState, BudgetState, Circuit, Decision,
                      GiveUpReason, InMemoryStateStore, RetryError, Retrying, SharedState,
                      current_attempt, derive_seed, load_policy, retry)

BASIC = load_policy('[retry]\njitter = "none"\nbase_delay = "1s"\nmax_attempts = 4\n')


class FakeTime:
    """A wall clock that only moves when something sleeps (or `advance`s)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


class Flaky:
    """Raises the given exceptions in turn, then returns ``result``."""

    def __init__(self, *errors: BaseException, result: Any = "done") -> None:
        self.errors = list(errors)
        self.calls = 0
        self.result = result

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.result


class HttpError(Exception):
    def __init__(self, status: int, headers: Optional[dict[str, str]] = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status
        self.headers = headers or {}


@pytest.fixture
def t() -> FakeTime:
    return FakeTime()


def test_transient_failures_then_success(t: FakeTime) -> None:
    seen: list[tuple[Decision, BaseException]] = []
    fn = Flaky(ConnectionResetError("reset"), HttpError(503))

    @retry(BASIC, sleep=t.sleep, clock=t.clock, on_retry=lambda e, n, d: seen.append((d, e)))
    def fetch(x: int) -> str:
        return f"{fn()}:{x}"

    assert fetch(7) == "done:7"
    assert fn.calls == 3
    assert t.sleeps == [1.0, 2.0]
    assert [(d.attempt, d.delay_ms, d.classification.rule) for d, _ in seen] == [
        (1, 1000, "builtin.network-exceptions"), (2, 2000, "builtin.http-transient")]
    assert isinstance(seen[0][1], ConnectionResetError)
    assert fetch.__name__ == "fetch"  # functools.wraps


def test_a_permanent_failure_fails_fast_as_a_retry_error_from_the_exception(t: FakeTime) -> None:
    error = HttpError(404)
    fn = Flaky(error)
    with pytest.raises(RetryError) as info:
        Retrying(BASIC, sleep=t.sleep, clock=t.clock)(fn)
    assert info.value.reason is GiveUpReason.PERMANENT and info.value.attempts == 1
    assert info.value.__cause__ is error and fn.calls == 1 and t.sleeps == []
    if sys.version_info >= (3, 11):
        assert error.__notes__ == ["backstop: attempt 1 failed (permanent); give up: permanent"]


def test_attempts_exhausted_raises_retry_error(t: FakeTime) -> None:
    errors = [ConnectionError(f"down {i}") for i in range(4)]
    with pytest.raises(RetryError) as info:
        Retrying(BASIC, sleep=t.sleep, clock=t.clock)(Flaky(*errors))
    err = info.value
    assert err.reason is GiveUpReason.ATTEMPTS_EXHAUSTED and err.attempts == 4
    assert err.__cause__ is err.last_exception is errors[3]
    assert err.decision is not None and err.decision.give_up is GiveUpReason.ATTEMPTS_EXHAUSTED
    assert str(err) == err.decision.explanation
    assert "4 of 4 attempts used" in str(err)
    assert t.sleeps == [1.0, 2.0, 4.0]


def test_reraise_gives_the_last_exception_instead(t: FakeTime) -> None:
    errors = [ConnectionError(f"down {i}") for i in range(4)]
    with pytest.raises(ConnectionError) as info:
        Retrying(BASIC, sleep=t.sleep, clock=t.clock, reraise=True)(Flaky(*errors))
    assert info.value is errors[3]


def test_the_deadline_stops_retrying(t: FakeTime) -> None:
    policy = load_policy('[retry]\njitter = "none"\nbase_delay = "1s"\nmax_attempts = 10\ndeadline = "5s"\n')
    calls = 0

    def slow_failure() -> None:
        nonlocal calls
        calls += 1
        t.advance(2)  # each attempt takes 2 s
        raise TimeoutError("read timed out")

    with pytest.raises(RetryError) as info:
        Retrying(policy, sleep=t.sleep, clock=t.clock)(slow_failure)
    # 0-2 fails, wait 1; 3-5 fails and the deadline is spent.
    assert info.value.reason is GiveUpReason.DEADLINE and calls == 2 and t.sleeps == [1.0]
    assert info.value.decision is not None and info.value.decision.state.started_at_ms == 1_700_000_000_000


def test_a_sleep_that_overshoots_the_deadline_is_refused_at_the_next_attempt(t: FakeTime) -> None:
    policy = load_policy('[retry]\njitter = "none"\nbase_delay = "1s"\nmax_attempts = 10\ndeadline = "5s"\n')
    fn = Flaky(ConnectionError("down"))

    def oversleep(seconds: float) -> None:
        t.sleep(seconds + 10)

    with pytest.raises(RetryError) as info:
        Retrying(policy, sleep=oversleep, clock=t.clock)(fn)
    err = info.value
    assert err.reason is GiveUpReason.DEADLINE and fn.calls == 1
    assert err.permit is not None and err.permit.attempt == 2
    assert err.decision is not None and err.decision.should_retry  # the last decision, to retry
    assert isinstance(err.__cause__, ConnectionError)


def test_pushback_from_the_exception_sets_the_wait(t: FakeTime) -> None:
    class RateLimited(Exception):
        retry_after = 7

    fn = Flaky(RateLimited("slow down"), HttpError(429, {"Retry-After": "3"}))
    assert Retrying(BASIC, sleep=t.sleep, clock=t.clock)(fn) == "done"
    assert t.sleeps == [7.0, 3.0]


def test_the_circuit_opens_through_shared_state_and_closes_after_a_probe(t: FakeTime) -> None:
    policy = load_policy('[retry]\njitter = "none"\nmax_attempts = 10\n'
                         '[retry.circuit_breaker]\nconsecutive_failures = 2\nopen_for = "30s"\n')
    store = InMemoryStateStore()
    options: dict[str, Any] = dict(shared_state=store, dependency="storage", sleep=t.sleep, clock=t.clock)

    down = Flaky(*[ConnectionError("down")] * 5)
    with pytest.raises(RetryError) as info:
        Retrying(policy, **options)(down)
    assert info.value.reason is GiveUpReason.CIRCUIT_OPEN and down.calls == 2
    assert store.get("storage").breaker.circuit is Circuit.OPEN
    assert store.get("default") == SharedState()  # other dependencies are untouched

    # Another operation (another worker, same store) is refused without a call.
    t.advance(10)
    untouched = Flaky()
    with pytest.raises(RetryError) as info:
        Retrying(policy, **options)(untouched)
    assert info.value.reason is GiveUpReason.CIRCUIT_OPEN and untouched.calls == 0
    assert info.value.permit is not None and info.value.permit.retry_after == 20.0  # opened at +1 s, now +11 s
    assert info.value.attempts == 0 and info.value.__cause__ is None

    # Once open_for has passed, one probe runs; its success closes the circuit.
    t.advance(20)
    probes: list[bool] = []
    for attempt in Retrying(policy, **options):
        with attempt:
            probes.append(attempt.probe)
    assert probes == [True]
    assert store.get("storage").breaker.circuit is Circuit.CLOSED


def test_the_loop_form(t: FakeTime) -> None:
    fn = Flaky(ConnectionError("down"), result=5)
    numbers, results = [], []
    for attempt in Retrying(BASIC, sleep=t.sleep, clock=t.clock):
        with attempt:
            numbers.append(attempt.number)
            assert current_attempt() is attempt
            results.append(fn())
    assert numbers == [1, 2] and results == [5] and t.sleeps == [1.0]
    assert current_attempt() is None


def test_an_attempt_must_run_inside_with(t: FakeTime) -> None:
    with pytest.raises(RuntimeError, match="with attempt"):
        for _ in Retrying(BASIC, sleep=t.sleep, clock=t.clock):
            pass


def test_interrupts_are_not_retried(t: FakeTime) -> None:
    fn = Flaky(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        Retrying(BASIC, sleep=t.sleep, clock=t.clock)(fn)
    assert fn.calls == 1 and t.sleeps == []


def test_the_idempotency_key_makes_the_delays_reproducible(t: FakeTime) -> None:
    policy = load_policy('[retry]\njitter = "full"\nmax_attempts = 5\n')
    key = "run-42/extract"

    def run(key: str) -> list[float]:
        clock = FakeTime()
        with pytest.raises(RetryError):
            Retrying(policy, idempotency_key=key, sleep=clock.sleep, clock=clock.clock)(
                Flaky(*[ConnectionError()] * 5))
        return clock.sleeps

    # The same delays as the engine's dry run for this key's seed, every time.
    planned = [a.delay_ms / 1000 for a in policy.schedule(derive_seed(key)).attempts[1:]]
    assert run(key) == run(key) == planned
    assert run("run-43/extract") != planned


def test_the_idempotency_key_may_come_from_the_arguments(t: FakeTime) -> None:
    keys: list[str] = []
    policy = load_policy('[retry]\njitter = "full"\nmax_attempts = 2\n')

    @retry(policy, idempotency_key=lambda run_id, step: keys.append(f"{run_id}/{step}") or keys[-1],
           sleep=t.sleep, clock=t.clock)
    def step(run_id: str, step: str) -> None:
        raise ConnectionError("down")

    with pytest.raises(RetryError):
        step("run-7", "train")
    assert keys == ["run-7/train"]
    assert t.sleeps == [policy.schedule(derive_seed("run-7/train")).attempts[1].delay_ms / 1000]


def test_the_decorated_calls_share_a_breaker(t: FakeTime) -> None:
    policy = load_policy('[retry]\nmax_attempts = 1\n[retry.circuit_breaker]\nconsecutive_failures = 2\n')

    @retry(policy, sleep=t.sleep, clock=t.clock)
    def fetch() -> None:
        raise ConnectionError("down")

    for _ in range(2):
        with pytest.raises(RetryError, match="attempts-exhausted|circuit"):
            fetch()
    assert fetch.shared_state.get().breaker.circuit is Circuit.OPEN  # type: ignore[attr-defined]
    with pytest.raises(RetryError) as info:
        fetch()
    assert info.value.reason is GiveUpReason.CIRCUIT_OPEN


def test_sync_attempt_timeouts_are_advisory_and_visible(t: FakeTime) -> None:
    policy = load_policy('[retry]\nattempt_timeout = "2500ms"\n')
    seen: list[Optional[float]] = []

    @retry(policy, sleep=t.sleep, clock=t.clock)
    def fetch() -> str:
        attempt = current_attempt()
        assert attempt is not None
        seen.append(attempt.timeout)
        return "ok"

    assert fetch() == "ok" and seen == [2.5]


def test_bare_decorator_uses_the_default_policy() -> None:
    @retry
    def ok() -> int:
        return 1

    assert ok() == 1


def test_bad_options_are_clear_errors() -> None:
    with pytest.raises(TypeError, match="Policy"):
        Retrying("[retry]")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed"):
        Retrying(BASIC, seed=-1)
    with pytest.raises(TypeError, match="idempotency_key"):
        Retrying(BASIC, idempotency_key=42)  # type: ignore[arg-type]
    for wrong in ({}, SharedState(), object()):
        with pytest.raises(TypeError, match="shared_state"):
            Retrying(BASIC, shared_state=wrong)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="on_retry"):
        retry(BASIC, on_retry="print")
    with pytest.raises(TypeError, match="AsyncRetrying"):
        Retrying(BASIC)(_raise, ValueError())


def test_the_in_memory_store_is_atomic_under_threads() -> None:
    store = InMemoryStateStore()

    def spend() -> None:
        for _ in range(200):
            store.update("k", lambda s: (SharedState(s.breaker, BudgetState(s.budget.spent_milli + 1)), None))

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get("k").budget.spent_milli == 1600
    store.set("k", SharedState(BreakerState(circuit="open")))
    assert store.get("k").breaker.circuit is Circuit.OPEN
    with pytest.raises(TypeError):
        store.set("k", {})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.update("k", lambda s: ({}, None))  # type: ignore[arg-type,return-value]


# -- async --------------------------------------------------------------------


def test_async_decorator_retries(t: FakeTime) -> None:
    fn = Flaky(ConnectionResetError("reset"), HttpError(503), result=9)
    retried: list[int] = []

    async def on_retry(exc: BaseException, attempt: int, decision: Decision) -> None:
        retried.append(decision.attempt)

    @retry(BASIC, sleep=t.async_sleep, clock=t.clock, on_retry=on_retry)
    async def fetch() -> int:
        await asyncio.sleep(0)
        return fn()

    assert asyncio.run(fetch()) == 9
    assert fn.calls == 3 and t.sleeps == [1.0, 2.0] and retried == [1, 2]


def test_async_loop_form_and_giving_up(t: FakeTime) -> None:
    async def main() -> list[int]:
        numbers = []
        async for attempt in AsyncRetrying(BASIC, sleep=t.async_sleep, clock=t.clock):
            async with attempt:
                numbers.append(attempt.number)
                raise ConnectionError("down")
        return numbers

    with pytest.raises(RetryError) as info:
        asyncio.run(main())
    assert info.value.reason is GiveUpReason.ATTEMPTS_EXHAUSTED and t.sleeps == [1.0, 2.0, 4.0]


def test_async_permanent_failure_is_a_retry_error_from_the_exception(t: FakeTime) -> None:
    error = HttpError(403)

    async def main() -> None:
        await AsyncRetrying(BASIC, sleep=t.async_sleep, clock=t.clock)(_raise, error)

    with pytest.raises(RetryError) as info:
        asyncio.run(main())
    assert info.value.reason is GiveUpReason.PERMANENT and info.value.__cause__ is error and t.sleeps == []


async def _raise(exc: BaseException) -> None:
    raise exc


def test_async_attempt_timeout_cancels_the_attempt_and_retries(t: FakeTime) -> None:
    policy = load_policy('[retry]\njitter = "none"\nmax_attempts = 3\nattempt_timeout = "20ms"\n')
    calls = 0
    decisions: list[Decision] = []

    @retry(policy, sleep=t.async_sleep, clock=t.clock, on_retry=lambda e, n, d: decisions.append(d))
    async def fetch() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.Event().wait()  # hangs until the attempt's timeout cancels it
        return "ok"

    assert asyncio.run(fetch()) == "ok"
    assert calls == 2
    assert decisions[0].classification.rule == "builtin.attempt-timeout"


def test_async_timeouts_on_every_attempt_exhaust_the_attempts(t: FakeTime) -> None:
    policy = load_policy('[retry]\njitter = "none"\nmax_attempts = 2\nattempt_timeout = "20ms"\n')

    @retry(policy, sleep=t.async_sleep, clock=t.clock)
    async def hang() -> None:
        await asyncio.Event().wait()

    with pytest.raises(RetryError) as info:
        asyncio.run(hang())
    assert info.value.reason is GiveUpReason.ATTEMPTS_EXHAUSTED
    assert isinstance(info.value.last_exception, AttemptTimeout)
    assert info.value.last_exception.attempt == 2 and info.value.last_exception.timeout == 0.02


def test_async_cancellation_is_not_retried(t: FakeTime) -> None:
    calls = 0

    @retry(BASIC, sleep=t.async_sleep, clock=t.clock)
    async def fetch() -> None:
        nonlocal calls
        calls += 1
        await asyncio.Event().wait()

    async def main() -> None:
        task = asyncio.create_task(fetch())
        await asyncio.sleep(0)
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(main())
    assert calls == 1 and t.sleeps == []


def test_public_names() -> None:
    for name in ("retry", "Retrying", "AsyncRetrying", "RetryError", "AttemptTimeout",
                 "InMemoryStateStore", "SharedStateStore", "current_attempt", "RetryState",
                 "SharedState", "Permit", "Decision", "Schedule", "GiveUpReason", "derive_seed"):
        assert name in backstop.__all__ and hasattr(backstop, name)


def test_operations_without_a_key_get_distinct_random_seeds_also_after_fork() -> None:
    from backstop import _retrying

    def seeds(n: int) -> list[int]:
        config = _retrying._Config(BASIC, None, None, None, "default", None, False, time.time)
        return [_retrying._Operation(config).state.seed for _ in range(n)]

    # More than one batch of seeds read from the OS: none repeats, none is 0.
    first = seeds(1200)
    assert len(set(first)) == len(first) and 0 not in first
    if not hasattr(os, "fork"):
        return
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next seeds, then leave at once
        try:
            os.write(write, json.dumps(seeds(3)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = json.loads(pipe.read())
    os.waitpid(pid, 0)
    parent = seeds(3)
    # The child read a batch of its own instead of replaying the parent's.
    assert not set(child) & set(parent)


def _engine_calls(monkeypatch: pytest.MonkeyPatch, policy: backstop.Policy) -> list[str]:
    """The names of the WIT functions ``policy``'s engine is called with from now on."""
    calls: list[str] = []
    runtime = policy._runtime
    for method in ("run", "call", "call_flat"):
        if not hasattr(runtime, method):
            continue
        original = getattr(runtime, method)

        def counted(name: str, *args: Any, _original: Any = original) -> Any:
            calls.append(name)
            return _original(name, *args)

        monkeypatch.setattr(runtime, method, counted)
    return calls


REPEATS = '[retry]\njitter = "none"\nmax_attempts = 6\n[retry.circuit_breaker]\nconsecutive_failures = 50\n'


def test_a_repeated_failure_is_decided_by_the_engine_once(t: FakeTime, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = load_policy(REPEATS)
    calls = _engine_calls(monkeypatch, policy)
    seen: list[Decision] = []
    fn = Flaky(*(HttpError(503) for _ in range(4)))
    assert retry(policy, sleep=t.sleep, clock=t.clock, on_retry=lambda e, n, d: seen.append(d))(fn)() == "done"
    assert t.sleeps == [1.0, 2.0, 4.0, 8.0]
    # One plan_failures answer covers the four failures and the permits between them.
    assert calls.count("plan-failures") == 1
    assert "after-failure" not in calls and "begin-attempt" not in calls
    # Each decision is the one after_failure gives for the states the loop held.
    state, shared = seen[0].state, seen[0].shared
    for d in seen[1:]:
        permit = policy.begin_attempt(state, shared, 0)
        expected = policy.after_failure(permit.state, permit.shared, backstop.Failure(http_status=503), 0)
        assert (d.delay_ms, d.state, d.shared, d.explanation) == (
            expected.delay_ms, expected.state, expected.shared, expected.explanation)
        state, shared = d.state, d.shared
    assert [d.shared.breaker.consecutive_failures for d in seen] == [1, 2, 3, 4]


def _another_process_fails(policy: backstop.Policy, store: InMemoryStateStore) -> None:
    """Another process's failure lands in the shared state (its breaker counts it)."""
    other = policy.after_failure(backstop.RetryState(), store.get(), backstop.Failure(http_status=503), 0)
    store.set("default", other.shared)


@pytest.mark.parametrize("during, counts, begins", [
    # Between our permit and our failure: each failure is planned for anew,
    # and the permits it plans still hold (nothing changes while we wait).
    ("attempt", [2, 4, 6, 8], 0),
    # While we wait: the planned permits no longer hold either.
    ("wait", [1, 3, 5, 7], 4),
])
def test_a_plan_is_not_used_once_the_shared_state_changed(
        t: FakeTime, monkeypatch: pytest.MonkeyPatch, during: str, counts: list[int], begins: int) -> None:
    policy = load_policy(REPEATS)
    store = InMemoryStateStore()
    seen: list[Decision] = []
    fn = Flaky(*(HttpError(503) for _ in range(4)))

    def attempt() -> Any:
        if during == "attempt" and fn.errors:
            _another_process_fails(policy, store)
        return fn()

    def sleep(seconds: float) -> None:
        t.sleep(seconds)
        if during == "wait":
            _another_process_fails(policy, store)

    calls = _engine_calls(monkeypatch, policy)
    assert retry(policy, sleep=sleep, clock=t.clock, shared_state=store,
                 on_retry=lambda e, n, d: seen.append(d))(attempt)() == "done"
    assert [d.shared.breaker.consecutive_failures for d in seen] == counts
    assert calls.count("plan-failures") == 4
    assert calls.count("begin-attempt") == begins
