"""Recording retry calls into the CLI's state store: real rows in a real
SQLite file and a real PostgreSQL, read back by the real `backstop stats`
(BACKSTOP_BIN, which tests/run-python.sh sets; skipped without it)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from backstop import (AttemptTimeout, RecordedRun, RecorderError, RetryError, Retrying, SqliteRecorder,
                      load_policy, retry)

REPO = Path(__file__).resolve().parents[2]
POLICY = load_policy('[retry]\njitter = "none"\nbase_delay = "2s"\nmax_attempts = 3\n'
                     '[[classify.rules]]\nid = "bad-input"\nerror_type = "ValueError"\nclass = "permanent"\n')
T0 = 1_765_000_000.0  # 2025-12-06T05:46:40Z, a Saturday


class FakeTime:
    def __init__(self) -> None:
        self.now = T0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def flaky(clock: FakeTime, *errors: BaseException, result: Any = "ok", work: float = 0.5):
    pending = list(errors)

    def call() -> Any:
        clock.now += work
        if pending:
            raise pending.pop(0)
        return result
    return call


def backstop_bin() -> str:
    path = os.environ.get("BACKSTOP_BIN")
    if not path:
        pytest.skip("set BACKSTOP_BIN to the backstop CLI (tests/run-python.sh does)")
    return path


def stats(state: str, *args: str) -> dict[str, Any]:
    out = subprocess.run([backstop_bin(), "stats", "--json", "--state", state, *args],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def three_calls(recorder: Any) -> list[Any]:
    """A recovery after two transient failures, a permanent give-up, a success
    at once: 3 runs, 5 attempts, 2 retries, 2 of 3 succeeded."""
    fake = FakeTime()
    results: list[Any] = []
    loop = Retrying(POLICY, recorder=recorder, step="extract", run_id="run-1",
                    clock=fake.clock, sleep=fake.sleep)
    results.append(loop(flaky(fake, ConnectionError("reset"), TimeoutError("slow"))))

    @retry(POLICY, recorder=recorder, step="extract", run_id=lambda n: f"run-{n}",
           clock=fake.clock, sleep=fake.sleep)
    def job(n: int) -> str:
        fake.now += 0.25
        if n == 2:
            raise ValueError("bad row")
        return "fine"

    with pytest.raises(RetryError) as info:
        job(2)
    results.append(info.value.reason.value)
    results.append(job(3))
    return results


def check_totals(out: dict[str, Any]) -> None:
    (step,) = out["steps"]
    assert step["step"] == "extract"
    assert (step["runs"], step["succeeded"], step["failed"], step["running"]) == (3, 2, 1, 0)
    assert (step["attempts"], step["retries"]) == (5, 2)
    assert step["success_ratio"] == pytest.approx(2 / 3)
    # From the end of the first failed attempt (T0 + 0.5) to the end of the
    # success: + 2 s wait + 0.5 s + 4 s wait + 0.5 s.
    assert step["recoveries"] == 1
    assert step["max_time_to_recovery_ms"] == 7000


def check_trends(out: dict[str, Any], pipeline: str) -> None:
    (group,) = out["groups"]
    assert (group["pipeline"], group["step"]) == (pipeline, "extract")
    total = group["total"]
    assert (total["runs"], total["succeeded"], total["gave_up"], total["retries"]) == (3, 2, 1, 2)
    assert total["give_ups"] == {"permanent": 1}


def test_the_packaged_sqlite_schema_is_the_clis():
    from importlib import resources
    shipped = resources.files("backstop").joinpath("sqlite_schema_v6.sql").read_text(encoding="utf-8")
    assert shipped == (REPO / "tests" / "sqlite" / "schema-v6.sql").read_text(encoding="utf-8")


def test_sqlite_rows_are_the_clis_and_stats_counts_them(tmp_path):
    state = tmp_path / "state" / "backstop.db"
    with SqliteRecorder(state, pipeline="nightly") as recorder:
        assert three_calls(recorder) == ["ok", "permanent", "fine"]

    db = sqlite3.connect(state)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 6
    runs = db.execute("SELECT run_id, step, round, status, outcome, exit_status, retry_state, created_at_ms, "
                      "finished_at_ms, lease_owner FROM runs ORDER BY run_id").fetchall()
    start = int(T0 * 1000)
    assert runs[0] == ("run-1", "extract", 1, "succeeded", "succeeded", None,
                       runs[0][6], start, start + 7500, None)
    assert json.loads(runs[0][6])["attempts"] == 3
    assert [r[:5] for r in runs[1:]] == [("run-2", "extract", 1, "failed", "permanent"),
                                         ("run-3", "extract", 1, "succeeded", "succeeded")]
    attempts = db.execute("SELECT attempt, started_at_ms - ?, ended_at_ms - ?, delay_before_ms, delay_after_ms, "
                          "class, rule, decision, give_up_reason, timed_out, pid FROM attempts "
                          "WHERE run_id = 'run-1' ORDER BY attempt", (start, start)).fetchall()
    assert attempts == [
        (1, 0, 500, 0, 2000, "transient", "builtin.network-exceptions", "retry", None, 0, None),
        (2, 2500, 3000, 2000, 4000, "transient", attempts[1][6], "retry", None, 0, None),
        (3, 7000, 7500, 4000, None, None, None, "succeeded", None, 0, None),
    ]
    assert db.execute("SELECT decision, give_up_reason, class, rule FROM attempts WHERE run_id = 'run-2'"
                      ).fetchall() == [("give-up", "permanent", "permanent", "bad-input")]
    assert db.execute("SELECT count(*) FROM run_pipelines WHERE pipeline = 'nightly'").fetchone()[0] == 3
    db.close()

    check_totals(stats(str(state)))
    check_trends(stats(str(state), "--since", "2025-12-01", "--until", "2025-12-08", "--pipeline", "nightly"),
                 "nightly")


def test_a_run_id_given_again_is_its_next_round(tmp_path):
    state = tmp_path / "backstop.db"
    recorder = SqliteRecorder(state)
    fake = FakeTime()
    loop = Retrying(POLICY, recorder=recorder, run_id="nightly-7", dependency="load",
                    clock=fake.clock, sleep=fake.sleep)
    with pytest.raises(RetryError):
        loop(flaky(fake, ValueError("no")))
    assert loop(flaky(fake)) == "ok"
    db = sqlite3.connect(state)
    assert db.execute("SELECT step, round, status FROM runs").fetchall() == [("load", 2, "succeeded")]
    assert db.execute("SELECT round, attempt, decision FROM attempts ORDER BY round").fetchall() == [
        (1, 1, "give-up"), (2, 1, "succeeded")]
    db.close()
    out = stats(str(state), "--since", "2025-12-01", "--until", "2025-12-08")
    (group,) = out["groups"]
    assert group["pipeline"] == ""  # recorded without a pipeline
    assert (group["total"]["runs"], group["total"]["succeeded"], group["total"]["gave_up"]) == (2, 1, 1)


def test_an_interrupted_call_stays_running_and_its_attempt_is_marked(tmp_path):
    state = tmp_path / "backstop.db"
    fake = FakeTime()

    def stop() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Retrying(POLICY, recorder=SqliteRecorder(state), step="s", clock=fake.clock, sleep=fake.sleep)(stop)
    db = sqlite3.connect(state)
    assert db.execute("SELECT status, outcome FROM runs").fetchall() == [("running", None)]
    assert db.execute("SELECT decision FROM attempts").fetchall() == [("interrupted",)]


def test_an_attempt_timeout_is_recorded_as_timed_out(tmp_path):
    state = tmp_path / "backstop.db"
    fake = FakeTime()
    loop = Retrying(POLICY, recorder=SqliteRecorder(state), step="s", clock=fake.clock, sleep=fake.sleep)
    assert loop(flaky(fake, AttemptTimeout(1, 1.0))) == "ok"
    db = sqlite3.connect(state)
    assert db.execute("SELECT attempt, timed_out FROM attempts ORDER BY attempt").fetchall() == [(1, 1), (2, 0)]


@pytest.mark.parametrize("content", [b"", b"not a database at all, just text" * 100, "foreign"])
def test_a_store_error_is_logged_and_never_changes_the_result(tmp_path, caplog, content):
    state = tmp_path / "backstop.db"
    if content == "foreign":
        db = sqlite3.connect(state)
        db.execute("CREATE TABLE mine (x)")
        db.commit()
        db.close()
    else:
        state.write_bytes(content)
    fake = FakeTime()
    recorder = SqliteRecorder(state)
    with caplog.at_level(logging.WARNING, logger="backstop"):
        assert Retrying(POLICY, recorder=recorder, clock=fake.clock, sleep=fake.sleep)(
            flaky(fake, ConnectionError("x"))) == "ok"
        with pytest.raises(RetryError) as info:
            Retrying(POLICY, recorder=recorder, clock=fake.clock, sleep=fake.sleep)(flaky(fake, ValueError("no")))
    assert info.value.reason.value == "permanent"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all("was not recorded" in w for w in warnings), warnings


def test_a_recorder_that_raises_is_logged(caplog):
    class Broken:
        def record(self, run: RecordedRun) -> None:
            raise RecorderError("disk full")

    fake = FakeTime()
    with caplog.at_level(logging.WARNING, logger="backstop"):
        assert Retrying(POLICY, recorder=Broken(), clock=fake.clock, sleep=fake.sleep)(flaky(fake)) == "ok"
    assert "disk full" in caplog.text


def test_a_newer_schema_is_refused(tmp_path):
    state = tmp_path / "backstop.db"
    db = sqlite3.connect(state)
    db.execute("CREATE TABLE runs (x)")
    db.execute("PRAGMA user_version = 7")
    db.commit()
    db.close()
    fake = FakeTime()
    recorder = SqliteRecorder(state)
    with pytest.raises(RecorderError, match="version 7, newer than 6"):
        recorder.record(RecordedRun("r", "s", "succeeded", "succeeded", "{}", 0, 0))


def test_a_recorder_must_have_record():
    with pytest.raises(TypeError, match="record"):
        Retrying(POLICY, recorder=object())


def test_postgres_rows_and_stats(db):
    from backstop.postgres import PostgresRecorder, PostgresStateStore
    with PostgresStateStore(db) as store:
        # A store shared by the breaker and the recorder: one connection.
        recorder = PostgresRecorder(store=store, pipeline="nightly")
        assert three_calls(recorder) == ["ok", "permanent", "fine"]
    check_totals(stats(db))
    check_trends(stats(db, "--since", "2025-12-01", "--until", "2025-12-08"), "nightly")


def test_postgres_recorder_errors_are_logged(caplog):
    from backstop.postgres import PostgresRecorder
    recorder = PostgresRecorder("postgresql://nobody:secret-pw@127.0.0.1:1/none", connect_timeout=1)
    fake = FakeTime()
    with caplog.at_level(logging.WARNING, logger="backstop"):
        assert Retrying(POLICY, recorder=recorder, clock=fake.clock, sleep=fake.sleep)(flaky(fake)) == "ok"
    assert "was not recorded" in caplog.text and "unavailable" in caplog.text
    assert "secret-pw" not in caplog.text


def test_async_calls_are_recorded_as_sync_ones(tmp_path):
    import asyncio
    from backstop import AsyncRetrying
    state = tmp_path / "backstop.db"
    fake = FakeTime()

    async def sleep(seconds: float) -> None:
        fake.now += seconds

    recorder = SqliteRecorder(state, pipeline="nightly")
    call = flaky(fake, ConnectionError("reset"), TimeoutError("slow"))

    async def recovers() -> str:
        async for attempt in AsyncRetrying(POLICY, recorder=recorder, step="extract", run_id="run-1",
                                           clock=fake.clock, sleep=sleep):
            with attempt:
                return call()
        raise AssertionError("unreachable")

    @retry(POLICY, recorder=recorder, step="extract", run_id=lambda n: f"run-{n}", clock=fake.clock, sleep=sleep)
    async def job(n: int) -> str:
        fake.now += 0.25
        if n == 2:
            raise ValueError("bad row")
        return "fine"

    async def main() -> list[Any]:
        out: list[Any] = [await recovers()]
        with pytest.raises(RetryError) as info:
            await job(2)
        out.append(info.value.reason.value)
        out.append(await job(3))
        return out

    assert asyncio.run(main()) == ["ok", "permanent", "fine"]
    recorder.close()
    check_totals(stats(str(state)))
    check_trends(stats(str(state), "--since", "2025-12-01", "--until", "2025-12-08", "--pipeline", "nightly"),
                 "nightly")


def test_a_call_that_ends_in_a_shared_store_error_is_not_recorded(tmp_path):
    from backstop import InMemoryStateStore

    class FailsAfterSuccess(InMemoryStateStore):
        """Takes the permit, then fails to record the success."""

        calls = 0

        def update(self, key, fn):  # type: ignore[no-untyped-def]
            self.calls += 1
            if self.calls == 2:
                raise OSError("shared state unavailable")
            return super().update(key, fn)

    state = tmp_path / "backstop.db"
    fake = FakeTime()
    loop = Retrying(POLICY, recorder=SqliteRecorder(state), shared_state=FailsAfterSuccess(),
                    clock=fake.clock, sleep=fake.sleep)
    with pytest.raises(OSError, match="shared state unavailable"):
        loop(flaky(fake))
    assert not state.exists()


def test_a_locked_file_is_logged_and_recorded_again_once_free(tmp_path, caplog):
    state = tmp_path / "backstop.db"
    recorder = SqliteRecorder(state, busy_timeout=0.05)
    fake = FakeTime()
    assert Retrying(POLICY, recorder=recorder, run_id="before", clock=fake.clock, sleep=fake.sleep)(flaky(fake)) == "ok"
    other = sqlite3.connect(state, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the file
    with caplog.at_level(logging.WARNING, logger="backstop"):
        assert Retrying(POLICY, recorder=recorder, run_id="while-locked", clock=fake.clock, sleep=fake.sleep)(
            flaky(fake, ConnectionError("reset"))) == "ok"
        with pytest.raises(RetryError) as info:
            Retrying(POLICY, recorder=recorder, run_id="while-locked-2", clock=fake.clock, sleep=fake.sleep)(
                flaky(fake, ValueError("no")))
    assert (info.value.reason.value, info.value.attempts) == ("permanent", 1)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "'while-locked' of 'default' was not recorded" in warnings[0], warnings
    assert "locked" in warnings[0]
    other.execute("ROLLBACK")
    other.close()
    assert Retrying(POLICY, recorder=recorder, run_id="after", clock=fake.clock, sleep=fake.sleep)(flaky(fake)) == "ok"
    recorder.close()
    db = sqlite3.connect(state)
    assert db.execute("SELECT run_id FROM runs ORDER BY run_id").fetchall() == [("after",), ("before",)]
    db.close()
