#!/usr/bin/env bash
# Python host: install backstop-policy (with its pinned wasmtime) and the pinned
# test tools into python/.venv, then run the tests, conformance vectors included,
# then the orchestrator suites (tests/run-orchestrators.sh).
# Extra arguments go to pytest. Needs python3 (3.9+) with venv, and PyPI.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/python"

if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
fi
# A non-editable install: the tests exercise the package as users get it,
# wasm package data included.
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -r requirements-test.txt .
.venv/bin/python -m pytest -q "$@"
# The orchestrator adapters, each against the real orchestrator in its own
# virtual environment (python/.orch-venvs/, reused within a checkout).
bash "$root/tests/run-orchestrators.sh"
