"""backstop.dagster against the real Dagster (pinned in tests/run-orchestrators.sh):
jobs run with execute_in_process() on an ephemeral instance, sensors called
with the contexts Dagster builds for them."""


import asyncio
import json
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import dagster as dg
import pytest

import backstop
from backstop import derive_seed, load_policy
from backstop.dagster import (RUN_STEP, failure_sensor, idempotency_key_for, report_run_failure,
                              success_sensor, tick_sensor, with_backstop)
from backstop.orchestration import AlertFeed, InMemoryAlertStateStore

REPO = Path(__file__).resolve().parents[3]

POLICY_TOML = """
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
payload = ["pipeline", "step", "run_id", "error_type", "attempts"]

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
"""
POLICY = load_policy(POLICY_TOML)


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
    """What each call raises, in order; then it returns."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls: list[int] = []

    def __call__(self, retry_number: int) -> int:
        self.calls.append(retry_number)
        if self.errors:
            raise self.errors.pop(0)
        return 7


SCRIPT = Script()


def planned_waits(key: str, retries: int) -> list[float]:
    """The planner's waits before attempts 2..retries+1 for this key, from a dry run."""
    attempts = POLICY.schedule(derive_seed(key), retries + 1).attempts
    return [a.delay_ms / 1000 for a in attempts[1:retries + 1]]


@dg.op
@with_backstop(POLICY, max_retries=4)
def read_shard(context: dg.OpExecutionContext) -> int:
    return SCRIPT(context.retry_number)


@dg.job(executor_def=dg.in_process_executor)
def storage_job() -> None:
    read_shard()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


@pytest.fixture
def script() -> Iterator[Script]:
    global SCRIPT
    SCRIPT = Script()
    yield SCRIPT


def events(result: Any, kind: str) -> list[Any]:
    return [e for e in result.all_events if e.event_type_value == kind]


def waits(result: Any) -> list[float]:
    return [e.event_specific_data.seconds_to_wait for e in events(result, "STEP_UP_FOR_RETRY")]


def step_failure(result: Any) -> Any:
    (event,) = events(result, "STEP_FAILURE")
    return event.step_failure_data


# -- the decorator ------------------------------------------------------------


def test_slowdown_is_retried_with_the_planners_delay_and_succeeds(instance, script) -> None:
    script.errors = [slowdown(), slowdown()]
    result = storage_job.execute_in_process(instance=instance)
    assert result.success and result.output_for_node("read_shard") == 7
    assert script.calls == [0, 1, 2]
    # Dagster waited what the planner scheduled for this run's key (jitter included).
    key = f"{result.run_id}/read_shard"
    assert waits(result) == planned_waits(key, 2)
    assert all(0.02 <= w <= 0.05 for w in waits(result))


def test_not_found_fails_on_the_first_try_with_the_reason(instance, script) -> None:
    script.errors = [not_found()]
    result = storage_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success and script.calls == [0]
    assert waits(result) == []
    data = step_failure(result)
    user = data.user_failure_data
    assert "the input partition does not exist yet" in user.description
    assert user.metadata["backstop/class"].value == "permanent"
    assert user.metadata["backstop/rule"].value == "missing-partition"
    assert user.metadata["backstop/give_up"].value == "permanent"
    assert user.metadata["backstop/failure"].value["error_code"] == "NoSuchKey"
    # The original exception stays the cause in Dagster's error record.
    assert data.error.cause.cls_name == "ClientError"


def test_retries_stop_at_dagsters_limit(instance, script) -> None:
    @dg.op
    @with_backstop(POLICY, max_retries=2)
    def throttled(context) -> int:
        return SCRIPT(context.retry_number)

    @dg.job
    def limited() -> None:
        throttled()

    script.errors = [slowdown()] * 5
    result = limited.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success and script.calls == [0, 1, 2]
    assert waits(result) == planned_waits(f"{result.run_id}/throttled", 2)
    meta = step_failure(result).user_failure_data.metadata
    assert meta["backstop/give_up"].value == "attempts-exhausted"
    assert meta["backstop/attempt"].value == 3


