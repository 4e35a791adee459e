"""Timing script (not a test): what backstop.orchestration adds to one task
attempt under an orchestrator, i.e. the work an adapter does per failed or
successful try (Airflow's retry_policy + callback, Prefect's
retry_condition_fn + hook).

Run: python/.venv/bin/python python/bench_orchestration.py [--json]   (after tests/run-python.sh)
Prints microseconds per operation (best of --repeat), side by side with a
bare planner decision for scale.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import timeit
from pathlib import Path
from typing import Any, Callable

import backstop
from backstop import AttemptFailure, Failure, RetryState, SharedState
from backstop.orchestration import AlertFeed, FileAlertStateStore, decide

REPO = Path(__file__).resolve().parents[1]
SLOWDOWN_LOG = """Traceback (most recent call last):
  File "/opt/dags/extract.py", line 12, in extract
    s3.put_object(Bucket="b", Key="k", Body=b"")
botocore.exceptions.ClientError: An error occurred (SlowDown) when calling the PutObject operation: Please reduce your request rate.
"""


class ClientError(Exception):
    def __init__(self) -> None:
        super().__init__("An error occurred (SlowDown) when calling the PutObject operation")
        self.response = {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}


def per_op_us(fn: Callable[[], Any], number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--number", type=int, default=500)
    parser.add_argument("-r", "--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    n, r = args.number, args.repeat

    policy = backstop.load_policy_file(REPO / "examples" / "orchestrators.toml")
    try:
        raise ClientError()
    except ClientError as caught:
        exc = caught
    key = "nightly_features/manual__2026-01-01T00:00:00+00:00/extract/-1"
    bare_state = RetryState(attempts=1, started_at_ms=1_000, seed=backstop.derive_seed(key))
    failure = Failure.from_exception(exc)
    results: dict[str, float] = {}
    results["planner after_failure (bare, for scale)"] = per_op_us(
        lambda: policy.after_failure(bare_state, SharedState(), AttemptFailure(failure), 2_000), n, r)
    results["decide, exception, attempt 1"] = per_op_us(
        lambda: decide(policy, exc, attempt=1, max_attempts=4, idempotency_key=key), n, r)
    results["decide, exception, attempt 3 (replays the schedule)"] = per_op_us(
        lambda: decide(policy, exc, attempt=3, max_attempts=4, idempotency_key=key), n, r)
    results["decide, log tail (log readers)"] = per_op_us(
        lambda: decide(policy, log=SLOWDOWN_LOG, attempt=1, max_attempts=4, idempotency_key=key), n, r)

    memory = AlertFeed(policy)
    results["alert event attempt-failed, in-memory state"] = per_op_us(
        lambda: memory.attempt_failed("nightly", "extract", "r1", attempt=1, error=exc), n, r)
    with tempfile.TemporaryDirectory() as tmp:
        on_disk = AlertFeed(policy, store=FileAlertStateStore(tmp))
        results["alert event attempt-failed, file state (flock + fsync)"] = per_op_us(
            lambda: on_disk.attempt_failed("nightly", "extract", "r1", attempt=1, error=exc), n, r)
        results["alert event run-succeeded, file state"] = per_op_us(
            lambda: on_disk.run_succeeded("nightly", "extract", "r1", attempt=2), n, r)

    if args.json:
        print(json.dumps({k: round(v, 1) for k, v in results.items()}))
        return
    width = max(map(len, results))
    for name, us in results.items():
        print(f"{name:<{width}}  {us:9.1f} µs")


if __name__ == "__main__":
    main()
