"""What backstop.dagster adds to each op attempt, measured inside real Dagster
runs: an outer timer wraps ``with_backstop`` around an inner timer around the
op body; the difference is Backstop's share (the decision, the alert feed,
building RetryRequested / Failure). Not a test: run it in the suite's venv,

    python/.orch-venvs/dagster/bin/python python/orchestrators/dagster/bench_overhead.py [runs]

and it prints the median and p90 per attempt in microseconds, side by side
with the op body alone."""

import statistics
import sys
import tempfile
import time

import dagster as dg

from backstop import load_policy
from backstop.dagster import with_backstop
from backstop.orchestration import AlertFeed, FileAlertStateStore

POLICY = load_policy("""
[retry]
max_attempts = 4
base_delay = "1ms"
jitter = "none"

[[alerts.rules]]
id = "first-failure"
condition = "run.failure_count == 1"
severity = "info"
notify = ["room"]
""")


class ClientError(Exception):
    def __init__(self, code: str, status: int) -> None:
        super().__init__(f"An error occurred ({code})")
        self.response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}


SAMPLES: dict[str, list[float]] = {}


def timed(label: str):
    """Record the wall time of every call under ``label`` (exceptions included)."""
    def decorate(fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                SAMPLES.setdefault(label, []).append(time.perf_counter() - start)
        wrapper.__name__ = fn.__name__
        wrapper.__wrapped__ = fn  # Dagster reads the signature through it
        return wrapper
    return decorate


def body(context) -> int:
    if context.retry_number < 2:
        raise ClientError("SlowDown", 503)  # two failed attempts, then success
    return 1


def make_job(name: str, alerts):
    @dg.op(name=f"{name}_op")
    @timed(f"{name}/outer")
    @with_backstop(POLICY, max_retries=3, alerts=alerts)
    @timed(f"{name}/inner")
    def op_fn(context) -> int:
        return body(context)

    @dg.job(name=name, executor_def=dg.in_process_executor)
    def job() -> None:
        op_fn()

    return job


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    feed = AlertFeed(POLICY, store=FileAlertStateStore(tempfile.mkdtemp()), key="bench")
    jobs = [make_job("plain", None), make_job("alerts", feed)]
    with dg.DagsterInstance.ephemeral() as instance:
        for _ in range(runs):
            for job in jobs:  # interleaved: both see the same machine load
                assert job.execute_in_process(instance=instance).success
    print(f"backstop.dagster overhead per op attempt, {runs} runs x 3 attempts "
          "(failed, failed again, succeeded), microseconds")
    print(f"{'variant':<10} {'attempt':<8} {'median':>9} {'p90':>9} {'op body':>9}")
    for name in ("plain", "alerts"):
        outer, inner = SAMPLES[f"{name}/outer"], SAMPLES[f"{name}/inner"]
        extra = [(o - i) * 1e6 for o, i in zip(outer, inner)]
        for kind, rows in (("failed 1", extra[0::3]), ("failed 2", extra[1::3]),
                           ("success", extra[2::3])):
            body_us = statistics.median(i * 1e6 for i in inner)
            p90 = statistics.quantiles(rows, n=10)[-1] if len(rows) > 1 else rows[0]
            print(f"{name:<10} {kind:<8} {statistics.median(rows):>9.0f} {p90:>9.0f} {body_us:>9.0f}")


if __name__ == "__main__":
    main()