def test_default_retry_limit_is_the_policys(instance, script) -> None:
    @dg.op
    @with_backstop(POLICY)
    def throttled(context) -> int:
        return SCRIPT(context.retry_number)

    @dg.job
    def policy_limited() -> None:
        throttled()

    script.errors = [slowdown()] * 9
    result = policy_limited.execute_in_process(instance=instance, raise_on_error=False)
    assert script.calls == [0, 1, 2, 3, 4]  # max_attempts = 5
    assert len(waits(result)) == 4


def test_explicit_dagster_decisions_pass_through(instance, script) -> None:
    script.errors = [dg.Failure("stop here", allow_retries=False)]
    result = storage_job.execute_in_process(instance=instance, raise_on_error=False)
    assert script.calls == [0]
    user = step_failure(result).user_failure_data
    assert user.description == "stop here" and "backstop/class" not in user.metadata


def test_generator_and_async_ops(instance) -> None:
    calls = {"gen": 0, "async": 0}

    @dg.op
    @with_backstop(POLICY, max_retries=3)
    def gen(context):
        calls["gen"] += 1
        if context.retry_number == 0:
            raise slowdown()
        yield dg.Output(1)

    @dg.op
    @with_backstop(POLICY, max_retries=3)
    async def agen(context, value: int) -> int:
        calls["async"] += 1
        await asyncio.sleep(0)
        if context.retry_number == 0:
            raise slowdown()
        return value + 1

    @dg.job
    def kinds() -> None:
        agen(gen())

    result = kinds.execute_in_process(instance=instance)
    assert result.output_for_node("agen") == 2 and calls == {"gen": 2, "async": 2}


class BrokenStore:
    def update(self, key, fn):
        raise OSError("the alert state volume is read-only")


def test_a_failing_alert_store_never_changes_the_steps_outcome(instance, script) -> None:
    feed = AlertFeed(POLICY, store=BrokenStore(), key="broken")

    @dg.op
    @with_backstop(POLICY, max_retries=2, alerts=feed)
    def extract(context) -> int:
        return SCRIPT(context.retry_number)

    @dg.job
    def broken_alerts() -> None:
        extract()

    script.errors = [slowdown()]
    result = broken_alerts.execute_in_process(instance=instance)
    assert result.success and script.calls == [0, 1]


def test_without_a_decision_dagster_gets_the_error_as_raised(instance, script) -> None:
    closed = load_policy(POLICY_TOML)

    @dg.op
    @with_backstop(closed, max_retries=2)
    def extract(context) -> int:
        return SCRIPT(context.retry_number)

    @dg.job
    def undecided() -> None:
        extract()

    closed.close()  # every decision now fails
    script.errors = [slowdown()]
    result = undecided.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success and script.calls == [0]
    error = step_failure(result).error
    assert "ClientError" in (error.cls_name + (error.cause.cls_name if error.cause else ""))


def test_decorating_an_op_definition_is_refused() -> None:
    with pytest.raises(TypeError, match="under @op"):
        with_backstop(POLICY)(read_shard)
    with pytest.raises(ValueError, match="max_retries"):
        with_backstop(POLICY, max_retries=-1)


PARTITIONS = dg.StaticPartitionsDefinition(["2024-01-16", "2024-01-17"])
ASSET_SCRIPT = Script()


@dg.asset(partitions_def=PARTITIONS)
@with_backstop(POLICY, max_retries=3)
def features(context: dg.AssetExecutionContext) -> int:
    context.log.info(idempotency_key_for(context))
    return ASSET_SCRIPT(context.retry_number)


def test_partitioned_asset_seeds_jitter_from_the_partition_key(instance) -> None:
    global ASSET_SCRIPT
    ASSET_SCRIPT = Script(slowdown(), slowdown())
    first = dg.materialize([features], partition_key="2024-01-16", instance=instance)
    ASSET_SCRIPT = Script(slowdown(), slowdown())
    second = dg.materialize([features], partition_key="2024-01-16", instance=instance)
    assert first.success and second.success and first.run_id != second.run_id
    key = "2024-01-16/features"
    # Two runs of one partition wait the same, as planned for the partition.
    assert waits(first) == waits(second) == planned_waits(key, 2)
    ASSET_SCRIPT = Script(slowdown())
    other = dg.materialize([features], partition_key="2024-01-17", instance=instance)
    assert waits(other) == planned_waits("2024-01-17/features", 1)


