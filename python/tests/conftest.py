import os
import subprocess
import uuid
from pathlib import Path

import pytest

#: The repository root (python/tests/ -> python/ -> root).
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def pg_url():
    """A PostgreSQL server: BACKSTOP_TEST_PG_URL, or a throwaway cluster
    (tests/postgres/cluster.sh) for the session, shared by every module."""
    url = os.environ.get("BACKSTOP_TEST_PG_URL")
    if url:
        yield url
        return
    out = subprocess.run(["bash", str(REPO / "tests" / "postgres" / "cluster.sh"), "start"],
                         check=True, capture_output=True, text=True).stdout
    env = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines() if line.startswith("export "))
    try:
        yield env["BACKSTOP_TEST_PG_URL"]
    finally:
        subprocess.run(["bash", str(REPO / "tests" / "postgres" / "cluster.sh"), "stop", env["BACKSTOP_TEST_PG_DIR"]],
                       check=False)


@pytest.fixture
def db(pg_url):
    """A new, empty database (as a new deployment's)."""
    import psycopg
    name = f"py_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield pg_url.rsplit("/", 1)[0] + "/" + name
