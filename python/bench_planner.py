"""Benchmark: retry-planner decisions through the Python host, per path.

Run: python/.venv/bin/python python/bench_planner.py [--json]   (after tests/run-python.sh)
Not part of the test run; prints microseconds per operation (best of --repeat).
"""

from __future__ import annotations

import argparse
import json
import timeit
from typing import Any, Callable

import backstop
from backstop import AttemptFailure, Failure, RetryState, Retrying, SharedState
from backstop._component import ComponentClassifier

# Realistic settings: additive jitter, a deadline and attempt timeout, a
# breaker and a budget, so every part of after_failure runs.
POLICY = """
[retry]
max_attempts = 6
base_delay = "1s"
max_delay = "30s"
jitter = "additive"
attempt_timeout = "30s"
deadline = "10m"

[retry.circuit_breaker]
consecutive_failures = 1000

[retry.budget]
"""


def per_op_us(fn: Callable[[], Any], number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--number", type=int, default=20000)
    parser.add_argument("-r", "--repeat", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    policy = backstop.load_policy(POLICY)
    state = RetryState(attempts=2, started_at_ms=1_000, last_delay_ms=1_200, seed=42)
    shared = SharedState()
    outcome = AttemptFailure(Failure(http_status=503), duration_ms=150)
    pushback = AttemptFailure(Failure(http_status=429), duration_ms=150, pushback_ms=5_000)

    component = ComponentClassifier()
    handle = component.load_policy(POLICY)

    class Unavailable(Exception):
        status_code = 503

    def one_retry_then_success() -> None:
        calls = [0]

        def fn() -> None:
            calls[0] += 1
            if calls[0] == 1:
                raise Unavailable("busy")

        Retrying(policy, seed=1, sleep=lambda s: None, clock=lambda: 1_700_000_000.0)(fn)

    n, r = args.number, args.repeat
    results = {
        "core-abi/after_failure": per_op_us(
            lambda: policy.after_failure(state, shared, outcome, 5_000), n, r),
        "core-abi/after_failure+pushback": per_op_us(
            lambda: policy.after_failure(state, shared, pushback, 5_000), n, r),
        "core-abi/begin_attempt": per_op_us(lambda: policy.begin_attempt(state, shared, 5_000), n, r),
        "core-abi/after_success": per_op_us(lambda: policy.after_success(shared), n, r),
        "core-abi/derive_seed": per_op_us(lambda: backstop.derive_seed("run-42/train"), n, r),
        "core-abi/schedule(6 entries)": per_op_us(lambda: policy.schedule(42), n // 4, r),
        "component-api/after_failure": per_op_us(
            lambda: component.after_failure(handle, state, shared, outcome, 5_000), max(n // 20, 100), r),
        # A whole operation through the helper: begin, failure, decision, begin,
        # success (5 planner calls plus classification of the exception).
        "helper/one retry then success": per_op_us(one_retry_then_success, n // 10, r),
    }
    after = results["core-abi/after_failure"]
    results["core-abi/after_failure decisions per second"] = round(1e6 / after)

    if args.json:
        print(json.dumps({k: round(v, 2) for k, v in results.items()}))
    else:
        for key, value in results.items():
            unit = "" if key.endswith("second") else " us/op"
            print(f"{key:50} {value:10.2f}{unit}")


if __name__ == "__main__":
    main()
