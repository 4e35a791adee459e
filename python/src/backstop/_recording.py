"""Recording retry loops into the state store ``backstop stats`` reads.

A recorder given to :func:`retry` / :class:`Retrying` (``recorder=``) gets
each call, once it ends, as one :class:`RecordedRun`: a round of a run id +
step with its attempts, the rows ``backstop run`` writes for a command.
:class:`SqliteRecorder` writes them into the CLI's SQLite state file
(``backstop stats --state FILE``); ``backstop.postgres.PostgresRecorder``
into its PostgreSQL database. Recording never changes a call's result: a
recorder's error is logged (logger ``backstop``, level WARNING) and the call
returns or raises as it would have without one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import sqlite3
import threading
from importlib import resources
from pathlib import Path
from typing import Any, Optional, Protocol, Sequence, Union

__all__ = ["Recorder", "RecordedAttempt", "RecordedRun", "RecorderError", "SqliteRecorder",
           "SQLITE_SCHEMA_VERSION"]

logger = logging.getLogger("backstop")

#: The CLI's SQLite schema version the recorder writes (``PRAGMA user_version``).
SQLITE_SCHEMA_VERSION = 6


class RecorderError(RuntimeError):
    """A run could not be recorded (the store is unreachable, locked, damaged,
    or holds a schema this version does not write). The retry helpers never
    raise it: they log it and return the call's own result."""


@dataclasses.dataclass(frozen=True)
class RecordedAttempt:
    """One attempt, as a row of the CLI's ``attempts`` table."""

    attempt: int
    """1-based, as the planner counts."""
    started_at_ms: int
    ended_at_ms: Optional[int]
    delay_before_ms: int
    """The wait before it (0 for the first)."""
    timeout_ms: Optional[int]
    decision: str
    """``succeeded``, ``retry``, ``give-up`` or ``interrupted`` (the caller stopped it)."""
    timed_out: bool = False
    failure_class: Optional[str] = None
    """The classification (``transient``, ``permanent``, ``unknown``) of a failure."""
    rule: Optional[str] = None
    give_up_reason: Optional[str] = None
    delay_after_ms: Optional[int] = None
    """The wait the planner chose after it, when it decided to retry."""
    explanation: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class RecordedRun:
    """One call of a retry helper: a round of ``run_id`` + ``step``, as the
    CLI's ``runs`` row and its attempts."""

    run_id: str
    step: str
    status: str
    """``succeeded``, ``failed`` (gave up) or ``running`` (the caller stopped it)."""
    outcome: Optional[str]
    """``succeeded`` or the give-up reason; ``None`` while ``running``."""
    retry_state: str
    """The planner's last retry state, in the CLI's JSON."""
    started_at_ms: int
    ended_at_ms: int
    attempts: Sequence[RecordedAttempt] = ()
    host: str = ""
    """The machine (``socket.gethostname()``)."""


class Recorder(Protocol):
    """Where a retry helper records its calls. ``record`` is called once per
    call, after it ended, in the calling thread; an exception it raises is
    logged, never propagated."""

    def record(self, run: RecordedRun) -> None: ...


def hostname() -> str:
    try:
        return socket.gethostname() or "unknown"
    except OSError:  # pragma: no cover - gethostname does not fail on Linux
        return "unknown"


# -- the rows, shared by the SQLite and PostgreSQL recorders ------------------

#: The run's row: a new run id + step is round 1; an existing one (the same
#: run id given again) starts its next round, as ``backstop run`` does for a
#: run that ended, unless a live ``backstop run`` holds its lease (then no row
#: comes back and nothing is written).
UPSERT_RUN = """
INSERT INTO runs (run_id, step, round, status, retry_state, outcome, exit_status,
                  created_at_ms, updated_at_ms, finished_at_ms)
VALUES ({p}, {p}, 1, {p}, {p}, {p}, NULL, {p}, {p}, {p})
ON CONFLICT (run_id, step) DO UPDATE SET
    round = runs.round + 1, status = excluded.status, retry_state = excluded.retry_state,
    outcome = excluded.outcome, exit_status = NULL, updated_at_ms = excluded.updated_at_ms,
    finished_at_ms = excluded.finished_at_ms, lease_owner = NULL, lease_expires_at_ms = NULL
WHERE runs.lease_owner IS NULL OR runs.lease_expires_at_ms IS NULL
   OR runs.lease_expires_at_ms <= excluded.updated_at_ms
RETURNING round
"""

INSERT_ATTEMPT = """
INSERT INTO attempts (run_id, step, round, attempt, host, started_at_ms, ended_at_ms,
                      delay_before_ms, timeout_ms, timed_out, class, rule, decision,
                      give_up_reason, delay_after_ms, explanation)
VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})
"""

LABEL_RUN = """
INSERT INTO run_pipelines (run_id, step, pipeline) VALUES ({p}, {p}, {p})
ON CONFLICT (run_id, step) DO UPDATE SET pipeline = excluded.pipeline
"""


def run_params(run: RecordedRun) -> tuple[Any, ...]:
    ended = None if run.status == "running" else run.ended_at_ms
    return (run.run_id, run.step, run.status, run.retry_state, run.outcome,
            run.started_at_ms, run.ended_at_ms, ended)


