#!/usr/bin/env bash
# The orchestrator adapters' suites (python/orchestrators/<name>/), each
# against the real orchestrator in its own virtual environment:
# python/.orch-venvs/<name>, created on first use from the suite's fully
# pinned requirements.txt and reused by later runs in the same checkout (a
# fresh CI clone builds them once). Usage: tests/run-orchestrators.sh
# [name...] (default: every suite). Extra pytest arguments: PYTEST_ARGS.
# Called by tests/run-python.sh. Needs python3 (3.9+) with venv, and PyPI.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/python"

suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then
    suites=()
    for dir in orchestrators/*/; do
        suites+=("$(basename "$dir")")
    done
fi

# backstop-policy is built once per invocation and installed into each venv.
wheel_dir="$(mktemp -d)"
trap 'rm -rf "$wheel_dir"' EXIT

run_suite() {
    local name="$1" venv=".orch-venvs/$1"
    if [ ! -f "orchestrators/$name/requirements.txt" ]; then
        echo "no suite python/orchestrators/$name" >&2
        return 2
    fi
    if [ ! -x "$venv/bin/python" ]; then
        "${PYTHON:-python3}" -m venv "$venv" || return 1
    fi
    local pip=("$venv/bin/python" -m pip --disable-pip-version-check)
    # The package as users get it (a wheel, wasm included), with its pinned
    # dependencies; then reinstalled alone, because its version does not
    # change when its code does and pip would keep an older build.
    if ! compgen -G "$wheel_dir/*.whl" > /dev/null; then
        "${pip[@]}" wheel --quiet --no-deps -w "$wheel_dir" . || return 1
    fi
    local wheel=("$wheel_dir"/*.whl)
    "${pip[@]}" install --quiet -r requirements-test.txt \
        -r "orchestrators/$name/requirements.txt" "${wheel[0]}" || return 1
    "${pip[@]}" install --quiet --no-deps --force-reinstall "${wheel[0]}" || return 1
    # The suite's own executables (Temporal's dev server CLI, airflow) come first.
    PATH="$root/python/$venv/bin:$PATH" "$venv/bin/python" -m pytest -q -p no:cacheprovider \
        ${PYTEST_ARGS:-} "orchestrators/$name"
}

failed=()
for name in "${suites[@]}"; do
    echo "--- orchestrator suite: $name ---"
    start=$SECONDS
    if ! run_suite "$name"; then
        failed+=("$name")
    fi
    echo "--- $name: $((SECONDS - start)) s ---"
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "orchestrator suites failed: ${failed[*]}"
    exit 1
fi
