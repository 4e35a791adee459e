"""An Airflow home in a temporary directory, migrated on SQLite, with the
test DAGs and the example in its DAGs folder. The environment is set before
Airflow is imported (it reads its configuration at import)."""

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
HOME = Path(tempfile.mkdtemp(prefix="backstop-airflow-"))
DAGS = HOME / "dags"
DAGS.mkdir()
os.environ.update({
    "AIRFLOW_HOME": str(HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "BACKSTOP_POLICY": str(REPO / "examples" / "orchestrators.toml"),
    "BACKSTOP_ALERT_STATE": str(HOME / "alerts"),
})
shutil.copy(Path(__file__).with_name("backstop_test_dags.py"), DAGS)
shutil.copy(REPO / "examples" / "airflow" / "nightly_dag.py", DAGS)
subprocess.run([str(Path(sys.executable).with_name("airflow")), "db", "migrate"], check=True,
               stdout=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def home() -> Path:
    return HOME


@pytest.fixture(scope="session")
def dags():
    spec = importlib.util.spec_from_file_location("backstop_test_dags", DAGS / "backstop_test_dags.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(HOME, ignore_errors=True)
