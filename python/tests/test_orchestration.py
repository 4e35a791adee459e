"""backstop.orchestration: the verdict after an orchestrator's failed attempt,
and the alert feed (state store, delivery) the orchestrator adapters share."""

from __future__ import annotations

import http.server
import json
import multiprocessing
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

import backstop
from backstop import Failure, GiveUpReason, Notification, NotificationKind, load_policy
from backstop.orchestration import (AlertFeed, FileAlertStateStore, InMemoryAlertStateStore,
                                    decide, idempotency_key, log_tail, record_success, webhook)

POLICY = """
[retry]
max_attempts = 4
base_delay = "2s"
multiplier = 2
jitter = "none"

[alerts]
payload = ["pipeline", "step", "run_id", "error_type", "last_log_lines"]

[[alerts.rules]]
id = "first-failure"
condition = "run.failure_count == 1"
severity = "info"
notify = ["mlops-room"]

[[alerts.rules]]
id = "page"
condition = "run.consecutive_failures >= 3"
severity = "high"
notify = ["oncall"]
"""

SLOWDOWN_LOG = """Traceback (most recent call last):
  File "/opt/dags/extract.py", line 12, in extract
    s3.put_object(Bucket="b", Key="k", Body=b"")
botocore.exceptions.ClientError: An error occurred (SlowDown) when calling the PutObject operation: Please reduce your request rate.
"""


@pytest.fixture(scope="module")
def policy() -> backstop.Policy:
    return load_policy(POLICY)


class HTTPNotFound(Exception):
    def __init__(self) -> None:
        super().__init__("404 Client Error: Not Found for url: https://data.example/part-0.csv")
        self.status_code = 404


# -- decide ----------------------------------------------------------------


def test_transient_retries_with_the_planners_delay(policy: backstop.Policy) -> None:
    v = decide(policy, ConnectionResetError("reset"), attempt=1, max_attempts=4)
    assert v.retry and v.give_up is None and not v.permanent
    assert (v.delay_ms, v.delay, v.delay_timedelta.total_seconds()) == (2000, 2.0, 2.0)
    assert v.classification.failure_class.value == "transient"
    # The second failure waits base * multiplier, as the planner says.
    assert decide(policy, ConnectionResetError(), attempt=2, max_attempts=4).delay_ms == 4000


def test_permanent_fails_on_the_first_try_with_the_reason(policy: backstop.Policy) -> None:
    v = decide(policy, HTTPNotFound(), attempt=1, max_attempts=4)
    assert not v.retry and v.permanent and v.delay_ms == 0
    assert v.classification.rule == "builtin.http-permanent"
    assert "404" in v.reason and "permanently" in v.reason


def test_the_orchestrators_limit_and_the_policys_both_bind(policy: backstop.Policy) -> None:
    # The orchestrator allows 2 tries; the policy would allow 4.
    v = decide(policy, ConnectionResetError(), attempt=2, max_attempts=2)
    assert not v.retry and v.give_up is GiveUpReason.ATTEMPTS_EXHAUSTED
    assert "orchestrator allows 2" in v.reason
    assert v.decision.should_retry  # the planner alone would have retried
    # The orchestrator allows 10; the policy's max_attempts = 4 stops it.
    v = decide(policy, ConnectionResetError(), attempt=4, max_attempts=10)
    assert not v.retry and v.give_up is GiveUpReason.ATTEMPTS_EXHAUSTED
    assert not v.decision.should_retry


def test_a_log_tail_is_read_by_the_log_readers(policy: backstop.Policy) -> None:
    v = decide(policy, log=SLOWDOWN_LOG, attempt=1)
    assert v.retry and v.failure.error_code == "SlowDown"
    assert v.classification.rule == "builtin.cloud-throttling"
    v = decide(policy, log=b"Error: 404 Not Found\n", exit_code=1, attempt=1)
    assert not v.retry


