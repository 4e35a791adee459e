#!/usr/bin/env bash
# The orchestrator adapters' suites (python/orchestrators/<name>/), each in its
# own virtual environment: the orchestrators pin conflicting dependencies.
#
#   tests/run-orchestrators.sh            # every suite
#   tests/run-orchestrators.sh airflow    # some
#
# A suite's environment is python/orchestrators/<name>/requirements.txt (every
# package pinned) plus the pinned test tools; it is created under
# $BACKSTOP_ORCH_VENVS (default python/.orch-venvs/) and reused while those
# files and the Python version are unchanged, so run-python.sh and a later
# call in the same CI job share it. backstop-policy itself is reinstalled
# (non-editable, without dependencies) every time. The environments are
# built by uv (pinned, installed by pip into $BACKSTOP_ORCH_VENVS/.tools):
# measured here, a cold Prefect environment took 18 s with uv against 318 s
# with pip. Needs python3 and PyPI.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/python"
python="${PYTHON:-python3}"
venvs="${BACKSTOP_ORCH_VENVS:-$root/python/.orch-venvs}"
mkdir -p "$venvs"
tools="$venvs/.tools"
if [ ! -x "$tools/bin/uv" ]; then
    rm -rf "$tools"
    "$python" -m venv "$tools"
    "$tools/bin/python" -m pip install --quiet --disable-pip-version-check uv==0.13.8
fi
uv="$tools/bin/uv"
export UV_CACHE_DIR="${UV_CACHE_DIR:-$venvs/.uv-cache}"

if [ "$#" -gt 0 ]; then
    names=("$@")
else
    names=()
    for req in orchestrators/*/requirements.txt; do
        names+=("$(basename "$(dirname "$req")")")
    done
fi

for name in "${names[@]}"; do
    suite="orchestrators/$name"
    if [ ! -f "$suite/requirements.txt" ]; then
        echo "run-orchestrators: no suite $suite/requirements.txt" >&2
        exit 2
    fi
    started=$SECONDS
    venv="$venvs/$name"
    stamp="$(cat "$suite/requirements.txt" requirements-test.txt | sha256sum | cut -c1-16)-$("$python" -c 'import sys; print(sys.version.split()[0])')"
    if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.backstop-stamp" 2>/dev/null)" != "$stamp" ]; then
        rm -rf "$venv"
        "$uv" venv --quiet --python "$python" "$venv"
        "$uv" pip install --quiet --python "$venv/bin/python" \
            -r "$suite/requirements.txt" -r requirements-test.txt .
        echo "$stamp" > "$venv/.backstop-stamp"
    else
        "$uv" pip install --quiet --python "$venv/bin/python" --no-deps --reinstall-package backstop-policy .
    fi
    installed=$SECONDS
    # -p no:cacheprovider: nothing written into the source tree.
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "$suite"
    echo "run-orchestrators: $name: environment $((installed - started)) s, tests $((SECONDS - installed)) s"
done
