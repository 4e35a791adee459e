"""Shared breaker and budget in PostgreSQL, on the table ``backstop run`` uses.

>>> from backstop import retry
>>> from backstop.postgres import PostgresStateStore
>>> store = PostgresStateStore("postgresql://worker@db.internal/pipelines")  # doctest: +SKIP
>>> @retry(policy=policy, shared_state=store, dependency="feature-store")  # doctest: +SKIP
... def read_features(): ...

With ``recorder=PostgresRecorder(...)`` the retry helpers also record each
call as a run with its attempts, so ``backstop stats --state postgresql://...``
counts them.

Every Python, Go and Node worker and every ``backstop run --state
postgresql://... --step feature-store`` pointed at the same database shares
one circuit breaker and one retry budget for ``feature-store``: the row
``backstop.shared_state`` keyed by that name (the CLI's ``--step``).

Needs psycopg 3 (``pip install 'backstop-policy[postgres]'``); ``import
backstop`` alone never imports it.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from contextlib import contextmanager
from importlib import resources
from typing import Any, Callable, Iterator, Optional, TypeVar

try:
    import psycopg
    from psycopg import conninfo as _conninfo
    from psycopg import errors as _pg_errors
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("backstop.postgres needs psycopg 3: pip install 'backstop-policy[postgres]'") from exc

from ._planner import SharedState
from ._recording import (INSERT_ATTEMPT, LABEL_RUN, UPSERT_RUN, RecordedRun, RecorderError, attempt_params,
                         check_pipeline, run_params)

__all__ = ["PostgresRecorder", "PostgresStateStore", "StateStoreError", "SCHEMA_VERSION"]

T = TypeVar("T")

#: The schema version this store understands (the CLI's; PostgreSQL starts at 3).
SCHEMA_VERSION = 3
#: The PostgreSQL schema (namespace) holding Backstop's tables, as the CLI's.
SCHEMA = "backstop"
#: The CLI's transaction-scoped advisory lock for creating the schema ("backstop").
_MIGRATION_LOCK = 0x6261_636B_7374_6F70
#: The CLI's limit on a step name, in bytes of UTF-8.
_MAX_KEY_BYTES = 256

_SELECT = "SELECT state FROM backstop.shared_state WHERE step = %s FOR UPDATE"
# A row lock needs a row: two workers creating a step's first state must not
# both read "none" and overwrite each other (the CLI does the same).
_INSERT_FRESH = ("INSERT INTO backstop.shared_state (step, state, updated_at_ms) VALUES (%s, %s, 0) "
                 "ON CONFLICT (step) DO NOTHING")
_SAVE = ("UPDATE backstop.shared_state SET state = %s, "
         "updated_at_ms = (extract(epoch FROM clock_timestamp()) * 1000)::bigint WHERE step = %s")
_INSPECT = ("SELECT (SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'backstop'), "
            "to_regclass('backstop.schema_version')::text, to_regclass('backstop.shared_state')::text")


class StateStoreError(RuntimeError):
    """The shared state could not be read or written: the database is down or
    refused, the schema is not one this version understands, or a stored
    state is not valid. A retry loop using the store ends with this error
    (chained to the attempt's error when one had failed) instead of running
    without the breaker. Never carries the connection string's password."""


def encode_state(state: SharedState) -> str:
    """``state`` exactly as the CLI stores it (serde_json's compact form)."""
    return json.dumps(state.to_dict(), separators=(",", ":"), ensure_ascii=False)


def decode_state(text: str) -> SharedState:
    """A stored state; raises ``ValueError`` / ``TypeError`` when it is not one."""
    return SharedState.from_dict(json.loads(text))


_FRESH_JSON = encode_state(SharedState())


def check_key(key: object) -> str:
    """The CLI's rule for a step name, so every key a library stores is one
    ``backstop run --step`` can name: not blank, at most 256 bytes of UTF-8,
    no control characters."""
    if not isinstance(key, str):
        raise TypeError(f"the dependency must be a str, not {type(key).__name__}")
    if not key.strip():
        raise ValueError("the dependency name is blank; give a non-empty name (the CLI's --step)")
    size = len(key.encode("utf-8"))
    if size > _MAX_KEY_BYTES:
        raise ValueError(f"the dependency name is {size} bytes; the limit is {_MAX_KEY_BYTES} bytes")
    for ch in key:
        if unicodedata.category(ch) == "Cc":
            raise ValueError(f"the dependency name contains the control character U+{ord(ch):04X}; "
                             "use printable characters")
    return key


class PostgresStateStore:
    """A :class:`backstop.SharedStateStore` in PostgreSQL, on the CLI's table
    ``backstop.shared_state`` (one row per dependency; the key is the CLI's
    ``--step``).

    Give either a connection string (``postgresql://user:pass@host/db`` or
    ``host=... dbname=...``; the store keeps one connection, reconnecting
    after a failure, and serialises its own threads on it) or ``pool``, a
    ``psycopg_pool.ConnectionPool`` (or anything whose ``connection()`` is a
    context manager giving a psycopg connection) for concurrent threads.

    Each :meth:`update` is one transaction: lock the row (``SELECT ... FOR
    UPDATE``), apply ``fn``, write, commit; concurrent workers on any machine
    never lose one another's outcomes. A row locked for longer than
    ``lock_timeout`` seconds fails the update. On first use the store checks
    the schema: it creates the CLI's schema (version 3) when the database has
    none, under the CLI's advisory lock, and refuses a newer version or a
    ``backstop`` schema that is not Backstop's.
    """

    def __init__(self, conninfo: Optional[str] = None, *, pool: Any = None,
                 lock_timeout: float = 5.0, connect_timeout: float = 10.0) -> None:
        if (conninfo is None) == (pool is None):
            raise TypeError("PostgresStateStore needs a connection string or pool=, not both")
        if conninfo is not None and not isinstance(conninfo, str):
            raise TypeError(f"the connection string must be a str, not {type(conninfo).__name__}")
        if pool is not None and not callable(getattr(pool, "connection", None)):
            raise TypeError("pool must have a connection() context manager (psycopg_pool.ConnectionPool)")
        for name, value in (("lock_timeout", lock_timeout), ("connect_timeout", connect_timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        self._conninfo = conninfo
        self._pool = pool
        self._lock_timeout_ms = max(1, round(lock_timeout * 1000))
        self._connect_timeout = max(1, round(connect_timeout))
        self._lock = threading.Lock()
        self._conn: Optional[psycopg.Connection[Any]] = None
        self._schema_checked = False
        self._target = _describe(conninfo) if conninfo is not None else f"pool {type(pool).__name__}"
        self._secrets = _secrets(conninfo) if conninfo is not None else []

    def update(self, key: str, fn: Callable[[SharedState], tuple[SharedState, T]]) -> T:
        """Apply ``fn`` to ``key``'s state atomically (see :class:`backstop.SharedStateStore`).
        An exception from ``fn`` rolls back and propagates unchanged."""
        check_key(key)
        with self._connection() as conn:
            try:
                self._check_schema(conn)
                with conn.transaction():
                    conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{self._lock_timeout_ms}ms",))
                    row = conn.execute(_SELECT, (key,)).fetchone()
                    if row is None:
                        conn.execute(_INSERT_FRESH, (key, _FRESH_JSON))
                        row = conn.execute(_SELECT, (key,)).fetchone()
                    try:
                        current = decode_state(row[0])
                    except (ValueError, TypeError) as exc:
                        raise StateStoreError(f"backstop: the shared state of {key!r} in PostgreSQL "
                                              f"({self._target}) is not valid: {exc}") from None
                    state, result = fn(current)
                    if not isinstance(state, SharedState):
                        raise TypeError(f"update() needs a SharedState, not {type(state).__name__}")
                    conn.execute(_SAVE, (encode_state(state), key))
            except psycopg.Error as exc:
                raise self._error(exc, f"updating the shared state of {key!r}") from None
        return result

    def get(self, key: str = "default") -> SharedState:
        """The stored state for ``key`` (fresh if there is none), without locking it."""
        check_key(key)
        with self._connection() as conn:
            try:
                self._check_schema(conn)
                with conn.transaction():
                    row = conn.execute("SELECT state FROM backstop.shared_state WHERE step = %s",
                                       (key,)).fetchone()
            except psycopg.Error as exc:
                raise self._error(exc, f"reading the shared state of {key!r}") from None
        if row is None:
            return SharedState()
        try:
            return decode_state(row[0])
        except (ValueError, TypeError) as exc:
            raise StateStoreError(f"backstop: the shared state of {key!r} in PostgreSQL "
                                  f"({self._target}) is not valid: {exc}") from None

    def set(self, key: str, state: SharedState) -> None:
        """Replace ``key``'s state (e.g. to reset a breaker by hand)."""
        if not isinstance(state, SharedState):
            raise TypeError(f"set() needs a SharedState, not {type(state).__name__}")
        self.update(key, lambda _current: (state, None))

    def close(self) -> None:
        """Close the store's own connection (a pool is the caller's to close)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> "PostgresStateStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PostgresStateStore {self._target}>"

    @contextmanager
    def _connection(self) -> Iterator["psycopg.Connection[Any]"]:
        if self._pool is not None:
            try:
                with self._pool.connection() as conn:
                    yield conn
            except psycopg.Error as exc:
                raise self._error(exc, "connecting") from None
            return
        with self._lock:
            conn = self._conn
            if conn is None or conn.closed or conn.broken:
                # After a failure (server restart, network) connect afresh; the
                # update that failed is reported, never replayed.
                try:
                    assert self._conninfo is not None
                    conn = self._conn = psycopg.connect(
                        self._conninfo, autocommit=True, connect_timeout=self._connect_timeout,
                        application_name="backstop-python")
                except psycopg.Error as exc:
                    raise self._error(exc, "connecting") from None
            yield conn

    def _check_schema(self, conn: "psycopg.Connection[Any]") -> None:
        if self._schema_checked:
            return
        # In a transaction block even to read, so a pool's connection (not in
        # autocommit mode) is left with no transaction open.
        with conn.transaction():
            found = _inspect(conn)
            if found == "missing":
                # The CLI's lock: workers and CLIs opening a new database at
                # once create the schema exactly once.
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                found = _inspect(conn)
                if found == "missing":
                    conn.execute(_create_sql())
                    found = SCHEMA_VERSION
        if found == "foreign":
            raise StateStoreError(
                f"backstop: PostgreSQL ({self._target}) has a schema {SCHEMA!r} that is not Backstop's "
                "(tables but no schema_version, or no shared_state); use another database")
        if isinstance(found, int) and found > SCHEMA_VERSION:
            raise StateStoreError(
                f"backstop: PostgreSQL ({self._target}) holds Backstop schema version {found}, newer than "
                f"version {SCHEMA_VERSION} that this backstop-policy understands; upgrade backstop-policy")
        self._schema_checked = True

    def _error(self, exc: BaseException, doing: str) -> StateStoreError:
        message = _scrub(str(exc).strip(), self._secrets)
        if isinstance(exc, _pg_errors.LockNotAvailable):
            return StateStoreError(f"backstop: {doing} in PostgreSQL ({self._target}): the row stayed locked "
                                   f"by another transaction for longer than the lock timeout "
                                   f"({self._lock_timeout_ms} ms)")
        if isinstance(exc, psycopg.OperationalError):
            return StateStoreError(f"backstop: {doing} in PostgreSQL ({self._target}): the database is "
                                   f"unavailable: {message}")
        return StateStoreError(f"backstop: {doing} in PostgreSQL ({self._target}) failed: "
                               f"{type(exc).__name__}: {message}")


def _inspect(conn: "psycopg.Connection[Any]") -> Any:
    """'missing', 'foreign' or the schema version."""
    tables, version_table, shared_table = conn.execute(_INSPECT).fetchone()  # type: ignore[misc]
    if version_table is None:
        return "foreign" if tables else "missing"
    version = conn.execute("SELECT max(version) FROM backstop.schema_version").fetchone()[0]  # type: ignore[index]
    if version is None or shared_table is None:
        return "foreign"
    return int(version)


_CREATE_SQL: Optional[str] = None


def _create_sql() -> str:
    """The CLI's version-3 schema (a byte-for-byte copy of its DDL, checked by
    the tests) and the version row."""
    global _CREATE_SQL
    if _CREATE_SQL is None:
        ddl = resources.files("backstop").joinpath("postgres_schema_v3.sql").read_text(encoding="utf-8")
        _CREATE_SQL = (f"CREATE SCHEMA IF NOT EXISTS {SCHEMA};\nSET LOCAL search_path TO {SCHEMA};\n{ddl}\n"
                       f"CREATE TABLE schema_version (version BIGINT NOT NULL);\n"
                       f"INSERT INTO schema_version VALUES ({SCHEMA_VERSION});\n")
    return _CREATE_SQL


def _describe(conninfo: str) -> str:
    """user@host:port/dbname, never the password."""
    try:
        params = _conninfo.conninfo_to_dict(conninfo)
    except psycopg.Error:
        return "an unparseable connection string"
    host = params.get("host") or "localhost"
    where = f"{host}:{params['port']}" if params.get("port") else str(host)
    user = f"{params['user']}@" if params.get("user") else ""
    return f"{user}{where}/{params.get('dbname') or ''}"


def _secrets(conninfo: str) -> list[str]:
    secrets = [conninfo]
    try:
        password = _conninfo.conninfo_to_dict(conninfo).get("password")
    except psycopg.Error:
        password = None
    if password and len(str(password)) >= 3:  # shorter: scrubbing would mangle every message
        secrets.append(str(password))
    return secrets


_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def _scrub(message: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            message = message.replace(secret, "[redacted]")
    message = _URL_PASSWORD.sub(r"\1[redacted]@", message)
    return _KV_PASSWORD.sub(r"\1[redacted]", message)


#: The CLI's run_pipelines table, additive on PostgreSQL (no new version), as
#: the CLI creates it on open; a database a library made has only version 3's.
_RUN_PIPELINES = """
CREATE TABLE IF NOT EXISTS backstop.run_pipelines (
    run_id   TEXT NOT NULL,
    step     TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    PRIMARY KEY (run_id, step)
)
"""


class PostgresRecorder:
    """Record retry calls (``recorder=``) into the CLI's PostgreSQL tables
    ``backstop.runs``, ``backstop.attempts`` and ``backstop.run_pipelines``,
    so ``backstop stats --state postgresql://...`` counts them.

    Give a connection string or ``pool`` as for :class:`PostgresStateStore`,
    or ``store=`` an existing store to share its connection. ``pipeline``
    labels every run (the CLI's ``--pipeline``). Each run is one
    transaction. The schema is checked, and created when missing, as the
    store does; ``run_pipelines`` is created if missing (as the CLI does).
    Errors are :class:`~backstop.RecorderError`; the retry helpers log them
    and never raise them.
    """

    def __init__(self, conninfo: Optional[str] = None, *, pool: Any = None,
                 store: Optional[PostgresStateStore] = None, pipeline: Optional[str] = None,
                 lock_timeout: float = 5.0, connect_timeout: float = 10.0) -> None:
        if store is not None:
            if conninfo is not None or pool is not None:
                raise TypeError("PostgresRecorder needs a connection string, pool= or store=, only one")
            if not isinstance(store, PostgresStateStore):
                raise TypeError(f"store must be a PostgresStateStore, not {type(store).__name__}")
            self._store = store
            self._owned = False
        else:
            self._store = PostgresStateStore(conninfo, pool=pool, lock_timeout=lock_timeout,
                                             connect_timeout=connect_timeout)
            self._owned = True
        self.pipeline = check_pipeline(pipeline)
        self._tables_ready = False

    def record(self, run: RecordedRun) -> None:
        """Write ``run`` and its attempts in one transaction."""
        store = self._store
        try:
            with store._connection() as conn:
                try:
                    store._check_schema(conn)
                    if not self._tables_ready:
                        with conn.transaction():
                            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                            conn.execute(_RUN_PIPELINES)
                        self._tables_ready = True
                    with conn.transaction():
                        conn.execute("SELECT set_config('lock_timeout', %s, true)",
                                     (f"{store._lock_timeout_ms}ms",))
                        conn.execute("SET LOCAL search_path TO backstop")
                        row = conn.execute(UPSERT_RUN.format(p="%s"), run_params(run)).fetchone()
                        if row is None:
                            raise RecorderError(f"backstop: not recording run {run.run_id!r} of {run.step!r}: "
                                                "a running `backstop run` holds it")
                        with conn.cursor() as cur:
                            cur.executemany(INSERT_ATTEMPT.format(p="%s"), attempt_params(run, int(row[0])))
                        if self.pipeline is not None:
                            conn.execute(LABEL_RUN.format(p="%s"), (run.run_id, run.step, self.pipeline))
                except psycopg.Error as exc:
                    raise store._error(exc, f"recording run {run.run_id!r} of {run.step!r}") from None
        except StateStoreError as exc:
            raise RecorderError(str(exc)) from None

    def close(self) -> None:
        """Close the connection, unless it is a given store's."""
        if self._owned:
            self._store.close()

    def __enter__(self) -> "PostgresRecorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PostgresRecorder {self._store._target} pipeline={self.pipeline!r}>"