def test_the_seed_derives_from_the_idempotency_key() -> None:
    jittery = load_policy('[retry]\nmax_attempts = 8\nbase_delay = "1s"\nmax_delay = "60s"\n'
                          'jitter = "decorrelated"')
    key = idempotency_key("nightly", "manual__2026-01-01", "extract", None)
    assert key == "nightly/manual__2026-01-01/extract"
    delays = [decide(jittery, TimeoutError(), attempt=a, idempotency_key=key).delay_ms
              for a in range(1, 6)]
    # Exactly the planner's own schedule for that seed (decorrelated jitter
    # depends on the previous wait, recomputed from the schedule).
    schedule = jittery.schedule(backstop.derive_seed(key), 6).attempts
    assert delays == [e.delay_ms for e in schedule[1:6]]
    other = [decide(jittery, TimeoutError(), attempt=a, idempotency_key=key + "x").delay_ms
             for a in range(1, 6)]
    assert other != delays


def test_deadline_counts_from_the_first_attempt() -> None:
    p = load_policy('[retry]\nmax_attempts = 10\nbase_delay = "1s"\njitter = "none"\ndeadline = "10s"')
    v = decide(p, TimeoutError(), attempt=2, now_ms=100_000, started_at_ms=95_000)
    assert v.retry
    v = decide(p, TimeoutError(), attempt=2, now_ms=100_000, started_at_ms=85_000)
    assert not v.retry and v.give_up is GiveUpReason.DEADLINE


def test_server_pushback_and_never(policy: backstop.Policy) -> None:
    class Throttled(Exception):
        status_code = 429
        headers = {"Retry-After": "7"}

    v = decide(policy, Throttled("429 Too Many Requests"), attempt=1)
    assert v.retry and v.delay_ms == 7000

    class NoRetry(Exception):
        grpc_code = "UNAVAILABLE"

        def trailing_metadata(self) -> list[tuple[str, str]]:
            return [("grpc-retry-pushback-ms", "-1")]  # gRPC A6: do not retry

    v = decide(policy, NoRetry("unavailable"), attempt=1)
    assert not v.retry and v.give_up is GiveUpReason.PUSHBACK_BEYOND_DEADLINE


def test_shared_store_counts_for_the_breaker() -> None:
    p = load_policy('[retry]\nmax_attempts = 10\nbase_delay = "1ms"\n'
                    '[retry.circuit_breaker]\nconsecutive_failures = 2\nopen_for = "1m"')
    store = backstop.InMemoryStateStore()
    decide(p, TimeoutError(), attempt=1, shared_store=store, dependency="s3", now_ms=1000)
    v = decide(p, TimeoutError(), attempt=2, shared_store=store, dependency="s3", now_ms=2000)
    assert store.get("s3").breaker.circuit.value == "open"
    assert store.get("other").breaker.consecutive_failures == 0
    assert v.decision.shared == store.get("s3")
    before = store.get("s3")
    record_success(p, store, "s3")
    assert store.get("s3") == p.after_success(before)


def test_bad_arguments_are_named(policy: backstop.Policy) -> None:
    with pytest.raises(ValueError, match="attempt must be"):
        decide(policy, TimeoutError(), attempt=0)
    with pytest.raises(ValueError, match="max_attempts"):
        decide(policy, TimeoutError(), attempt=1, max_attempts=0)
    with pytest.raises(TypeError, match="needs the failure"):
        decide(policy, attempt=1)
    with pytest.raises(TypeError, match="exception or a Failure"):
        decide(policy, "boom", attempt=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="backstop.Policy"):
        decide("policy.toml", TimeoutError(), attempt=1)  # type: ignore[arg-type]


def test_log_tail_prefers_the_log_and_keeps_the_last_lines() -> None:
    try:
        raise ValueError("bad row 7")
    except ValueError as exc:
        lines = log_tail(exc)
    assert lines[0].startswith("Traceback") and lines[-1] == "ValueError: bad row 7"
    assert log_tail(None, "\n".join(f"l{i}" for i in range(50)), lines=3) == ["l47", "l48", "l49"]
    assert log_tail() == []


# -- the alert feed ----------------------------------------------------------


def kinds(evaluation: backstop.Evaluation) -> list[tuple[str, str]]:
    return [(n.kind.value, n.rule) for n in evaluation.notifications]


