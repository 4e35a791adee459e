"""Reporting a failure to ``backstop run``.

``backstop run`` gives each attempt a file path in ``BACKSTOP_FAILURE_FILE``. A
step that writes its failure there, in the canonical JSON form every host
shares, is classified on exactly that instead of on what its logs say. The
failure comes from :func:`~backstop.failure_from_exception`, the same mapping
:class:`~backstop.Retrying` classifies with, so a step reports what an
in-process retry loop would have decided on.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
from typing import Any, Callable, Optional

from ._exceptions import failure_from_exception, pushback_from_exception

#: The environment variable ``backstop run`` sets to the attempt's report path.
FAILURE_FILE_ENV = "BACKSTOP_FAILURE_FILE"

#: Message patterns see only the last 64 KiB of a message (the guest's
#: MAX_MESSAGE_BYTES); the rest would only make the report larger.
MAX_MESSAGE_BYTES = 64 * 1024


def _tail(message: str) -> str:
    data = message.encode("utf-8")
    if len(data) <= MAX_MESSAGE_BYTES:
        return message
    # Cut at a character boundary: "ignore" drops a split leading character.
    return data[-MAX_MESSAGE_BYTES:].decode("utf-8", errors="ignore")


def _canonical(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_canonical(v) for v in value]
    return value


def failure_report(exc: BaseException, now: Optional[float] = None) -> dict[str, Any]:
    """The report ``backstop run`` reads for ``exc``: the canonical JSON form of
    :func:`~backstop.failure_from_exception` (absent fields left out), plus
    ``pushback_ms`` from :func:`~backstop.pushback_from_exception` when the
    exception carries a server pushback."""
    failure = failure_from_exception(exc)
    report: dict[str, Any] = {}
    # Every field of Failure, by its (already snake_case) name, so a field added
    # to Failure is reported without a change here.
    for f in dataclasses.fields(failure):
        value = getattr(failure, f.name)
        if value is None or (isinstance(value, (tuple, list)) and not value):
            continue
        report[f.name] = _canonical(value)
    if isinstance(report.get("message"), str):
        report["message"] = _tail(report["message"])
    pushback = pushback_from_exception(exc, now)
    if pushback is not None:
        report["pushback_ms"] = pushback
    return report


def _write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same
    directory and a rename, so a reader never sees half a report."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".backstop-failure-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def report_failure(exc: BaseException, path: Optional[str] = None) -> bool:
    """Write ``exc`` as this attempt's failure report for ``backstop run``.

    ``path`` defaults to ``$BACKSTOP_FAILURE_FILE``; when neither is set (the
    step is not running under ``backstop run``) nothing is written. Returns
    whether a report was written. A report that cannot be written is a warning
    on stderr, never an exception, so reporting cannot hide the failure itself::

        try:
            train()
        except Exception as exc:
            backstop.report_failure(exc)
            raise
    """
    if not isinstance(exc, BaseException):
        raise TypeError(f"expected an exception, not {type(exc).__name__}")
    target = path if path is not None else os.environ.get(FAILURE_FILE_ENV)
    if not target:
        return False
    try:
        text = json.dumps(failure_report(exc), ensure_ascii=False)
        _write_atomically(target, text)
    except Exception as problem:  # noqa: BLE001 - reporting must never raise
        try:
            print(f"backstop: cannot write the failure report {target}: {problem}", file=sys.stderr)
        except Exception:  # noqa: BLE001 - a closed stderr
            pass
        return False
    return True


_MARK = "_backstop_reports_failures"


def install_excepthook() -> None:
    """Report every uncaught exception with :func:`report_failure`, then hand
    it to the previous ``sys.excepthook`` (which prints the traceback as
    usual). Installing it twice installs it once."""
    previous: Callable[..., Any] = sys.excepthook
    if getattr(previous, _MARK, False):
        return

    def hook(exc_type: type, exc: Optional[BaseException], tb: Any) -> None:
        if isinstance(exc, BaseException):
            try:
                report_failure(exc)
            except Exception:  # noqa: BLE001 - the traceback must still print
                pass
        previous(exc_type, exc, tb)

    setattr(hook, _MARK, True)
    sys.excepthook = hook