REEXEC = {"fail": True}


@dg.op
@with_backstop(POLICY, max_retries=1)
def flaky_once(context) -> None:
    if REEXEC["fail"]:
        raise not_found()
    context.log.info(f"key={idempotency_key_for(context)}")


@dg.job(executor_def=dg.in_process_executor)
def reexecutable() -> None:
    flaky_once()


def test_reexecution_keeps_the_root_run_id_as_the_key(instance) -> None:
    REEXEC["fail"] = True
    job = dg.reconstructable(reexecutable)
    with dg.execute_job(job, instance=instance) as first:
        assert not first.success
        root = first.run_id
    REEXEC["fail"] = False
    options = dg.ReexecutionOptions.from_failure(root, instance)
    with dg.execute_job(job, instance=instance, reexecution_options=options) as again:
        assert again.success and again.run_id != root
        logs = [e.message for e in instance.all_logs(again.run_id) if "key=" in (e.message or "")]
    assert logs == [f"key={root}/flaky_once"]


# -- sensors and the alert feed -----------------------------------------------


class Sink:
    def __init__(self) -> None:
        self.sent: list[backstop.Notification] = []

    def __call__(self, notification: backstop.Notification) -> None:
        self.sent.append(notification)

    def kinds(self) -> list[tuple[str, str, tuple[str, ...]]]:
        return [(n.kind.value, n.rule, n.targets) for n in self.sent]


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def feed(sink: Sink) -> AlertFeed:
    return AlertFeed(POLICY, store=InMemoryAlertStateStore(), key="test", deliver=sink)


def run_with_sensors(job: Any, instance: dg.DagsterInstance, feed: AlertFeed) -> Any:
    """Run a job and call the sensor Dagster's daemon would, with its built context."""
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    if result.success:
        sensor, event = success_sensor(feed), result.get_run_success_event()
    else:
        sensor, event = failure_sensor(feed), result.get_run_failure_event()
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_event=event, dagster_instance=instance,
        dagster_run=result.dagster_run)
    if not result.success:
        context = context.for_run_failure()
    sensor(context)
    return result


def alerting_job(feed: AlertFeed) -> Any:
    @dg.op
    @with_backstop(POLICY, max_retries=4, alerts=feed)
    def extract(context) -> int:
        return SCRIPT(context.retry_number)

    @dg.job
    def nightly() -> None:
        extract()

    return nightly


def test_one_blip_never_pages_and_the_recovery_resolves(instance, script, feed, sink) -> None:
    script.errors = [slowdown()]
    result = run_with_sensors(alerting_job(feed), instance, feed)
    assert result.success
    # The retried attempt informed the room; the run's success resolved it; no page.
    assert sink.kinds() == [("trigger", "first-failure", ("mlops-room",)),
                            ("resolve", "first-failure", ("mlops-room",))]
    trigger = sink.sent[0]
    assert trigger.dedup_key.startswith(f"backstop/first-failure/nightly/extract/{result.run_id}/")
    assert trigger.dedup_key.endswith("ClientError")
    assert trigger.payload["run_id"] == result.run_id and trigger.payload["attempts"] == 1
    assert "oncall" not in {t for n in sink.sent for t in n.targets}


def test_a_success_after_a_failed_run_resolves_its_alert(instance, script, feed, sink) -> None:
    job = alerting_job(feed)
    script.errors = [not_found()]
    failed = run_with_sensors(job, instance, feed)
    assert not failed.success
    assert sink.kinds() == [("trigger", "first-failure", ("mlops-room",))]
    trigger = sink.sent[0]
    assert trigger.payload["runbook"]["retry_safe"].startswith("no: the failure is permanent")
    ok = run_with_sensors(job, instance, feed)
    assert ok.success
    assert sink.kinds()[1:] == [("resolve", "first-failure", ("mlops-room",))]
    assert sink.sent[1].dedup_key == trigger.dedup_key


