from pathlib import Path

import pytest

#: The repository root (python/tests/ -> python/ -> root).
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
