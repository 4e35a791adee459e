"""A Prefect home in a temporary directory and one prefect_test_harness()
(a temporary SQLite database and API server) for the whole session."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
HOME = Path(tempfile.mkdtemp(prefix="backstop-prefect-"))
os.environ.update({
    "PREFECT_HOME": str(HOME),
    # The ephemeral server is slow to start on a busy 2-core machine.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
    "BACKSTOP_POLICY": str(REPO / "examples" / "orchestrators.toml"),
})


@pytest.fixture(scope="session", autouse=True)
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=300):
        yield


@pytest.fixture(scope="session")
def home() -> Path:
    return HOME


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(HOME, ignore_errors=True)
