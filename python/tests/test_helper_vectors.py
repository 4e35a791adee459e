"""The retry-helper conformance vectors (tests/helpers/*.json, format in
tests/README.md), run against ``AsyncRetrying`` on an event loop with virtual
time, and against ``Retrying`` on a fake clock (the vectors that need neither
an enforced attempt timeout nor a cancellation, which a sync loop cannot do).
No real time passes: the assertions are about virtual milliseconds."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

import pytest

from backstop import AsyncRetrying, AttemptTimeout, Policy, RetryError, Retrying, current_attempt

HELPERS = Path(__file__).resolve().parents[2] / "tests" / "helpers"
SUITES = [(path.name, json.loads(path.read_text())) for path in sorted(HELPERS.glob("*.json"))]
CASES = [pytest.param(suite, vector, id=f"{name}:{vector['name']}")
         for name, suite in SUITES for vector in suite["vectors"]]


class ScriptedError(Exception):
    """An attempt's scripted failure, in the shapes Python clients use."""

    def __init__(self, attempt: int, outcome: dict[str, Any]) -> None:
        super().__init__(f"attempt-{attempt}")
        failure = outcome["error"]
        if "http_status" in failure:
            self.status_code = failure["http_status"]
        if "error_code" in failure:
            self.error_code = failure["error_code"]
        if "retry_after" in outcome:
            self.response = SimpleNamespace(headers={"Retry-After": outcome["retry_after"]})
        if "grpc_retry_pushback_ms" in outcome:
            value = outcome["grpc_retry_pushback_ms"]
            self.trailing_metadata = lambda: (("grpc-retry-pushback-ms", value),)


def error_id(exc: Optional[BaseException]) -> Optional[str]:
    if exc is None:
        return None
    if isinstance(exc, AttemptTimeout):
        return f"timeout-{exc.attempt}"
    return str(exc)


def ms(seconds: Optional[float]) -> Optional[int]:
    return None if seconds is None else round(seconds * 1000)


