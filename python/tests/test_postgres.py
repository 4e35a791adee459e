"""backstop.postgres against a real PostgreSQL (tests/postgres/cluster.sh,
started here unless BACKSTOP_TEST_PG_URL names one): the CLI's JSON byte for
byte, the CLI's schema, atomic read-modify-write under concurrency, the retry
loop on it, and the failures (dead database, foreign or newer schema) with
no password in any message."""

import json
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from backstop import BreakerState, BudgetState, Circuit, GiveUpReason, RetryError, SharedState, load_policy, retry
from backstop.postgres import PostgresStateStore, StateStoreError, decode_state, encode_state

REPO = Path(__file__).resolve().parents[2]
VECTORS = json.loads((REPO / "tests" / "postgres" / "shared-state.json").read_text())["vectors"]


def raw_state(url, key):
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT state FROM backstop.shared_state WHERE step = %s", (key,)).fetchone()
    return None if row is None else row[0]


def canonical(state: SharedState):
    return state.to_dict()


# -- the CLI's JSON ------------------------------------------------------------

@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_shared_state_vectors(vector):
    if vector.get("reject"):
        with pytest.raises((ValueError, TypeError)) as info:
            decode_state(vector["json"])
        if "error_mentions" in vector:
            assert vector["error_mentions"] in str(info.value)
        return
    state = decode_state(vector["json"])
    assert canonical(state) == vector["state"]
    if not vector.get("decode_only"):
        assert encode_state(state) == vector["json"]


def test_the_packaged_schema_is_the_clis(repo):
    from importlib import resources
    shipped = resources.files("backstop").joinpath("postgres_schema_v3.sql").read_text(encoding="utf-8")
    assert shipped == (repo / "tests" / "postgres" / "schema-v3.sql").read_text(encoding="utf-8")


def test_importing_backstop_does_not_import_psycopg():
    code = "import sys, backstop; assert 'psycopg' not in sys.modules, 'psycopg imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- schema --------------------------------------------------------------------

def test_creates_the_clis_schema_in_an_empty_database(db):
    with PostgresStateStore(db) as store:
        assert store.get("extract") == SharedState()
    with psycopg.connect(db) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'backstop'").fetchall()}
        version = conn.execute("SELECT version FROM backstop.schema_version").fetchall()
    assert tables == {"runs", "attempts", "shared_state", "alert_state", "alert_log", "schema_version"}
    assert version == [(3,)]


def test_concurrent_first_opens_create_the_schema_once(db):
    errors = []

    def open_one():
        try:
            with PostgresStateStore(db) as store:
                store.update("s", lambda s: (s, None))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM backstop.schema_version").fetchone() == (1,)


def test_refuses_a_newer_schema_version(db):
    PostgresStateStore(db).get("s")
    with psycopg.connect(db) as conn:
        conn.execute("UPDATE backstop.schema_version SET version = 4")
    with pytest.raises(StateStoreError, match="version 4, newer than version 3.*upgrade backstop-policy"):
        PostgresStateStore(db).update("s", lambda s: (s, None))


def test_refuses_a_foreign_backstop_schema(db):
    with psycopg.connect(db) as conn:
        conn.execute("CREATE SCHEMA backstop; CREATE TABLE backstop.things (id int)")
    with pytest.raises(StateStoreError, match="not Backstop's"):
        PostgresStateStore(db).get("s")
    with psycopg.connect(db) as conn:  # and it created nothing there
        assert conn.execute("SELECT to_regclass('backstop.shared_state')").fetchone() == (None,)


# -- read-modify-write -----------------------------------------------------------

def bump(state: SharedState):
    spent = state.budget.spent_milli + 1
    return SharedState(state.breaker, BudgetState(spent)), spent


def test_concurrent_updates_lose_nothing(db):
    workers, each = 8, 25
    seen = []
    lock = threading.Lock()

    def work():
        with PostgresStateStore(db) as store:  # its own connection, as another process's
            for _ in range(each):
                value = store.update("hot", bump)
                with lock:
                    seen.append(value)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert PostgresStateStore(db).get("hot").budget.spent_milli == workers * each
    # Every update saw a distinct predecessor: none read a stale state.
    assert sorted(seen) == list(range(1, workers * each + 1))


