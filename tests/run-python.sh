#!/usr/bin/env bash
# Python host: install backstop-policy (with its pinned wasmtime) and the pinned
# test tools into python/.venv, then run the tests, conformance vectors included.
# Extra arguments go to pytest. Then the orchestrator adapters' suites, each
# in its own environment (tests/run-orchestrators.sh; BACKSTOP_ORCHESTRATORS=none
# skips them, a space-separated list picks some). Needs python3 (3.9+) with
# venv, and PyPI.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/python"

if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
fi
# A non-editable install: the tests exercise the package as users get it,
# wasm package data included.
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -r requirements-test.txt ".[postgres]"
# The recorder tests read their rows back with the real `backstop stats`.
BACKSTOP_BIN="$("$root/tests/backstop-bin.sh")"
export BACKSTOP_BIN
.venv/bin/python -m pytest -q "$@"
orchestrators="${BACKSTOP_ORCHESTRATORS:-}"
if [ "$orchestrators" != none ]; then
    # shellcheck disable=SC2086 # a space-separated list of suite names
    "$root/tests/run-orchestrators.sh" $orchestrators
fi
