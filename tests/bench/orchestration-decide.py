#!/usr/bin/env python3
"""Overhead per failed task attempt of the Python orchestrator adapters (issue 12).

Every adapter (Airflow's BackstopRetryPolicy and fail_fast, Dagster's
with_backstop, Prefect's retry condition, Temporal's interceptor) turns a
failed try into one `backstop.orchestration.decide()` call: classify the
exception, plan the delay with jitter seeded from the task's idempotency key.
This times that call (median CPU time of 7 rounds) for a botocore-style
SlowDown after the first and the third try. Not a test: it asserts nothing.

  python/.venv/bin/python tests/bench/orchestration-decide.py   # venv: tests/run-python.sh
"""

import statistics
import time
from pathlib import Path

import backstop
from backstop.orchestration import decide, idempotency_key

root = Path(__file__).resolve().parents[2]
policy = backstop.load_policy_file(str(root / "examples/orchestrators.toml"))


class SlowDown(Exception):
    pass


error = SlowDown("An error occurred (SlowDown) when calling the GetObject operation: Please reduce your request rate.")
key = idempotency_key("nightly", "scheduled__2026-12-07", "extract", -1)


def per_call_us(calls: int, attempt: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        decide(policy, error, attempt=attempt, max_attempts=5, idempotency_key=key)
    return (time.process_time() - start) / calls * 1e6


for attempt in (1, 3):
    rounds = [per_call_us(500, attempt) for _ in range(7)]
    print(f"decide() after try {attempt}: {statistics.median(rounds):.1f} µs CPU per failed task attempt "
          f"(rounds {min(rounds):.1f}-{max(rounds):.1f})")
