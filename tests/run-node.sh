#!/usr/bin/env bash
# Node host: install the pinned dev dependencies (jco, typescript, @types/node)
# from package-lock.json, then run the tests: conformance vectors (classification
# planner and alert sequences), classifyError, the planner API, evaluateAlerts, retry() on a virtual clock,
# errors, trap recovery, the artifact hash check, the transpile drift check (gen/
# must equal a fresh jco transpile of wasm/backstop.wasm) and the type check.
# Extra arguments go to `node --test`. Needs Node 20+ with npm, and the npm registry.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/node"

major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
    echo "run-node.sh: Node 20 or newer is required (found $(node --version))" >&2
    exit 1
fi

npm ci --no-audit --no-fund --loglevel=error
# One throwaway PostgreSQL for the PostgresStore and recorder tests, and the
# real `backstop stats` for the recorder's rows.
if [ -z "${BACKSTOP_TEST_PG_URL:-}" ]; then
    eval "$("$root/tests/postgres/cluster.sh" start)"
    trap '"$root/tests/postgres/cluster.sh" stop "$BACKSTOP_TEST_PG_DIR"' EXIT
fi
BACKSTOP_BIN="$("$root/tests/backstop-bin.sh")"
export BACKSTOP_BIN
if [ "$#" -gt 0 ]; then
    node --test "$@"
else
    npm test
fi
