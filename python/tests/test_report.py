"""report_failure / install_excepthook: the failure report `backstop run` reads."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import backstop
from backstop import FAILURE_FILE_ENV, failure_report, report_failure


class ClientError(Exception):  # botocore's shape: a response dict
    __module__ = "botocore.exceptions"

    def __init__(self, code: str, status: int) -> None:
        super().__init__(f"An error occurred ({code}) when calling the GetObject operation: slow down")
        self.response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}


class RateLimited(Exception):
    retry_after = 2.5


def raised(exc: BaseException) -> BaseException:
    """`exc` after a raise, with its traceback and context as Python sets them."""
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001
        return caught


def test_the_report_is_the_canonical_json_of_failure_from_exception() -> None:
    try:
        try:
            raise ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
        except ConnectionResetError as cause:
            raise ClientError("SlowDown", 503) from cause
    except ClientError as exc:
        report = failure_report(exc)
        expected = backstop.failure_from_exception(exc)
    assert report["error_types"] == ["botocore.exceptions.ClientError", "ConnectionResetError"]
    assert report["error_types"] == list(expected.error_types)
    assert report["error_code"] == "SlowDown"
    assert report["http_status"] == 503
    assert report["message"].startswith("An error occurred (SlowDown)")
    # Absent fields are left out, not written as null.
    assert "grpc_code" not in report and "exit_code" not in report and "pushback_ms" not in report
    assert json.loads(json.dumps(report)) == report


def test_the_report_carries_server_pushback() -> None:
    assert failure_report(raised(RateLimited("429")))["pushback_ms"] == 2500


def test_a_huge_message_keeps_its_last_64_kib() -> None:
    report = failure_report(RuntimeError("é" * 100_000 + "the end"))
    assert report["message"].endswith("the end")
    assert len(report["message"].encode("utf-8")) <= 64 * 1024


def test_report_failure_writes_the_file_named_by_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "failure.json"
    monkeypatch.setenv(FAILURE_FILE_ENV, str(target))
    assert report_failure(raised(FileNotFoundError(errno.ENOENT, "No such file", "part-0001.parquet")))
    report = json.loads(target.read_text("utf-8"))
    assert report["error_types"] == ["FileNotFoundError"]
    assert report["error_code"] == "ENOENT"
    # Written atomically: no temporary file is left beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["failure.json"]


def test_without_the_variable_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FAILURE_FILE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert report_failure(raised(ValueError("x"))) is False
    assert list(tmp_path.iterdir()) == []


def test_an_explicit_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAILURE_FILE_ENV, str(tmp_path / "from-env.json"))
    assert report_failure(raised(ValueError("x")), path=str(tmp_path / "given.json"))
    assert [p.name for p in tmp_path.iterdir()] == ["given.json"]


def test_an_unwritable_report_warns_and_never_raises(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing-dir" / "failure.json"
    assert report_failure(raised(ValueError("x")), path=str(target)) is False
    err = capsys.readouterr().err
    assert "backstop: cannot write the failure report" in err and str(target) in err


def test_report_failure_needs_an_exception() -> None:
    with pytest.raises(TypeError):
        report_failure("not an exception", path="/dev/null")  # type: ignore[arg-type]


def run_script(source: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(source)], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


def test_the_excepthook_reports_an_uncaught_exception_and_chains_the_previous_hook(tmp_path: Path) -> None:
    target = tmp_path / "failure.json"
    done = run_script(
        """
        import sys
        import backstop

        def previous(t, e, tb):
            print("previous hook saw", t.__name__, file=sys.stderr)
            sys.__excepthook__(t, e, tb)

        sys.excepthook = previous
        backstop.install_excepthook()
        backstop.install_excepthook()  # a second install is a no-op
        try:
            {}["partition=2024-01-01"]
        except KeyError as exc:
            raise RuntimeError("dataset is missing a partition") from exc
        """,
        {FAILURE_FILE_ENV: str(target)},
    )
    assert done.returncode == 1
    assert done.stderr.count("previous hook saw RuntimeError") == 1
    assert "Traceback (most recent call last)" in done.stderr
    report = json.loads(target.read_text("utf-8"))
    assert report["error_types"] == ["RuntimeError", "KeyError"]
    assert report["message"] == "dataset is missing a partition"


def test_the_excepthook_without_the_variable_only_prints(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != FAILURE_FILE_ENV}
    done = subprocess.run(
        [sys.executable, "-c", "import backstop; backstop.install_excepthook(); raise ValueError('boom')"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "ValueError: boom" in done.stderr
    assert list(tmp_path.iterdir()) == []