def matches(actual: Any, expected: Any, path: str) -> None:
    if isinstance(expected, dict):
        for key, value in expected.items():
            if key == "seed" and value == "random":
                continue
            assert isinstance(actual, dict) and key in actual, f"{path}: no {key} in {actual}"
            matches(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{path}: {actual} vs {expected}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            matches(a, e, f"{path}[{i}]")
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def gave_up(err: RetryError) -> dict[str, Any]:
    return {"give_up": err.reason.value, "attempts": err.attempts,
            "class": err.decision.classification.failure_class.value if err.decision else None,
            "cause": error_id(err.__cause__)}


class Recorder:
    def __init__(self) -> None:
        self.attempts: list[dict[str, Any]] = []
        self.callbacks: list[dict[str, Any]] = []

    def on_retry(self, exc: BaseException, attempt: int, decision: Any) -> None:
        assert decision.attempt == attempt
        self.callbacks.append({
            "error": error_id(exc), "attempt": attempt, "delay_ms": decision.delay_ms,
            "class": decision.classification.failure_class.value,
            "rule": decision.classification.rule, "seed": str(decision.state.seed)})


def options(call: dict[str, Any], origin_ms: int, recorder: Recorder) -> dict[str, Any]:
    opts: dict[str, Any] = {"on_retry": recorder.on_retry}
    if "seed" in call:
        opts["seed"] = int(call["seed"])
    if "idempotency_key" in call:
        opts["idempotency_key"] = call["idempotency_key"]
    if "deadline_ms" in call:
        opts["deadline"] = (origin_ms + call["deadline_ms"]) / 1000
    return opts


def check(vector: dict[str, Any], results: list[dict[str, Any]]) -> None:
    seeds = []
    for i, (call, got) in enumerate(zip(vector["calls"], results)):
        expect = dict(call["expect"])
        end = expect.pop("end_ms")
        matches(got, expect, f"call {i}")
        if end is not None:
            assert got["end_ms"] == end, f"call {i}: the clock at the end"
        seeds += [got["callbacks"][j]["seed"] for j, cb in enumerate(expect["callbacks"])
                  if cb.get("seed") == "random"]
    assert "0" not in seeds and len(set(seeds)) == len(seeds), seeds


# -- async: AsyncRetrying on a loop whose time is virtual ----------------------

class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock jumps to the next timer whenever nothing is
    ready, instead of waiting for it."""

    def __init__(self, origin_ms: int) -> None:
        super().__init__()
        self.now_ms = origin_ms
        # Timers due within half a millisecond count as due (float rounding).
        self._clock_resolution = 0.0005
        self._selector.select = self._virtual_select  # type: ignore[attr-defined]

    def time(self) -> float:
        return self.now_ms / 1000

    def _virtual_select(self, timeout: Optional[float] = None) -> list[Any]:
        if timeout is None:
            raise RuntimeError("deadlock: nothing is ready and no timer is set")
        self.now_ms += max(0, math.ceil(timeout * 1000 - 0.5))
        return []


async def run_call_async(loop: VirtualTimeLoop, policy: Policy, origin_ms: int,
                         call: dict[str, Any]) -> dict[str, Any]:
    if call.get("advance_ms"):
        await asyncio.sleep(call["advance_ms"] / 1000)
    rec = Recorder()

    async def fn() -> Any:
        attempt = current_attempt()
        assert attempt is not None
        rec.attempts.append({"attempt": attempt.number, "start_ms": loop.now_ms - origin_ms,
                             "timeout_ms": ms(attempt.timeout)})
        outcome = call["outcomes"][attempt.number - 1]
        if outcome.get("hang"):
            await asyncio.Event().wait()  # only a timeout or a cancel ends it
        if outcome.get("duration_ms"):
            await asyncio.sleep(outcome["duration_ms"] / 1000)
        if "ok" in outcome:
            return outcome["ok"]
        raise ScriptedError(attempt.number, outcome)

    retrying = AsyncRetrying(policy, clock=loop.time, sleep=asyncio.sleep,
                             **options(call, origin_ms, rec))
    task = asyncio.ensure_future(retrying(fn))
    cancel = None
    if "cancel_at_ms" in call:
        cancel = loop.call_at((origin_ms + call["cancel_at_ms"]) / 1000, task.cancel)
    try:
        result: dict[str, Any] = {"value": await task}
    except asyncio.CancelledError:
        result = {"cancelled": True, "attempts": len(rec.attempts)}
    except RetryError as err:
        result = gave_up(err)
    finally:
        if cancel is not None:
            cancel.cancel()
    return {"attempts": rec.attempts, "callbacks": rec.callbacks, "result": result,
            "end_ms": loop.now_ms - origin_ms}


@pytest.mark.parametrize("suite, vector", CASES)
def test_async_retrying(suite: dict[str, Any], vector: dict[str, Any]) -> None:
    origin = suite["origin_ms"]
    policy = Policy(vector["policy"])
    loop = VirtualTimeLoop(origin)

    async def run() -> list[dict[str, Any]]:
        return [await run_call_async(loop, policy, origin, call) for call in vector["calls"]]

    try:
        results = loop.run_until_complete(run())
    finally:
        loop.close()
    check(vector, results)


# -- sync: Retrying on a fake clock ---------------------------------------------

def needs_async(vector: dict[str, Any]) -> bool:
    return any("cancel_at_ms" in call or any(o.get("hang") for o in call["outcomes"])
               for call in vector["calls"])


class FakeClock:
    def __init__(self, origin_ms: int) -> None:
        self.now_ms = origin_ms

    def __call__(self) -> float:
        return self.now_ms / 1000

    def sleep(self, seconds: float) -> None:
        self.now_ms += round(seconds * 1000)


@pytest.mark.parametrize("suite, vector", [c for c in CASES if not needs_async(c.values[1])])
def test_retrying(suite: dict[str, Any], vector: dict[str, Any]) -> None:
    origin = suite["origin_ms"]
    policy = Policy(vector["policy"])
    clock = FakeClock(origin)
    results = []
    for call in vector["calls"]:
        clock.now_ms += call.get("advance_ms", 0)
        rec = Recorder()

        def fn() -> Any:
            attempt = current_attempt()
            assert attempt is not None
            rec.attempts.append({"attempt": attempt.number, "start_ms": clock.now_ms - origin,
                                 "timeout_ms": ms(attempt.timeout)})
            outcome = call["outcomes"][attempt.number - 1]
            clock.now_ms += outcome.get("duration_ms", 0)
            if "ok" in outcome:
                return outcome["ok"]
            raise ScriptedError(attempt.number, outcome)

        retrying = Retrying(policy, clock=clock, sleep=clock.sleep, **options(call, origin, rec))
        try:
            result: dict[str, Any] = {"value": retrying(fn)}
        except RetryError as err:
            result = gave_up(err)
        results.append({"attempts": rec.attempts, "callbacks": rec.callbacks, "result": result,
                        "end_ms": clock.now_ms - origin})
    check(vector, results)
