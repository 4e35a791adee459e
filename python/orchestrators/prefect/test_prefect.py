"""backstop.prefect against a real Prefect (flows in-process under
prefect_test_harness())."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect import flow, task
from prefect.runtime import task_run as current_task_run

import backstop
from backstop import Notification
from backstop.orchestration import AlertFeed, FileAlertStateStore
from backstop.prefect import BackstopPrefect, planned_delays

REPO = Path(__file__).resolve().parents[3]
POLICY = backstop.load_policy_file(os.environ["BACKSTOP_POLICY"])


class ClientError(Exception):
    """botocore's ClientError shape."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(f"An error occurred ({code}) when calling the PutObject operation: Please reduce your request rate.")
        self.response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}


class HTTPError(Exception):
    status_code = 404

    def __init__(self) -> None:
        super().__init__("404 Client Error: Not Found for url: https://data.example/part-0.csv")


@pytest.fixture
def adapter(tmp_path: Path):
    sent: list[Notification] = []
    feed = AlertFeed(POLICY, store=FileAlertStateStore(tmp_path), deliver=sent.append)
    return BackstopPrefect(POLICY, alerts=feed), sent


def kinds(sent):
    return [(n.kind.value, n.rule, n.severity.value) for n in sent]


def test_slowdown_is_retried_after_the_planned_wait_and_resolves(adapter) -> None:
    bp, sent = adapter

    attempts = []

    @task(**bp.task_options("extract"))
    def extract() -> str:
        attempts.append(current_task_run.run_count)
        if current_task_run.run_count == 1:
            raise ClientError("SlowDown", 503)
        return "ok"

    @flow(name="bs-slowdown")
    def nightly():
        return extract(return_state=True)

    state = nightly()
    assert state.is_completed() and state.result() == "ok"
    assert attempts == [1, 2]
    # Prefect waits retry_delay_seconds[n] before retry n: the planner's
    # schedule for this task (Prefect logs "Retry 1/3 will start 0.019 second(s)").
    planned = [a.delay_ms / 1000 for a in POLICY.schedule(backstop.derive_seed("extract"), 4).attempts[1:]]
    assert extract.retries == 3 and extract.retry_delay_seconds == planned
    assert extract.retry_jitter_factor is None  # Prefect's own jitter would change them
    # One blip: the team room hears of it and of its resolution; no page.
    assert kinds(sent) == [("trigger", "first-failure", "info"), ("resolve", "first-failure", "info")]
    assert sent[0].payload["error_type"].endswith("ClientError")
    assert sent[0].payload["pipeline"] == "bs-slowdown" and sent[0].payload["step"] == "extract"


def test_not_found_fails_on_the_first_try(adapter) -> None:
    bp, sent = adapter

    attempts = []

    @task(**bp.task_options("download"))
    def download() -> None:
        attempts.append(current_task_run.run_count)
        raise HTTPError()

    @flow(name="bs-not-found")
    def nightly():
        states.append(download(return_state=True))

    states = []
    nightly()
    state = states[0]
    assert state.is_failed()
    assert download.retries == 3 and attempts == [1]
    assert kinds(sent) == [("trigger", "first-failure", "info")]
    assert sent[0].payload["error_type"].endswith("HTTPError")


def test_retries_exhausted_then_three_failed_runs_page(adapter) -> None:
    bp, sent = adapter

    attempts = []

    @task(**bp.task_options("flaky", retries=1))
    def flaky() -> None:
        attempts.append(current_task_run.run_count)
        raise ClientError("SlowDown", 503)

    @flow(name="bs-exhausted")
    def nightly():
        states.append(flaky(return_state=True))

    states = []
    for _ in range(3):
        nightly()
        state = states[-1]
        assert state.is_failed()
    assert attempts == [1, 2] * 3  # retries=1 bounds the policy's 4 attempts
    pages = [n for n in sent if n.severity.value == "high"]
    assert [(n.kind.value, n.targets) for n in pages] == [("trigger", ("oncall",))]


def test_planned_delays() -> None:
    assert planned_delays(POLICY, 0, "x") == []
    seven = planned_delays(POLICY, 7, "x")
    assert len(seven) == 7 and seven[3:] == [seven[2]] * 4  # the policy plans 3 retries
    assert planned_delays(POLICY, 3, "x") != planned_delays(POLICY, 3, "y")
    with pytest.raises(ValueError):
        planned_delays(POLICY, -1, "x")
    assert BackstopPrefect(POLICY).default_retries == 3


def test_the_example_runs(home: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    # Against the harness's server: an ephemeral one takes a minute to start here.
    out = subprocess.run([sys.executable, str(REPO / "examples" / "prefect" / "nightly_flow.py")],
                         capture_output=True, text=True, timeout=600, cwd=home,
                         env={**os.environ, "BACKSTOP_ALERT_STATE": str(home / "example-alerts"),
                              "PREFECT_API_URL": PREFECT_API_URL.value()})
    assert out.returncode == 0, out.stderr[-3000:]
    alerts = [line.split()[1:3] for line in out.stdout.splitlines() if line.startswith("ALERT ")]
    assert alerts == [["trigger", "info"], ["resolve", "info"]], out.stdout[-3000:]
    assert "RUN s3://features/part-0.parquet" in out.stdout
