"""Benchmark: Backstop's retry helpers next to tenacity, the library Python
users would otherwise pick (issue 14), side by side in one run.

Run from the bench venv (tests/bench.sh makes it; by hand):

    python3 -m venv python/.venv-bench
    python/.venv-bench/bin/pip install -r python/requirements-bench.txt ./python
    python/.venv-bench/bin/python python/bench_peers.py [--json]

This script installs nothing. Sleeping is replaced by a no-op on both sides,
so the figures are the libraries' own cost. Both sides get the same shape of
configuration: 5 attempts, exponential backoff from 1 s doubling to 30 s with
additive jitter (Backstop's built-in defaults), retrying one transient
exception type. Rounds alternate between the two libraries and each figure is
the median of the rounds' per-call times, so drift in the machine's load
affects both alike.

* success: a decorated function that returns at once (one attempt);
* per failed attempt: (a call that fails 4 times, then succeeds, minus a
  success) / 4, i.e. classifying the exception, planning the retry and
  "sleeping".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any, Callable

import backstop
import tenacity

#: issue 14's goals: ratio of medians, Backstop / tenacity.
GOALS = {"success": 1.0, "failed attempt": 2.0}
FAILS = 4  # failures before the success in the failing call (max_attempts is 5)


class Unavailable(Exception):
    """A transient failure both libraries retry: HTTP 503 to Backstop's
    built-in rules, a listed exception type to tenacity."""

    status_code = 503


def _noop_sleep(seconds: float) -> None:
    pass


async def _noop_async_sleep(seconds: float) -> None:
    pass


def _tenacity_options(sleep: Callable[..., Any]) -> dict[str, Any]:
    return dict(stop=tenacity.stop_after_attempt(5),
                wait=tenacity.wait_exponential(multiplier=1, min=1, max=30)
                + tenacity.wait_random(0, 0.25),
                retry=tenacity.retry_if_exception_type(Unavailable),
                sleep=sleep, reraise=True)


def _flaky(fails: int) -> Callable[[], Callable[[], str]]:
    """A factory of functions that raise ``fails`` times, then return."""

    def make() -> Callable[[], str]:
        left = [fails]

        def fn() -> str:
            if left[0]:
                left[0] -= 1
                raise Unavailable("503 Service Unavailable")
            return "ok"

        return fn

    return make


def _flaky_async(fails: int) -> Callable[[], Callable[[], Any]]:
    def make() -> Callable[[], Any]:
        left = [fails]

        async def fn() -> str:
            if left[0]:
                left[0] -= 1
                raise Unavailable("503 Service Unavailable")
            return "ok"

        return fn

    return make


# Each case maps a library to a callable running one operation on a fresh
# flaky function (made outside the timed region where possible).


def sync_decorator(fails: int) -> dict[str, Callable[[], Any]]:
    policy = backstop.load_policy("")
    make = _flaky(fails)
    flaky_b, flaky_t = make(), make()

    @backstop.retry(policy, sleep=_noop_sleep)
    def call_backstop() -> str:
        return flaky_b()

    @tenacity.retry(**_tenacity_options(_noop_sleep))
    def call_tenacity() -> str:
        return flaky_t()

    def backstop_once() -> Any:
        nonlocal flaky_b
        flaky_b = make()
        return call_backstop()

    def tenacity_once() -> Any:
        nonlocal flaky_t
        flaky_t = make()
        return call_tenacity()

    return {"backstop": backstop_once, "tenacity": tenacity_once}


def sync_loop(fails: int) -> dict[str, Callable[[], Any]]:
    policy = backstop.load_policy("")
    make = _flaky(fails)
    options = _tenacity_options(_noop_sleep)

    def backstop_once() -> Any:
        fn = make()
        for attempt in backstop.Retrying(policy, sleep=_noop_sleep):
            with attempt:
                return fn()

    def tenacity_once() -> Any:
        fn = make()
        for attempt in tenacity.Retrying(**options):
            with attempt:
                return fn()

    return {"backstop": backstop_once, "tenacity": tenacity_once}


def async_decorator(fails: int) -> dict[str, Callable[[], Any]]:
    policy = backstop.load_policy("")
    make = _flaky_async(fails)
    state = {"b": make(), "t": make()}

    @backstop.retry(policy, sleep=_noop_async_sleep)
    async def call_backstop() -> str:
        return await state["b"]()

    @tenacity.retry(**_tenacity_options(_noop_async_sleep))
    async def call_tenacity() -> str:
        return await state["t"]()

    loop = asyncio.new_event_loop()

    # One event loop turn per batch, not per call: the loop's own cost is not
    # the libraries'. The batch size is applied by _time through `batched`.
    def batched(key: str, call: Callable[[], Any]) -> Callable[[int], None]:
        async def run(n: int) -> None:
            for _ in range(n):
                state[key] = make()
                await call()

        return lambda n: loop.run_until_complete(run(n))

    return {"backstop": batched("b", call_backstop), "tenacity": batched("t", call_tenacity),
            "_batched": True}  # type: ignore[dict-item]


#: The clock rounds are timed with: this process's CPU time by default, which
#: the other work on a shared machine disturbs far less than the wall clock
#: (neither side waits for anything: sleeping is a no-op).
_clock = time.process_time


def _time(fn: Callable[..., Any], number: int, batched: bool) -> float:
    """Seconds per call of one round of ``number`` calls."""
    start = _clock()
    if batched:
        fn(number)
    else:
        for _ in range(number):
            fn()
    return (_clock() - start) / number


def measure(case: Callable[[int], dict[str, Callable[[], Any]]], fails: int, number: int,
            rounds: int) -> dict[str, float]:
    """Median seconds per operation for each library, rounds alternating."""
    fns = case(fails)
    batched = bool(fns.pop("_batched", False))
    # Warm up: caches, the code cache, first-call imports.
    for fn in fns.values():
        _time(fn, max(number // 10, 10), batched)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(rounds):
        names = list(fns) if r % 2 == 0 else list(reversed(fns))
        for name in names:
            samples[name].append(_time(fns[name], number, batched))
    return {name: statistics.median(s) for name, s in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--number", type=int, default=2000, help="calls per round")
    parser.add_argument("-r", "--rounds", type=int, default=15, help="rounds per library")
    parser.add_argument("--wall", action="store_true",
                        help="time rounds with the wall clock instead of CPU time")
    parser.add_argument("--case", action="append", choices=["sync", "loop", "async"],
                        help="only these cases (repeatable; default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    global _clock
    if args.wall:
        _clock = time.perf_counter
    clock = "wall-clock" if args.wall else "CPU"

    cases = {"@retry": sync_decorator, "Retrying loop": sync_loop,
             "async @retry": async_decorator}
    chosen = {"sync": "@retry", "loop": "Retrying loop", "async": "async @retry"}
    if args.case:
        cases = {label: case for label, case in cases.items()
                 if label in {chosen[c] for c in args.case}}
    rows: list[dict[str, Any]] = []
    for label, case in cases.items():
        ok = measure(case, 0, args.number, args.rounds)
        failing = measure(case, FAILS, max(args.number // FAILS, 50), args.rounds)
        per_failed = {name: max(failing[name] - ok[name], 0.0) / FAILS for name in ok}
        for path, figures in (("success", ok), ("failed attempt", per_failed)):
            b, t = figures["backstop"] * 1e6, figures["tenacity"] * 1e6
            rows.append({"case": label, "path": path, "backstop_us": round(b, 2),
                         "tenacity_us": round(t, 2), "ratio": round(b / t, 2),
                         "goal": GOALS[path]})

    if args.json:
        print(json.dumps({"tenacity": tenacity_version(), "clock": clock, "rows": rows}))
        return
    print(f"Python {sys.version.split()[0]}, tenacity {tenacity_version()}, "
          f"{args.rounds} rounds of {args.number} calls (median {clock} time per call; sleep is a no-op)")
    print(f"{'case':16} {'path':16} {'backstop':>11} {'tenacity':>11} {'ratio':>7}  goal")
    for row in rows:
        met = "met" if row["ratio"] <= row["goal"] else "MISSED"
        print(f"{row['case']:16} {row['path']:16} {row['backstop_us']:8.2f} us "
              f"{row['tenacity_us']:8.2f} us {row['ratio']:6.2f}x  <= {row['goal']:g}x {met}")


def tenacity_version() -> str:
    from importlib.metadata import version

    return version("tenacity")


if __name__ == "__main__":
    main()