def test_one_blip_never_pages_and_success_resolves(policy: backstop.Policy) -> None:
    got: list[Notification] = []
    feed = AlertFeed(policy, deliver=got.append, clock=iter(range(1000, 10**6, 60)).__next__)
    first = feed.attempt_failed("nightly", "extract", "r1", attempt=1,
                                error=ConnectionResetError("reset"), log=SLOWDOWN_LOG)
    assert kinds(first) == [("trigger", "first-failure")]
    note = got[0]
    assert note.severity.value == "info" and note.targets == ("mlops-room",)
    # The payload carries the task's facts: run id and the log tail.
    assert note.payload["run_id"] == "r1"
    assert "SlowDown" in note.payload["last_log_lines"][-1]
    resolved = feed.run_succeeded("nightly", "extract", "r1", attempt=2)
    assert kinds(resolved) == [("resolve", "first-failure")]
    assert got[1].dedup_key == note.dedup_key
    assert not any(n.severity.value == "high" for n in got)


def test_three_failed_runs_page(policy: backstop.Policy) -> None:
    got: list[Notification] = []
    feed = AlertFeed(policy, deliver=got.append)
    for run in ("r1", "r2", "r3"):
        feed.run_failed("nightly", "extract", run, attempt=1, error=HTTPNotFound())
    pages = [n for n in got if n.severity.value == "high"]
    assert [(n.kind, n.targets) for n in pages] == [(NotificationKind.TRIGGER, ("oncall",))]
    assert pages[0].payload["run_id"] == "r3"


def test_late_run_and_acknowledge() -> None:
    p = load_policy('[[alerts.rules]]\nid = "late"\ncondition = "sla.late_minutes >= 30"\n'
                    'severity = "high"\nnotify = ["oncall"]\nescalate_after = "15m"\n')
    now = [1_000.0]
    feed = AlertFeed(p, clock=lambda: now[0])
    late = feed.run_late("nightly", "train", "r1", late_minutes=45)
    assert kinds(late) == [("trigger", "late")]
    assert late.next_wakeup_ms == 1_000_000 + 15 * 60_000
    now[0] += 16 * 60
    assert kinds(feed.tick()) == [("escalate", "late")]
    feed.acknowledge(late.notifications[0].dedup_key)


def test_a_failing_deliverer_never_raises(policy: backstop.Policy, caplog: Any) -> None:
    def broken(n: Notification) -> None:
        raise RuntimeError("pager down")

    got: list[Notification] = []
    feed = AlertFeed(policy, deliver=[broken, got.append])
    feed.attempt_failed("nightly", "extract", "r1", attempt=1, error=TimeoutError())
    assert len(got) == 1  # the next deliverer still ran
    assert [str(e) for _, e in feed.delivery_errors] == ["pager down"]
    assert "pager down" in caplog.text


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: list[Any] = []
    status = 200

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).bodies.append((self.headers["Content-Type"], json.loads(self.rfile.read(length))))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"bodies": [], "status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_posts_each_notification(policy: backstop.Policy, receiver: Any) -> None:
    url, handler = receiver
    feed = AlertFeed(policy, webhook_url=url)
    feed.attempt_failed("nightly", "extract", "r1", attempt=1, error=TimeoutError("slow"))
    feed.run_succeeded("nightly", "extract", "r1", attempt=2)
    assert [(ctype, body["kind"], body["rule"]) for ctype, body in handler.bodies] == [
        ("application/json", "trigger", "first-failure"), ("application/json", "resolve", "first-failure")]
    handler.status = 500
    feed.attempt_failed("nightly", "extract", "r2", attempt=1, error=TimeoutError("slow"))
    assert "500" in str(feed.delivery_errors[-1][1])


def test_webhook_failures_never_log_credentials(policy: backstop.Policy, receiver: Any, caplog: Any) -> None:
    url, handler = receiver
    handler.status = 503
    secret_url = url.replace("http://", "http://bot:s3cret@")
    feed = AlertFeed(policy, webhook_url=secret_url)
    feed.attempt_failed("nightly", "extract", "r9", attempt=1, error=TimeoutError())
    assert feed.delivery_errors and "s3cret" not in caplog.text
    assert "webhook(http://127.0.0.1:" in caplog.text


def test_webhook_url_is_checked() -> None:
    for bad in ("file:///etc/passwd", "127.0.0.1:9/x", ""):
        with pytest.raises(ValueError, match="http"):
            webhook(bad)


# -- the state stores ----------------------------------------------------------