def attempt_params(run: RecordedRun, round_: int) -> list[tuple[Any, ...]]:
    host = run.host or hostname()
    return [(run.run_id, run.step, round_, a.attempt, host, a.started_at_ms, a.ended_at_ms,
             a.delay_before_ms, a.timeout_ms, int(a.timed_out), a.failure_class, a.rule, a.decision,
             a.give_up_reason, a.delay_after_ms, a.explanation) for a in run.attempts]


def check_pipeline(pipeline: Optional[str]) -> Optional[str]:
    if pipeline is None:
        return None
    if not isinstance(pipeline, str) or not pipeline.strip():
        raise ValueError(f"pipeline must be a non-blank str (the CLI's --pipeline), not {pipeline!r}")
    return pipeline


# -- SQLite ----------------------------------------------------------------------

class SqliteRecorder:
    """Record calls into the CLI's SQLite state file (``backstop run --state
    FILE``, ``backstop stats --state FILE``), with the standard library's
    ``sqlite3``.

    ``pipeline`` labels every run it records (the CLI's ``--pipeline``; ``-``
    in ``backstop stats`` without one). A missing file is created with the
    CLI's schema (built under a temporary name and linked into place, as the
    CLI does, so no reader sees a half-made one); an existing file must hold
    the schema version this package writes (5), or nothing is recorded and a
    warning says why. One connection per recorder, serialised by a lock;
    each run is one ``BEGIN IMMEDIATE`` transaction, waiting up to
    ``busy_timeout`` seconds for another writer.
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"], *, pipeline: Optional[str] = None,
                 busy_timeout: float = 5.0) -> None:
        if isinstance(busy_timeout, bool) or not isinstance(busy_timeout, (int, float)) or not busy_timeout > 0:
            raise ValueError(f"busy_timeout must be a positive number of seconds, not {busy_timeout!r}")
        self.path = Path(path)
        self.pipeline = check_pipeline(pipeline)
        self._busy = float(busy_timeout)
        self._lock = threading.Lock()
        self._conn: Optional[sqlite3.Connection] = None

    def record(self, run: RecordedRun) -> None:
        """Write ``run`` and its attempts in one transaction; raises
        :class:`RecorderError` (the helpers log it)."""
        with self._lock:
            try:
                conn = self._connect()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    row = conn.execute(UPSERT_RUN.format(p="?"), run_params(run)).fetchone()
                    if row is None:
                        conn.execute("ROLLBACK")
                        raise RecorderError(f"backstop: not recording run {run.run_id!r} of {run.step!r} in "
                                            f"{self.path}: a running `backstop run` holds it")
                    conn.executemany(INSERT_ATTEMPT.format(p="?"), attempt_params(run, int(row[0])))
                    if self.pipeline is not None:
                        conn.execute(LABEL_RUN.format(p="?"), (run.run_id, run.step, self.pipeline))
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                self._close()
                raise RecorderError(f"backstop: recording run {run.run_id!r} of {run.step!r} in "
                                    f"{self.path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._close()

    def __enter__(self) -> "SqliteRecorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SqliteRecorder {str(self.path)!r} pipeline={self.pipeline!r}>"

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        if not self.path.exists():
            _create(self.path, self._busy)
        if self.path.stat().st_size == 0:
            raise RecorderError(f"backstop: {self.path} is an empty file, not a Backstop state database")
        conn = sqlite3.connect(str(self.path), timeout=self._busy, isolation_level=None,
                               check_same_thread=False)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != SQLITE_SCHEMA_VERSION:
                tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
                if version == 0 and tables:
                    why = "is not a Backstop state database"
                elif version > SQLITE_SCHEMA_VERSION:
                    why = (f"holds Backstop schema version {version}, newer than {SQLITE_SCHEMA_VERSION}; "
                           "upgrade backstop-policy")
                else:
                    why = (f"holds Backstop schema version {version}; open it once with the backstop CLI "
                           f"(`backstop stats --state {self.path}`) to migrate it to {SQLITE_SCHEMA_VERSION}")
                raise RecorderError(f"backstop: {self.path} {why}")
            conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn


def sqlite_ddl() -> str:
    """The CLI's SQLite migrations 1-6 in order (a copy checked by the tests)."""
    return resources.files("backstop").joinpath("sqlite_schema_v6.sql").read_text(encoding="utf-8")


def _create(path: Path, busy: float) -> None:
    """Build a complete database under a temporary name in the same directory
    and link it into place; if another process won the race, use theirs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        conn = sqlite3.connect(str(tmp), timeout=busy, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(f"BEGIN;\n{sqlite_ddl()}\nPRAGMA user_version = {SQLITE_SCHEMA_VERSION};\nCOMMIT;")
        finally:
            conn.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            try:
                leftover.unlink()
            except FileNotFoundError:
                pass


def encode_retry_state(state: Any) -> str:
    """A retry state exactly as the CLI stores it (serde_json's compact form)."""
    return json.dumps(state.to_dict(), separators=(",", ":"), ensure_ascii=False)
