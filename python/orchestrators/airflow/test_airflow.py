"""backstop.airflow against a real Airflow (SQLite metadata database, DAGs
run in-process with dag.test())."""

import asyncio
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from airflow import settings
from airflow.models.taskinstance import TaskInstance
from airflow.models.taskinstancehistory import TaskInstanceHistory

import backstop
from backstop.airflow import BackstopRetryPolicy, deadline_missed, deadline_missed_sync

REPO = Path(__file__).resolve().parents[3]


def tries(dag_id: str, run_id: str, task_id: str) -> list:
    """Every try of one task instance: the history rows, then the live row."""
    session = settings.Session()
    try:
        past = (session.query(TaskInstanceHistory)
                .filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id)
                .order_by(TaskInstanceHistory.try_number).all())
        live = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id).one()
        return [(t.try_number, str(t.state), t.retry_delay_override) for t in past] + \
            [(live.try_number, str(live.state), live.retry_delay_override)]
    finally:
        session.close()


def sent(dags, run_id: str) -> list[tuple[str, str, str]]:
    return [(n.kind.value, n.rule, n.severity.value) for n in dags.SENT if n.payload.get("run_id") == run_id]


def test_slowdown_is_retried_after_the_planners_delay_and_resolves(dags) -> None:
    run = dags.slowdown.test()
    assert str(run.state) == "success"
    # The retry waited the planner's delay for this run's seed, not Airflow's 30 s.
    key = f"bs_slowdown/{run.run_id}/extract/-1"
    planned = dags.POLICY.schedule(backstop.derive_seed(key), 2).attempts[1].delay_ms
    assert 0 < planned < 100
    history = tries("bs_slowdown", run.run_id, "extract")
    # (Airflow archives a retried try in the history table as failed.)
    assert [(n, s) for n, s, _ in history] == [(1, "failed"), (2, "success")], history
    assert history[0][2] == pytest.approx(planned / 1000), history
    # One blip: the team room hears of it, then of its resolution; no page.
    assert sent(dags, run.run_id) == [("trigger", "first-failure", "info"),
                                      ("resolve", "first-failure", "info")]
    trigger = next(n for n in dags.SENT if n.payload.get("run_id") == run.run_id)
    assert trigger.payload["error_type"].endswith("ClientError")
    assert any("SlowDown" in line for line in trigger.payload["last_log_lines"])


def test_not_found_fails_on_the_first_try(dags) -> None:
    run = dags.not_found.test()
    assert str(run.state) == "failed"
    history = tries("bs_not_found", run.run_id, "download")
    assert [(n, s) for n, s, _ in history] == [(1, "failed")]  # retries=3 unused
    assert sent(dags, run.run_id) == [("trigger", "first-failure", "info")]


def test_fail_fast_wrapper_retries_transient_and_stops_at_permanent(dags) -> None:
    run = dags.fail_fast_dag.test()
    assert str(run.state) == "failed"
    history = tries("bs_fail_fast", run.run_id, "load")
    assert [(n, s) for n, s, _ in history] == [(1, "failed"), (2, "failed")], history
    # Two different errors (the run-failed one unwrapped from fail_fast's
    # AirflowFailException): the policy's default grouping keys alerts by
    # error type, so the team room hears of each; nobody is paged.
    got = [(n.kind.value, n.rule, n.severity.value, n.payload["error_type"])
           for n in dags.SENT if n.payload.get("run_id") == run.run_id]
    assert got == [("trigger", "first-failure", "info", "ConnectionResetError"),
                   ("trigger", "first-failure", "info", "backstop_test_dags.HTTPError")]


def test_policy_serializes_and_the_dag_serializes() -> None:
    from airflow.serialization.serialized_objects import DagSerialization

    policy = backstop.load_policy_file(os.environ["BACKSTOP_POLICY"])
    retry_policy = BackstopRetryPolicy(policy)
    data = retry_policy.serialize()
    assert data["__type"] == "backstop.airflow.BackstopRetryPolicy"
    again = BackstopRetryPolicy.deserialize(data)
    assert again.policy.source == policy.source
    with pytest.raises(ValueError, match="not a serialized"):
        BackstopRetryPolicy.deserialize({"__type": "other"})

    from airflow.sdk import DAG, task

    with DAG("bs_serialized", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        @task(retries=2, retry_policy=retry_policy)
        def step() -> None: ...

        step()
    serialized = DagSerialization.to_dict(dag)
    assert DagSerialization.from_dict(serialized).task_dict["step"].has_retry_policy


def test_evaluate_without_a_context(dags) -> None:
    decision = BackstopRetryPolicy(dags.POLICY).evaluate(TimeoutError("slow"), 1, 3, None)
    assert decision.action.value == "retry" and decision.retry_delay < timedelta(seconds=1)
    decision = BackstopRetryPolicy(dags.POLICY).evaluate(TimeoutError("slow"), 4, 3, None)
    assert decision.action.value == "fail" and "attempts-exhausted" in decision.reason


def test_deadline_callbacks(home: Path) -> None:
    from airflow.sdk import DAG
    from airflow.sdk.definitions.callback import AsyncCallback, SyncCallback
    from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference
    from airflow.serialization.serialized_objects import DagSerialization

    kwargs = {"policy": os.environ["BACKSTOP_POLICY"], "state_dir": str(home / "deadline-alerts")}
    # Both forms are accepted by Airflow and serialize with the DAG.
    for callback in (SyncCallback(deadline_missed_sync, kwargs=kwargs),
                     AsyncCallback(deadline_missed, kwargs=kwargs)):
        with DAG("bs_deadline", schedule=None, start_date=datetime(2026, 1, 1),
                 deadline=DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT,
                                        interval=timedelta(hours=2), callback=callback)) as dag:
            pass
        DagSerialization.to_dict(dag)

    # The context Airflow passes (models/deadline.py, get_simple_context).
    def context(run_id: str, minutes_ago: int) -> dict:
        return {"dag_run": {"dag_id": "nightly", "dag_run_id": run_id},
                "deadline": {"id": "d1", "deadline_time": datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)}}

    result = asyncio.run(deadline_missed(**kwargs, context=context("r1", 5)))
    assert result["late_minutes"] >= 5 and result["notifications"] == []
    result = deadline_missed_sync(**kwargs, context=context("r2", 90))
    assert 90 <= result["late_minutes"] <= 92
    assert [(n["kind"], n["rule"], n["severity"]) for n in result["notifications"]] == [
        ("trigger", "broken-or-late", "high")]
    with pytest.raises(ValueError, match="deadline context"):
        deadline_missed_sync(**kwargs, context=None)


def test_the_example_runs(home: Path) -> None:
    example = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "nightly_dag.py"
    out = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=600,
                         cwd=home, env={**os.environ, "BACKSTOP_ALERT_STATE": str(home / "example-alerts")})
    assert out.returncode == 0, out.stderr[-3000:]
    alerts = [line.split()[1:3] for line in out.stdout.splitlines() if line.startswith("ALERT ")]
    assert alerts == [["trigger", "info"], ["resolve", "info"]], out.stdout[-3000:]
    assert "RUN success" in out.stdout