def test_three_failed_runs_page_and_a_success_resolves_the_page(instance, script, feed, sink) -> None:
    job = alerting_job(feed)
    for _ in range(3):
        script.errors = [not_found()]
        run_with_sensors(job, instance, feed)
    pages = [n for n in sink.sent if "oncall" in n.targets]
    assert [(n.kind.value, n.severity.value) for n in pages] == [("trigger", "high")]
    run_with_sensors(job, instance, feed)
    resolves = [n for n in sink.sent if n.kind.value == "resolve"]
    assert {n.rule for n in resolves} == {"first-failure", "broken"}


def test_failure_sensor_classifies_an_undecorated_step(instance, feed, sink) -> None:
    @dg.op(retry_policy=dg.RetryPolicy(max_retries=1))
    def plain() -> None:
        raise FileNotFoundError("no such file: part-0.parquet")

    @dg.job
    def plain_job() -> None:
        plain()

    result = run_with_sensors(plain_job, instance, feed)
    assert not result.success
    (trigger,) = sink.sent
    assert trigger.rule == "first-failure" and trigger.dedup_key.endswith("/FileNotFoundError")
    # Dagster's own retry ran once: the sensor counts two attempts.
    assert trigger.payload["attempts"] == 2


def test_failure_sensor_resolves_steps_that_succeeded_in_a_failed_run(instance, script, feed, sink) -> None:
    feed.run_failed("two_steps", "ok_step", "earlier-run", error=slowdown())

    @dg.op
    def ok_step() -> int:
        return 1

    @dg.op
    def bad_step(value: int) -> None:
        raise not_found()

    @dg.job
    def two_steps() -> None:
        bad_step(ok_step())

    run_with_sensors(two_steps, instance, feed)
    assert [(n.kind.value, n.payload["step"]) for n in sink.sent] == [
        ("trigger", "ok_step"), ("trigger", "bad_step"), ("resolve", "ok_step")]


def test_run_failure_outside_any_step(instance, feed, sink) -> None:
    run = instance.create_run_for_job(storage_job)
    instance.report_run_failed(run, "the run worker was lost")
    failed_run = instance.get_run_by_id(run.run_id)
    event = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records[0]
    context = dg.build_run_status_sensor_context(
        sensor_name="backstop_run_failure", dagster_event=event.event_log_entry.dagster_event,
        dagster_instance=instance, dagster_run=failed_run).for_run_failure()
    report_run_failure(feed, context)
    (trigger,) = sink.sent
    assert trigger.payload["step"] == RUN_STEP
    assert "the run worker was lost" in trigger.payload["runbook"]["error_snippet"]


def test_tick_sensor(instance, feed) -> None:
    sensor = tick_sensor(feed, minimum_interval_seconds=30)
    assert sensor.minimum_interval_seconds == 30
    skip = sensor(dg.build_sensor_context(instance=instance))
    assert "0 notification(s) sent" in skip.skip_message


def test_sensors_load_in_definitions(feed) -> None:
    defs = dg.Definitions(jobs=[storage_job],
                          sensors=[failure_sensor(feed), success_sensor(feed), tick_sensor(feed)])
    names = {s.name for s in defs.get_repository_def().sensor_defs}
    assert names == {"backstop_run_failure", "backstop_run_success", "backstop_alert_tick"}


# -- packaging and the example ------------------------------------------------


def test_importing_backstop_does_not_import_dagster() -> None:
    code = "import sys, backstop, backstop.orchestration; sys.exit('dagster' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_example_runs(tmp_path: Path, monkeypatch, capsys) -> None:
    # In this process (runpy, as `python storage_job.py` would): Dagster is
    # already imported, which a subprocess would pay for again.
    monkeypatch.setenv("BACKSTOP_ALERT_STATE", str(tmp_path))
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(str(REPO / "examples/dagster/storage_job.py"), run_name="__main__")
    assert exited.value.code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    read, missing = lines[0], lines[1]
    assert read["success"] and len(read["retry_waits_s"]) == 2
    assert not missing["success"] and missing["retry_waits_s"] == []
    assert [(n["kind"], n["rule"]) for n in lines[2:]] == [
        ("trigger", "first-failure"), ("resolve", "first-failure"), ("trigger", "first-failure")]
    assert list(tmp_path.glob("nightly.json"))