def test_file_store_keeps_state_between_feeds(policy: backstop.Policy, tmp_path: Path) -> None:
    # Two feeds stand for two processes (attempts run in different workers).
    got: list[Notification] = []
    AlertFeed(policy, store=FileAlertStateStore(tmp_path), deliver=got.append).attempt_failed(
        "nightly", "extract", "r1", attempt=1, error=TimeoutError())
    resolved = AlertFeed(policy, store=FileAlertStateStore(tmp_path), deliver=got.append).run_succeeded(
        "nightly", "extract", "r1", attempt=2)
    assert kinds(resolved) == [("resolve", "first-failure")]
    assert json.loads((tmp_path / "alerts.json").read_text())["state"] == resolved.state


def test_file_store_refuses_bad_keys_and_files(tmp_path: Path) -> None:
    store = FileAlertStateStore(tmp_path)
    for bad in ("", "../x", "a/b", ".hidden"):
        with pytest.raises(ValueError, match="alert state key"):
            store.update(bad, lambda s: (s, None))
    (tmp_path / "k.json").write_text("[1]")
    with pytest.raises(ValueError, match="not an alert state file"):
        store.update("k", lambda s: (s, None))
    with pytest.raises(TypeError, match="alert state is a str"):
        store.update("fresh", lambda s: (None, None))  # type: ignore[arg-type,return-value]
    assert store.get("fresh") == ""


def _fail_steps(directory: str, worker: int, n: int) -> None:
    policy = load_policy(POLICY)
    feed = AlertFeed(policy, store=FileAlertStateStore(directory))
    for i in range(n):
        feed.attempt_failed("nightly", f"w{worker}-s{i}", "r1", attempt=1, error=TimeoutError())


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_file_store_serialises_processes(tmp_path: Path) -> None:
    # Without the lock, concurrent read-modify-write cycles lose steps.
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_fail_steps, args=(str(tmp_path), w, 8)) for w in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    state = json.loads(json.loads((tmp_path / "alerts.json").read_text())["state"])
    assert len(state["steps"]) == 24
    assert len(state["alerts"]) == 24


def test_in_memory_store() -> None:
    store = InMemoryAlertStateStore()
    assert store.update("k", lambda s: (s + "x", len(s))) == 0
    assert store.get("k") == "x"


def test_importing_backstop_imports_no_orchestrator() -> None:
    import subprocess

    code = ("import sys, backstop, backstop.orchestration\n"
            "loaded = sorted({m.split('.')[0] for m in sys.modules} & "
            "{'airflow', 'prefect', 'dagster', 'temporalio'})\n"
            "assert not loaded, loaded\n")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("adapter, extra", [("airflow", "airflow"), ("prefect", "prefect"),
                                            ("dagster", "dagster"), ("temporal", "temporal")])
def test_an_adapter_without_its_orchestrator_names_the_extra(adapter: str, extra: str) -> None:
    import importlib.util
    import subprocess

    module = {"temporal": "temporalio"}.get(adapter, adapter)
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{adapter} is installed here (its own suite covers the adapter)")
    out = subprocess.run([sys.executable, "-c", f"import backstop.{adapter}"], capture_output=True, text=True)
    assert out.returncode != 0
    assert f'backstop-policy[{extra}]' in out.stderr


def test_readme_orchestrator_snippets_are_in_the_examples(repo: Path) -> None:
    """Each README snippet's imports and decorators appear
    verbatim in the runnable example it names (the orchestrator suites run those)."""
    import re

    readme = (repo / "README.md").read_text(encoding="utf-8")
    section = readme.split("## On your orchestrator", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"`(examples/[\w/]+\.py)`[^\n]*\n(?:[^\n]*\n)?```python\n(.*?)```", section, re.S)
    assert {path for path, _ in blocks} >= {"examples/airflow/nightly_dag.py", "examples/prefect/nightly_flow.py",
                                            "examples/dagster/storage_job.py",
                                            "examples/temporal/storage_worker.py"}
    for path, code in blocks:
        example = {line.strip() for line in (repo / path).read_text(encoding="utf-8").splitlines()}
        checked = [line.strip() for line in code.splitlines()
                   if line.startswith(("from ", "import ", "@"))]
        assert checked, path
        missing = [line for line in checked if line not in example]
        assert not missing, f"{path} lacks README lines {missing}"
