"""Benchmark: retry-planner decisions and alert evaluations through the Python
host, per path.

Run: python/.venv/bin/python python/bench_planner.py [--json]   (after tests/run-python.sh)
Not part of the test run; prints microseconds per operation (best of --repeat).
"""

from __future__ import annotations

import argparse
import json
import timeit
from typing import Any, Callable

import backstop
from backstop import (AttemptFailure, Event, EventKind, Failure, InMemoryStateStore, RetryState,
                      Retrying, SharedState)
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

# The seed's Example 3 alert policy, as written there.
ALERT_POLICY = """{
"rules": [
{"condition": "run.failure_count==1", "severity": "info", "notify": ["mlops-room"], "dedup_window": "30m"},
{"condition": "run.consecutive_failures >= 3 or sla.late_minutes >= 60", "severity": "high", "notify": ["oncall"], "escalate_after": "15m"}
],
"payload": ["pipeline", "step", "run_id", "error_type", "last_log_lines"]
}"""
NIGHT_MS = 86_400_000


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

        # A store of its own: the policy's default store is shared by every
        # operation, and one failure per operation would drain its budget.
        Retrying(policy, seed=1, sleep=lambda s: None, clock=lambda: 1_700_000_000.0,
                 shared_state=InMemoryStateStore())(fn)

    # Alerts: a failed attempt against an empty state (one info trigger with
    # its payload), and the same against the state of three failed nights with
    # an open page (the guest re-reads the state JSON on every call).
    alerts = backstop.load_policy(ALERT_POLICY, "json")
    unavailable = Failure(http_status=503, error_types=["TransientError"],
                          message="503 Service Unavailable")
    lines = ["epoch 3: reading shard 17", "503 Service Unavailable"]

    def failed(run: str, kind: EventKind = EventKind.ATTEMPT_FAILED) -> Event:
        return Event(kind, "nightly", "train", run, unavailable, attempt=1, log_lines=lines)

    paged = ""
    for night, run in enumerate(("r1", "r2", "r3")):
        for kind in (EventKind.ATTEMPT_FAILED, EventKind.RUN_FAILED):
            paged = alerts.evaluate_alerts(failed(run, kind), state=paged,
                                           now_ms=night * NIGHT_MS).state
    tomorrow, tick = failed("r4"), Event.tick()
    alert_handle = component.load_policy(ALERT_POLICY, "json")

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
        "core-abi/evaluate_alerts (attempt failed, fresh state)": per_op_us(
            lambda: alerts.evaluate_alerts(failed("r1"), now_ms=0), n // 4, r),
        "core-abi/evaluate_alerts (attempt failed, paged state)": per_op_us(
            lambda: alerts.evaluate_alerts(tomorrow, state=paged, now_ms=3 * NIGHT_MS), n // 4, r),
        "core-abi/evaluate_alerts (tick, paged state)": per_op_us(
            lambda: alerts.evaluate_alerts(tick, state=paged, now_ms=2 * NIGHT_MS + 60_000), n // 4, r),
        "component-api/evaluate_alerts (attempt failed, fresh state)": per_op_us(
            lambda: component.evaluate_alerts(alert_handle, failed("r1"), "", 0), max(n // 20, 100), r),
        # A whole operation through the helper: begin, failure, decision, begin,
        # success (5 planner calls plus classification of the exception).
        "helper/one retry then success": per_op_us(one_retry_then_success, n // 10, r),
    }
    after = results["core-abi/after_failure"]
    results["core-abi/after_failure decisions per second"] = round(1e6 / after)
    evaluation = results["core-abi/evaluate_alerts (attempt failed, fresh state)"]
    results["core-abi/evaluate_alerts evaluations per second"] = round(1e6 / evaluation)

    if args.json:
        print(json.dumps({k: round(v, 2) for k, v in results.items()}))
    else:
        for key, value in results.items():
            unit = "" if key.endswith("second") else " us/op"
            print(f"{key:60} {value:10.2f}{unit}")


if __name__ == "__main__":
    main()