def test_one_store_shared_by_threads_loses_nothing(db):
    store = PostgresStateStore(db)
    threads = [threading.Thread(target=lambda: [store.update("k", bump) for _ in range(20)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("k").budget.spent_milli == 80


class OneConnectionPerCall:
    """The part of psycopg_pool.ConnectionPool the store uses: connections
    not in autocommit mode, committed when the block ends."""

    def __init__(self, url):
        self.url = url

    @contextmanager
    def connection(self):
        with psycopg.connect(self.url) as conn:
            yield conn


def test_a_pool_shared_by_threads_loses_nothing(db):
    store = PostgresStateStore(pool=OneConnectionPerCall(db))
    threads = [threading.Thread(target=lambda: [store.update("k", bump) for _ in range(20)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("k").budget.spent_milli == 80
    with psycopg.connect(db) as conn:  # and the schema was created in a committed transaction
        assert conn.execute("SELECT version FROM backstop.schema_version").fetchall() == [(3,)]


def test_writes_the_clis_json_and_reads_what_the_cli_wrote(db):
    store = PostgresStateStore(db)
    state = SharedState(BreakerState(Circuit.OPEN, 5, 31, 5, 1767225600000, 0, 0), BudgetState(4000))
    store.set("train", state)
    vector = next(v for v in VECTORS if v["name"].startswith("open since"))
    assert raw_state(db, "train") == vector["json"]
    with psycopg.connect(db) as conn:  # as `backstop run` writes it
        conn.execute("UPDATE backstop.shared_state SET state = %s WHERE step = 'train'", (VECTORS[0]["json"],))
    assert store.get("train") == SharedState()


def test_an_error_in_fn_rolls_back_and_propagates(db):
    store = PostgresStateStore(db)
    store.update("k", bump)

    def boom(_state):
        raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        store.update("k", boom)
    assert store.get("k").budget.spent_milli == 1
    assert store.update("k", bump) == 2  # the connection is usable again


def test_a_row_locked_past_the_lock_timeout_fails_the_update(db):
    store = PostgresStateStore(db, lock_timeout=0.2)
    store.update("k", bump)
    with psycopg.connect(db) as holder:  # a stalled worker holding the row
        holder.execute("SELECT state FROM backstop.shared_state WHERE step = 'k' FOR UPDATE")
        with pytest.raises(StateStoreError, match="stayed locked.*200 ms"):
            store.update("k", bump)
    assert store.update("k", bump) == 2  # released: nothing was written meanwhile


def test_a_stored_state_that_is_not_valid_is_named(db):
    store = PostgresStateStore(db)
    store.update("k", bump)
    with psycopg.connect(db) as conn:
        conn.execute("UPDATE backstop.shared_state SET state = '{\"breaker\":{\"circuit\":\"ajar\"}}'")
    with pytest.raises(StateStoreError, match=r"shared state of 'k'.*not valid.*ajar"):
        store.update("k", bump)


@pytest.mark.parametrize("key,message", [("", "blank"), ("  ", "blank"), ("a\nb", r"U\+000A"),
                                         ("é" * 129, "258 bytes")])
def test_keys_follow_the_clis_step_rule(db, key, message):
    with pytest.raises(ValueError, match=message):
        PostgresStateStore(db).update(key, bump)


# -- the retry loop on it --------------------------------------------------------

POLICY = ('[retry]\nmax_attempts = 10\njitter = "none"\nbase_delay = "1ms"\n'
          '[retry.circuit_breaker]\nconsecutive_failures = 3\nopen_for = "60s"\n')


class Unavailable(Exception):
    status_code = 503


def test_the_breaker_trips_for_every_store_on_the_database(db):
    policy = load_policy(POLICY)
    calls = []

    @retry(policy, shared_state=PostgresStateStore(db), dependency="feature-store", sleep=lambda s: None)
    def worker_a():
        calls.append("a")
        raise Unavailable()

    with pytest.raises(RetryError) as info:
        worker_a()
    assert info.value.reason is GiveUpReason.CIRCUIT_OPEN
    assert calls == ["a"] * 3
    assert json.loads(raw_state(db, "feature-store"))["breaker"]["circuit"] == "open"

    # Another worker (its own store and connection, as on another machine) is refused at once.
    @retry(load_policy(POLICY), shared_state=PostgresStateStore(db), dependency="feature-store")
    def worker_b():
        calls.append("b")

    with pytest.raises(RetryError) as info:
        worker_b()
    assert info.value.reason is GiveUpReason.CIRCUIT_OPEN and info.value.attempts == 0
    assert "b" not in calls


# -- failures ----------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_no_secret(exc: BaseException, secret: str):
    texts = [str(exc), repr(exc)]
    cause = exc
    while cause is not None:
        texts += [str(cause), repr(cause)]
        cause = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
    for text in texts:
        assert secret not in text, text


def test_a_dead_database_is_a_clear_error_without_the_password():
    url = f"postgresql://worker:hunter2-s3cret@127.0.0.1:{free_port()}/pipelines"
    store = PostgresStateStore(url, connect_timeout=2)
    with pytest.raises(StateStoreError, match=r"worker@127\.0\.0\.1:\d+/pipelines.*unavailable") as info:
        store.update("k", bump)
    assert_no_secret(info.value, "hunter2-s3cret")


def test_the_loop_ends_with_the_store_error_and_runs_nothing():
    url = f"postgresql://worker:hunter2-s3cret@127.0.0.1:{free_port()}/pipelines"
    ran = []

    @retry(load_policy(POLICY), shared_state=PostgresStateStore(url, connect_timeout=2), dependency="d")
    def work():
        ran.append(1)

    with pytest.raises(StateStoreError) as info:
        work()
    assert ran == []
    assert_no_secret(info.value, "hunter2-s3cret")


@pytest.mark.parametrize("conninfo", ["postgresql://worker:hunter2-s3cret@127.0.0.1:notaport/db",
                                      "host=127.0.0.1 password=hunter2-s3cret port=notaport"])
def test_a_malformed_connection_string_does_not_leak_its_password(conninfo):
    with pytest.raises(StateStoreError) as info:
        PostgresStateStore(conninfo, connect_timeout=2).get("k")
    assert_no_secret(info.value, "hunter2-s3cret")


def test_a_restarted_connection_is_replaced(db):
    store = PostgresStateStore(db)
    store.update("k", bump)
    with psycopg.connect(db, autocommit=True) as admin:  # as a server restart does to the session
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'backstop-python' AND datname = current_database()")
    with pytest.raises(StateStoreError, match="unavailable|failed"):
        store.update("k", bump)  # the failed update is reported, not replayed
    assert store.update("k", bump) == 2
